"""
An ensemble of seeds against a single network
=============================================

Networks trained from different random initializations make partly independent
errors, so averaging their predicted class probabilities usually beats the
average member. :func:`fnnlab.fit_many` trains the members together: the same
spec with ``k`` seeds is one stacked model, and each result's
:meth:`~fnnlab.training.FitResult.predict_proba` gives that member's probabilities.

Below, ensembles of the first 1, 2, 4 and 8 members of eight SNNs trained on the
bundled digits data, against the spread of the single members.
"""

import os

import matplotlib.pyplot as plt
import torch

import fnnlab as fl

QUICK = os.environ.get("FNNLAB_DOCS_QUICK") == "1"  # smaller settings for CI builds
parts = fl.data.split(fl.data.load("digits"), seed=0)
k = 8
spec = fl.FNNSpec(in_features=parts.n_features, out_features=parts.n_outputs,
                  depth=4, width=64, method="snn")
results = fl.fit_many([spec] * k, parts.train, valid=parts.valid, seed=list(range(k)),
                      lr=0.05, epochs=8 if QUICK else 20, early_stopping=5)

X, y = parts.test.X, parts.test.y
probs = torch.stack([r.predict_proba(X) for r in results])  # (k, N, classes)
single = [float((p.argmax(1) == y).float().mean()) for p in probs]
sizes = [1, 2, 4, 8]
ensemble = [float((probs[:m].mean(0).argmax(1) == y).float().mean()) for m in sizes]
print("single members:", [round(a, 3) for a in single])
print("ensembles of the first m members:", dict(zip(sizes, [round(a, 3) for a in ensemble],
                                                    strict=True)))

fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
ax.scatter([1] * k, single, color="grey", alpha=0.6, label="single members")
ax.plot(sizes, ensemble, marker="o", label="ensemble (mean probability)")
ax.set(xscale="log", xticks=sizes, xticklabels=[str(m) for m in sizes],
       xlabel="members averaged", ylabel="test accuracy",
       title=f"digits: {k} SNNs of different seeds, trained as one stacked model")
ax.legend()
