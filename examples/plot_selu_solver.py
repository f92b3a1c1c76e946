"""
SELU parameters for any fixed point
===================================

The paper's ``alpha`` and ``scale`` make (0, 1) the fixed point of the moment map,
but any mean and variance can be a fixed point: :func:`fnnlab.theory.selu_parameters`
solves the two fixed-point equations for ``alpha`` and ``scale``, and
:func:`fnnlab.theory.jacobian_norm` says whether the point attracts (norm < 1). The
command ``fnnlab selu --mean 0 --var 4`` prints the same numbers.

Below: the solution for a range of target variances at mean 0, and the contraction
condition. A larger target variance needs a larger ``alpha`` (2.40 for variance 4)
and a slightly larger ``scale``; over this whole range the Jacobian's spectral norm
stays below 1, so each of these fixed points attracts.
"""

import matplotlib.pyplot as plt
import numpy as np

from fnnlab import theory

variances = np.linspace(0.5, 6.0, 23)
rows = []
for var in variances:
    alpha, scale = theory.selu_parameters(mean=0.0, var=float(var))
    norm = theory.jacobian_norm(mean=0.0, var=float(var), alpha=alpha, scale=scale)
    rows.append((alpha, scale, norm))
alphas, scales, norms = np.array(rows).T

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
ax1.plot(variances, alphas, marker=".", label="alpha")
ax1.plot(variances, scales, marker=".", label="scale (lambda)")
ax1.axvline(1.0, color="grey", ls="--", lw=0.8)
ax1.set(xlabel="target variance (mean 0)", ylabel="parameter value",
        title="Solved SELU parameters")
ax1.legend()
ax2.plot(variances, norms, marker=".")
ax2.axhline(1.0, color="red", ls="--", lw=0.8, label="contraction bound")
ax2.set(xlabel="target variance (mean 0)", ylabel="spectral norm of the Jacobian",
        title="Stability of the fixed point")
ax2.legend()
print("var=1 gives the paper's constants:", theory.selu_parameters(0.0, 1.0))

# %%
# A network built with the solved parameters keeps variance 4 through 32 layers.
import torch  # noqa: E402

import fnnlab as fl  # noqa: E402
from fnnlab.diagnostics import signal_propagation  # noqa: E402

alpha, scale = theory.selu_parameters(0.0, 4.0)
spec = fl.FNNSpec(in_features=32, out_features=1, depth=32, width=256, method="snn",
                  activation_params={"alpha": alpha, "scale": scale})
torch.manual_seed(0)
stats = signal_propagation(fl.build(spec), 2.0 * torch.randn(512, 32), mode="eval")
print(stats[["layer", "mean", "var"]].iloc[[0, 7, 15, 31]].round(3).to_string(index=False))
