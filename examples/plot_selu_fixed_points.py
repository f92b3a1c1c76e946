"""
SELU's moment map and its stable fixed point
============================================

If the inputs of a SELU layer have mean ``mu`` and variance ``nu`` (and the weights
sum to ``omega = 0`` with squared sum ``tau = 1``, as LeCun-normal weights do on
average), the layer's outputs have mean and variance ``g(mu, nu)`` given by Gaussian
integrals (Klambauer et al. 2017, Eq. 4-5). With the paper's constants
``alpha = 1.6733`` and ``scale = 1.0507`` the map has the fixed point (0, 1), and its
Jacobian there has spectral norm below 1: nearby moments are pulled back, so a deep
network normalizes itself.

:func:`fnnlab.theory.selu_mapping` evaluates the map on a grid and
:func:`fnnlab.plots.selu_mapping` draws one arrow per grid point.
"""

import numpy as np

from fnnlab import theory
from fnnlab.plots import selu_mapping

mapping = theory.selu_mapping(means=np.linspace(-0.5, 0.5, 9),
                              variances=np.linspace(0.6, 1.6, 11))
fig = selu_mapping(mapping, fixed_point=theory.fixed_point())
print("fixed point:", np.round(theory.fixed_point(), 6))
print("Jacobian spectral norm there:", round(theory.jacobian_norm(), 4),
      "stable:", theory.is_stable())

# %%
# Iterating the map from far away: every start converges to (0, 1), the
# self-normalizing property seen layer by layer.
import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for mu, nu in [(-1.0, 0.2), (1.0, 3.0), (0.5, 0.3), (-0.8, 2.5), (1.5, 1.0)]:
    path = [(mu, nu)]
    for _ in range(12):
        path.append(tuple(float(v) for v in theory.selu_moments(*path[-1])))
    path = np.array(path)
    ax.plot(path[:, 0], path[:, 1], marker="o", ms=3, label=f"start ({mu}, {nu})")
ax.plot(0, 1, marker="*", ms=14, color="black", ls="none", label="fixed point (0, 1)")
ax.set(xlabel="mean", ylabel="variance", title="Moments of 12 successive SELU layers")
ax.legend(fontsize=8)
