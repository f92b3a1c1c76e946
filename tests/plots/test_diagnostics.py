import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from fnnlab import diagnostics, plots
from fnnlab.models import FNNSpec, build

matplotlib.use("Agg")


def _labels(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend()
            for t in ax.get_legend().get_texts()]


def test_signal_by_depth_draws_one_line_per_method():
    x = torch.randn(64, 4)
    tables = [diagnostics.signal_propagation(build(FNNSpec(4, 1, depth=5, width=16, method=m)),
                                             x).assign(method=m) for m in ("snn", "msra")]
    fig = plots.signal_by_depth(pd.concat(tables))
    mean_ax, var_ax = fig.axes
    assert len(mean_ax.get_lines()) == 2 + 1  # two methods and the reference line
    np.testing.assert_allclose(mean_ax.get_lines()[0].get_ydata(), tables[0]["mean"])
    assert _labels(fig) == ["snn", "msra"]
    assert var_ax.get_xlabel() == "hidden layer" and var_ax.get_title()


def test_shattered_gradient_figures_take_their_tables():
    profiles = diagnostics.gradient_profiles(["batchnorm", "msra"], [1, 3], n_seeds=1,
                                             width=16, n_points=32)
    summary = diagnostics.shattered_gradients(profiles=profiles)
    fig = plots.gradient_correlation(summary)
    assert _labels(fig) == ["batchnorm", "msra"]
    assert fig.axes[0].get_ylabel() == "neighbour correlation"
    acf = plots.gradient_autocorrelation(diagnostics.autocorrelation(profiles, max_lag=4))
    assert len(acf.axes) == 2 and _labels(acf)[:2] == ["depth 1", "depth 3"]
    spectrum = plots.gradient_spectrum(diagnostics.power_spectrum(profiles))
    assert spectrum.axes[0].get_xscale() == "log"
    coact = diagnostics.coactivation(["batchnorm"], [3], n_seeds=1, width=16, n_points=32)
    fig = plots.coactivation_by_layer(coact)
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), coact["co_activation"])


def test_landscape_figures_take_their_tables():
    model = build(FNNSpec(3, 2, depth=2, width=8, method="batchnorm"))
    X, y = torch.randn(64, 3), torch.randint(0, 2, (64,))
    smooth = diagnostics.loss_smoothness(model, X, y, steps=4, every=2, batch_size=32)
    fig = plots.loss_smoothness(smooth)
    assert len(fig.axes) == 3 and fig.axes[2].get_title() == "Effective β-smoothness"
    line = diagnostics.loss_surface_1d(model, X, y, grid=[-1, 0, 1])
    fig = plots.loss_surface_1d(line)
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), line["loss"])
    plane = diagnostics.loss_surface_2d(model, X, y, grid=[-1, -0.5, 0, 0.5, 1])
    fig = plots.loss_surface_2d(pd.concat([plane.assign(method="a"), plane.assign(method="b")]))
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["a", "b"]


def test_wrong_table_is_rejected_with_the_expected_source():
    with pytest.raises(ValueError, match="shattered_gradients returned"):
        plots.gradient_correlation(pd.DataFrame({"depth": [1]}))
    with pytest.raises(TypeError, match="pandas DataFrame"):
        plots.loss_surface_1d([1, 2])
