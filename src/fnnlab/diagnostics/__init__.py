"""Diagnostics: signal propagation, shattered gradients, loss landscapes. Each
returns a tidy pandas DataFrame that a function in ``fnnlab.plots`` can draw.

- ``signal.py``: per-layer activation mean/variance, saturated and dead units,
  weight-gradient norms (:func:`signal_propagation`, :class:`SignalCallback`).
- ``shattered.py``: Balduzzi et al. (2017): input-gradient correlation, its
  autocorrelation and power spectrum, co-activation (:func:`shattered_gradients`).
- ``landscape.py``: Santurkar et al. (2018) smoothness along the SGD trajectory and
  Li et al. (2018) filter-normalized loss surfaces.
"""

from fnnlab.diagnostics.landscape import (
    filter_normalized_direction,
    loss_smoothness,
    loss_surface_1d,
    loss_surface_2d,
)
from fnnlab.diagnostics.shattered import (
    autocorrelation,
    coactivation,
    gradient_profiles,
    input_gradients,
    input_grid,
    neighbor_correlation,
    parse_method,
    power_spectrum,
    shattered_gradients,
    spectrum_slope,
)
from fnnlab.diagnostics.signal import SignalCallback, activation_modules, signal_propagation

__all__ = [
    "SignalCallback",
    "activation_modules",
    "autocorrelation",
    "coactivation",
    "filter_normalized_direction",
    "gradient_profiles",
    "input_gradients",
    "input_grid",
    "loss_smoothness",
    "loss_surface_1d",
    "loss_surface_2d",
    "neighbor_correlation",
    "parse_method",
    "power_spectrum",
    "shattered_gradients",
    "signal_propagation",
    "spectrum_slope",
]
