"""Tests for fnnlab.plots.theory: the SELU moment-map figure."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from fnnlab import plots, theory


def test_selu_mapping_figure_draws_every_arrow_and_marks_the_fixed_point(tmp_path):
    df = theory.selu_mapping(np.linspace(-0.4, 0.4, 5), np.linspace(0.8, 1.5, 4))
    fig = plots.selu_mapping(df)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    arrows = ax.collections[0]
    assert len(arrows.U) == len(df)
    # Arrows keep the direction of the map's step (one common shrink factor).
    np.testing.assert_allclose(np.arctan2(arrows.V, arrows.U),
                               np.arctan2(df["d_var"], df["d_mean"]), atol=1e-12)
    (star,) = ax.lines
    assert star.get_xdata()[0] == pytest.approx(0.0, abs=1e-9)
    assert star.get_ydata()[0] == pytest.approx(1.0, abs=1e-9)
    assert "moment map" in ax.get_title()
    assert "mean" in ax.get_xlabel() and "variance" in ax.get_ylabel()
    fig.savefig(tmp_path / "selu_mapping.png")
    assert (tmp_path / "selu_mapping.png").stat().st_size > 0


def test_selu_mapping_figure_marks_a_given_fixed_point():
    alpha, scale = theory.selu_parameters(0.0, 4.0)
    df = theory.selu_mapping(np.linspace(-1, 1, 3), np.linspace(3, 5, 3), alpha, scale)
    (star,) = plots.selu_mapping(df).axes[0].lines
    assert star.get_ydata()[0] == pytest.approx(4.0, abs=1e-9)


def test_selu_mapping_figure_rejects_a_foreign_table():
    import pandas as pd

    with pytest.raises(ValueError, match="lacks columns"):
        plots.selu_mapping(pd.DataFrame({"mean": [0.0]}))
