"""
A 64-layer SNN keeps its signal; a ReLU network loses it
=========================================================

The forward signal of a deep network either stays at a fixed point, dies, or
explodes from layer to layer. Self-normalizing networks (SELU activation,
LeCun-normal weights, Klambauer et al. 2017) are built so that the mean and variance
of every layer's output are pulled towards (0, 1). A ReLU network with He
initialization (``msra``) keeps the second moment on average, but its outputs are
non-negative, so their mean is far from 0 and wanders with depth, and nothing
pulls the variance back; a ReLU network with LeCun weights (half the variance He
uses) loses half the signal in every layer.

:func:`fnnlab.diagnostics.signal_propagation` reads the per-layer statistics on one
batch, and :func:`fnnlab.plots.signal_by_depth` draws them.
"""

import os

import pandas as pd
import torch

import fnnlab as fl
from fnnlab.diagnostics import signal_propagation
from fnnlab.plots import signal_by_depth

QUICK = os.environ.get("FNNLAB_DOCS_QUICK") == "1"  # smaller settings for CI builds
torch.manual_seed(0)
depth, width = 64, 128 if QUICK else 256
x = torch.randn(512, 64)

methods = {"snn": {}, "msra": {}, "relu + lecun init": {"method": "msra", "init": "lecun_normal"}}
frames = []
for name, overrides in methods.items():
    spec = fl.FNNSpec(in_features=64, out_features=2, depth=depth, width=width,
                      **({"method": name} | overrides))
    stats = signal_propagation(fl.build(spec), x, mode="eval")
    frames.append(stats.assign(method=name))
table = pd.concat(frames, ignore_index=True)

# %%
# The last layer's statistics, and the figure: dashed lines mark the fixed point
# (0, 1). The variance axis is logarithmic.
print(table.groupby("method").tail(1)[["method", "layer", "mean", "var"]].to_string(index=False))
fig = signal_by_depth(table)
