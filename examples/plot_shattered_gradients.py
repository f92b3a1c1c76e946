"""
Shattered gradients: depth turns the input gradient into white noise
=====================================================================

Balduzzi et al. (2017) feed a scalar input on a fine grid through a freshly built
network and look at the gradient dy/dx along the grid. A shallow net's gradient is
smooth (neighbouring inputs get almost the same gradient); in a deep feedforward
ReLU net with batch normalization it decorrelates until neighbours are unrelated,
so a gradient step learned at one input says nothing about the next one. A
residual net with one-layer branches keeps the gradient correlated far longer.

:func:`fnnlab.diagnostics.gradient_profiles` returns the gradients themselves,
:func:`fnnlab.diagnostics.shattered_gradients` summarizes them (neighbour
correlation, spectrum slope) and :func:`fnnlab.plots.gradient_correlation` draws
the correlation against depth.
"""

import os

import matplotlib.pyplot as plt

from fnnlab.diagnostics import gradient_profiles, shattered_gradients
from fnnlab.plots import gradient_correlation

QUICK = os.environ.get("FNNLAB_DOCS_QUICK") == "1"  # smaller settings for CI builds
methods = ["msra", "batchnorm", "resnet:branch_layers=1"]
depths = [1, 4, 12, 24] if QUICK else [1, 4, 8, 16, 24, 32]
profiles = gradient_profiles(methods, depths, n_seeds=2 if QUICK else 4,
                             width=100 if QUICK else 200)
summary = shattered_gradients(profiles=profiles)
print(summary.round(3).to_string(index=False))
fig = gradient_correlation(summary)

# %%
# The gradients themselves, for one network of each kind at the greatest depth:
# the batch-normalized feedforward net's gradient looks like noise.
deepest = profiles[(profiles["depth"] == max(depths)) & (profiles["seed"] == 0)]
fig, axes = plt.subplots(len(methods), 1, figsize=(7, 6), sharex=True, layout="constrained")
for ax, (method, part) in zip(axes, deepest.groupby("method", sort=False), strict=True):
    ax.plot(part["x"], part["gradient"], lw=0.8)
    ax.set(title=f"{method}, depth {max(depths)}", ylabel="dy/dx")
axes[-1].set_xlabel("input x")
