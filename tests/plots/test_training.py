"""Tests for ``fnnlab.plots.training``."""

import pandas as pd
import pytest

from fnnlab.plots import training_curves


def _history(run: str, scale: float) -> pd.DataFrame:
    return pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [scale, scale / 2, scale / 4],
                         "valid_loss": [scale, scale / 1.5, scale / 2],
                         "valid_accuracy": [0.5, 0.7, 0.8], "lr": 0.1, "run": run})


def test_one_panel_per_column_and_one_line_per_run():
    history = pd.concat([_history("snn", 1.0), _history("msra", 2.0)])
    fig = training_curves(history, hue="run", best_epoch=2)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["train loss", "valid loss", "valid accuracy"]
    assert len(axes[0].get_lines()) == 3  # two runs and the best-epoch marker
    assert axes[0].get_yscale() == "log" and axes[2].get_yscale() == "linear"
    assert axes[0].get_xlabel() == "epoch" and "nats" in axes[0].get_ylabel()
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert labels == ["snn", "msra", "best epoch"]
    assert list(axes[0].get_lines()[1].get_ydata()) == [2.0, 1.0, 0.5]


def test_bad_columns_and_hue_name_the_available_columns():
    with pytest.raises(ValueError, match="FitResult.history"):
        training_curves(pd.DataFrame({"loss": [1.0]}))
    with pytest.raises(ValueError, match="columns: epoch"):
        training_curves(_history("a", 1.0), ["valid_r2"])
    with pytest.raises(ValueError, match="hue column 'method'"):
        training_curves(_history("a", 1.0), hue="method")
