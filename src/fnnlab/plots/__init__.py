"""matplotlib figures, one module per topic. Each function takes the tidy
DataFrame a fnnlab function returned and returns a ``matplotlib.figure.Figure``."""

import matplotlib

# Figures are written to files (reports, CLI); never open a window.
matplotlib.use("Agg")

from fnnlab.plots.comparison import accuracy_heatmap as accuracy_heatmap  # noqa: E402
from fnnlab.plots.comparison import (  # noqa: E402
    critical_difference_diagram as critical_difference_diagram,
)
from fnnlab.plots.diagnostics import coactivation_by_layer as coactivation_by_layer  # noqa: E402
from fnnlab.plots.diagnostics import gradient_autocorrelation as gradient_autocorrelation  # noqa: E402
from fnnlab.plots.diagnostics import gradient_correlation as gradient_correlation  # noqa: E402
from fnnlab.plots.diagnostics import gradient_spectrum as gradient_spectrum  # noqa: E402
from fnnlab.plots.diagnostics import loss_smoothness as loss_smoothness  # noqa: E402
from fnnlab.plots.diagnostics import loss_surface_1d as loss_surface_1d  # noqa: E402
from fnnlab.plots.diagnostics import loss_surface_2d as loss_surface_2d  # noqa: E402
from fnnlab.plots.diagnostics import signal_by_depth as signal_by_depth  # noqa: E402
from fnnlab.plots.leaderboard import elo_ratings as elo_ratings  # noqa: E402
from fnnlab.plots.theory import selu_mapping as selu_mapping  # noqa: E402 (backend first)
from fnnlab.plots.training import training_curves as training_curves  # noqa: E402
