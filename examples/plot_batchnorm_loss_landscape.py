"""
Batch norm smooths the loss landscape
=====================================

Santurkar et al. (2018) argue that batch normalization helps less by fixing the
distribution of each layer's inputs than by making the loss landscape smoother:
along the gradient direction, the loss changes more predictably and the gradient
itself changes less, so larger steps are safe.

:func:`fnnlab.diagnostics.loss_smoothness` trains a copy of each network by plain
SGD and, every few steps, probes the loss and the gradient at several step sizes
along the current gradient. The same deep ReLU network is trained with and
without batch normalization on the bundled digits data.
"""

import os

import pandas as pd
import torch

import fnnlab as fl
from fnnlab.diagnostics import loss_smoothness
from fnnlab.plots import loss_smoothness as plot_loss_smoothness

QUICK = os.environ.get("FNNLAB_DOCS_QUICK") == "1"  # smaller settings for CI builds
parts = fl.data.split(fl.data.load("digits"), seed=0)
X, y = parts.train.X, parts.train.y

frames = []
for method in ("msra", "batchnorm"):
    torch.manual_seed(0)
    model = fl.build(fl.FNNSpec(in_features=parts.n_features, out_features=parts.n_outputs,
                                depth=8, width=64 if QUICK else 128, method=method))
    probes = loss_smoothness(model, X, y, lr=0.1, steps=40 if QUICK else 120,
                             every=5 if QUICK else 10)
    frames.append(probes.assign(method=method))
table = pd.concat(frames, ignore_index=True)

# %%
# Median over the trajectory: the batch-normalized network's gradient changes less
# along the gradient direction (smaller ``grad_change`` and β-smoothness).
print(table.groupby("method")[["loss_range", "grad_change", "beta_smoothness"]]
      .median().round(4).to_string())
fig = plot_loss_smoothness(table)
