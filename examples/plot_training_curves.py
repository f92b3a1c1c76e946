"""
Training curves and the self-normalization check during training
================================================================

:func:`fnnlab.fit` returns a :class:`~fnnlab.training.FitResult` whose ``history``
has one row per epoch (training and validation loss, validation metrics, learning
rate, seconds), and :func:`fnnlab.plots.training_curves` draws it. A
:class:`~fnnlab.diagnostics.SignalCallback` records the per-layer statistics of
:func:`~fnnlab.diagnostics.signal_propagation` every few epochs, so one can watch
whether a self-normalizing network stays near its fixed point while it learns.
"""

import os

import fnnlab as fl
from fnnlab.diagnostics import SignalCallback
from fnnlab.plots import signal_by_depth, training_curves

QUICK = os.environ.get("FNNLAB_DOCS_QUICK") == "1"  # smaller settings for CI builds
parts = fl.data.split(fl.data.load("digits"), seed=0)
spec = fl.FNNSpec(in_features=parts.n_features, out_features=parts.n_outputs,
                  depth=16, width=64, method="snn")
model = fl.build(spec)
probe = SignalCallback(parts.train.X[:256], every=5)
epochs = 10 if QUICK else 25
result = fl.fit(model, parts.train, valid=parts.valid, likelihood="categorical",
                optimizer="sgd", lr=0.05, epochs=epochs, seed=0, callbacks=[probe])
print(result.history.tail(3).round(4).to_string(index=False))
fig = training_curves(result.history, best_epoch=result.best_epoch)

# %%
# The per-layer mean and variance at each probed epoch.
stats = probe.history
fig = signal_by_depth(stats.assign(method="epoch " + stats["epoch"].astype(str)))
