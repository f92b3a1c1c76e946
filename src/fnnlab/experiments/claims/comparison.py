"""Claim 15: the SNN paper's method comparison (Klambauer et al. 2017, Tables 1 and 2),
re-run with :func:`fnnlab.bench.compare` on scikit-learn's bundled data sets.
"""

from __future__ import annotations

from fnnlab.experiments.claims.claim import Outcome, below, claim

_FNN = ("snn", "msra", "layernorm", "highway", "resnet", "weightnorm", "batchnorm")
_ML = ("svm", "rf")


@claim(
    15,
    "The FNN and ML method comparisons: SNN ranks first",
    "FNN method comparison (avg. rank diff., p-value): SNN −0.756; MSRAinit −0.240* "
    "(2.7e-02); LayerNorm −0.198* (1.5e-02); Highway 0.021* (1.9e-03); ResNet 0.273* "
    "(5.4e-04); WeightNorm 0.397* (7.8e-07); BatchNorm 0.504* (3.5e-06). ML method "
    "comparison: SNN −6.7; SVM −6.4 (5.8e-01); RandomForest −5.9 (2.1e-01); … (121 UCI "
    "data sets).",
    "001_3b6e40b80fa3dc00.txt",
)
def method_comparison(quick: bool, seed: int) -> Outcome:
    from fnnlab.bench import compare
    from fnnlab.bench.stats import avg_rank_diff
    from fnnlab.plots.comparison import accuracy_heatmap, critical_difference_diagram

    if quick:
        datasets = ["iris", "wine", "breast_cancer"]
        grid = {"fnn": {"depth": [2], "width": [64], "lr": [0.1], "epochs": [10],
                        "batch_size": [64], "early_stopping": [5]},
                "svm": {"C": [1.0]}, "rf": {"max_features": ["sqrt"]}}
        seeds = [seed]
    else:
        datasets, grid, seeds = "quick", "quick", [seed, seed + 1, seed + 2]
    result = compare(methods=list(_FNN), datasets=datasets, baselines=list(_ML), grid=grid,
                     seeds=seeds, jobs=1 if quick else 2, progress=False, metric="accuracy")
    fnn_diff = avg_rank_diff(result.scores[list(_FNN)])
    others = fnn_diff.drop("snn")
    all_diff = result.table.set_index("method")["avg_rank_diff"]
    checks = [
        below("FNN comparison: SNN's avg. rank diff. minus the best other FNN method's",
              float(fnn_diff["snn"] - others.min()), 0.0, 0.25),
        below("ML comparison: SNN's avg. rank diff. minus the best of SVM and random forest",
              float(all_diff["snn"] - all_diff[list(_ML)].min()), 0.0, 0.25),
    ]
    table = result.table.copy()
    table["FNN-only avg. rank diff."] = table["method"].map(fnn_diff)
    n_data = result.scores.shape[0]
    fig1 = critical_difference_diagram(result.table, result.cd)
    fig2 = accuracy_heatmap(result.scores)
    grid_text = ("a one-point grid (depth 2, width 64, lr 0.1, 10 epochs)" if quick
                 else "the quick grid")
    setup = (
        f"fnnlab.bench.compare with the seven METHODS presets ({', '.join(_FNN)}) and the "
        f"baselines {', '.join(_ML)} on {n_data} bundled data sets "
        f"({', '.join(result.scores.index.astype(str))}), "
        f"{grid_text}, seeds {seeds}: each grid point trained on the training split, chosen on the "
        f"validation split, scored on the test split; ranks per data set, avg. rank diff. "
        f"(mean rank minus the mean over methods; negative is better), Wilcoxon signed-rank "
        f"p-values against the best method. Friedman p = {result.friedman[1]:.3g}."
    )
    notes = (
        f"With {n_data} data sets instead of 121, ranks are coarse and no Wilcoxon p-value "
        f"can fall below about {2 / 2 ** n_data:.2g} (the smallest exact two-sided p with "
        f"{n_data} pairs), so significance is out of reach by design; the checks look at "
        f"the ranking only. The bundled sets are small and easy: most methods tie near "
        f"their ceiling."
    )
    return Outcome(setup=setup, numbers=table, checks=checks, notes=notes, figures=[
        (fig1, "Critical-difference diagram (Nemenyi, α = 0.05): methods joined by a bar are "
               "not significantly different."),
        (fig2, "Test accuracy per method and data set (mean over seeds)."),
    ])
