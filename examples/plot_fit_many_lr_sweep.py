"""
Training eight networks at once: a learning-rate sweep
======================================================

:func:`fnnlab.fit_many` trains many same-shaped networks as one stacked model:
their weights carry a member dimension and every step is a batched matrix
product, so eight small networks cost far less than eight separate ``fit`` calls.
Each member keeps its own learning rate, seed, early stopping and history, and
each result is what ``fit(build(spec), ..., lr=lr, seed=seed)`` would return.

Here eight SNNs on the bundled digits data differ only in their learning rate.
"""

import os
import warnings

import matplotlib.pyplot as plt
import numpy as np

import fnnlab as fl

QUICK = os.environ.get("FNNLAB_DOCS_QUICK") == "1"  # smaller settings for CI builds
parts = fl.data.split(fl.data.load("digits"), seed=0)
rates = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.6, 1.0]
spec = fl.FNNSpec(in_features=parts.n_features, out_features=parts.n_outputs,
                  depth=4, width=64, method="snn")
# A member that diverges warns and keeps its initial weights; its message is printed below.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    results = fl.fit_many([spec] * len(rates), parts.train, valid=parts.valid, lr=rates,
                          seed=0, epochs=8 if QUICK else 20, batch_size=64)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
colors = plt.cm.viridis(np.linspace(0, 0.9, len(rates)))
for lr, result, color in zip(rates, results, colors, strict=True):
    h = result.history
    ax1.plot(h["epoch"], h["valid_loss"], color=color, label=f"lr={lr:g}")
ax1.set(xlabel="epoch", ylabel="validation loss", yscale="log",
        title="Eight SNNs trained as one stacked model")
ax1.legend(fontsize=8, ncol=2)

accuracy = [float((r.predict(parts.test.X) == parts.test.y).float().mean()) for r in results]
ax2.semilogx(rates, accuracy, marker="o")
ax2.set(xlabel="learning rate", ylabel="test accuracy", ylim=(0, 1),
        title="Test accuracy of each member's best epoch")
for lr, result, acc in zip(rates, results, accuracy, strict=True):
    print(f"lr={lr:<6g} stop={result.stop_reason:<15} best_epoch={result.best_epoch:<3} "
          f"test_accuracy={acc:.3f} {result.message}")
