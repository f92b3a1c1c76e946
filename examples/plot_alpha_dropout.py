"""
Alpha dropout keeps a SELU network at its fixed point
=====================================================

Standard dropout sets units to 0 and rescales the survivors by 1 / (1 - p). For
a ReLU network, 0 is the value of an inactive unit, so nothing looks unusual
downstream. For a SELU network it breaks self-normalization: 0 is not a value
SELU produces for a strongly negative input, and the rescaling changes the
variance, so the moments drift away from (0, 1) layer after layer.

Alpha dropout (Klambauer et al. 2017) sets dropped units to SELU's saturation
value ``-scale * alpha`` and then applies the affine map ``a x + b`` from
:func:`fnnlab.theory.alpha_dropout_affine` that restores mean 0 and variance 1.
Below, the same 32-layer SNN with dropout rate 0.1 in training mode, once with
each kind of dropout.
"""

import pandas as pd
import torch

import fnnlab as fl
from fnnlab import theory
from fnnlab.diagnostics import signal_propagation
from fnnlab.plots import signal_by_depth

rate = 0.1
a, b = theory.alpha_dropout_affine(rate)
print(f"alpha dropout at p={rate}: a={a:.4f}, b={b:.4f}")

x = torch.randn(512, 64)
frames = []
for kind in ("alpha_dropout", "dropout"):
    spec = fl.FNNSpec(in_features=64, out_features=2, depth=32, width=256, method="snn",
                      dropout=rate, dropout_kind=kind)
    torch.manual_seed(0)
    stats = signal_propagation(fl.build(spec), x, mode="train")
    frames.append(stats.assign(method=f"snn + {kind}"))
table = pd.concat(frames, ignore_index=True)
print(table.groupby("method").tail(1)[["method", "layer", "mean", "var"]]
      .round(3).to_string(index=False))
fig = signal_by_depth(table)
