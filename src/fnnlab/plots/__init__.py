"""matplotlib figures, one module per topic. Each function takes the tidy
DataFrame a fnnlab function returned and returns a ``matplotlib.figure.Figure``."""

import matplotlib

# Figures are written to files (reports, CLI); never open a window.
matplotlib.use("Agg")

from fnnlab.plots.comparison import accuracy_heatmap as accuracy_heatmap  # noqa: E402
from fnnlab.plots.comparison import (  # noqa: E402
    critical_difference_diagram as critical_difference_diagram,
)
from fnnlab.plots.theory import selu_mapping as selu_mapping  # noqa: E402 (backend first)
