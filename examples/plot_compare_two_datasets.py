"""
Comparing methods on two UCI data sets, with a critical-difference diagram
==========================================================================

:func:`fnnlab.bench.compare` is the SNN paper's method comparison on your own data:
for every data set, method, grid point and seed it trains a network, picks each
method's grid point on the validation split and scores it on the test split, then
ranks the methods per data set (Friedman test, Nemenyi critical difference,
Wilcoxon tests against the best method). Passing ``store="results.sqlite"`` makes a
run resumable; ``fnnlab compare`` on the command line does the same.

This example compares three network presets and two classical baselines on two
small UCI sets when the shared data folder (``../shared/data`` beside the
repository, or ``$FNNLAB_SHARED_DATA``) is there, else on two data sets bundled with
scikit-learn. Two data sets are far too few for a verdict; the point is the workflow.
"""

import os
from pathlib import Path

import fnnlab as fl
from fnnlab.plots import accuracy_heatmap, critical_difference_diagram

QUICK = os.environ.get("FNNLAB_DOCS_QUICK") == "1"  # smaller settings for CI builds
here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
shared = Path(os.environ.get("FNNLAB_SHARED_DATA", here.parent.parent / "shared" / "data"))
uci = [shared / "wine.csv.gz", shared / "conn-bench-sonar-mines-rocks.csv.gz"]
datasets = [str(p) for p in uci] if all(p.exists() for p in uci) else ["wine", "breast_cancer"]
print("data sets:", [Path(d).name for d in datasets])

grid = {"fnn": {"depth": [4], "width": [64], "lr": [0.01, 0.1], "dropout": [0.0],
                "epochs": [15 if QUICK else 20], "batch_size": [32], "early_stopping": [5]}}
result = fl.bench.compare(methods=["snn", "msra", "batchnorm"], datasets=datasets,
                          baselines=["svm", "rf"], grid=grid, seeds=2 if QUICK else 3,
                          jobs=1, progress=False)

# %%
# The comparison table: mean rank over data sets (lower is better), mean accuracy,
# and the Wilcoxon test of each method against the best one.
print(result.table.round(3).to_string(index=False))

# %%
# Test accuracy per data set and method, then Demšar's critical-difference
# diagram: methods joined by a bar are not significantly different at the
# Nemenyi critical difference (which two data sets make very wide).
fig = accuracy_heatmap(result.scores, metric=result.metric)
fig = critical_difference_diagram(result.table, result.cd)
