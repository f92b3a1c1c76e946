"""Tests for ``fnnlab.plots.leaderboard``."""

import numpy as np
import pandas as pd
import pytest

from fnnlab.plots import elo_ratings


def _board():
    return pd.DataFrame({"method": ["a", "rf", "b"], "elo": [1200.0, 1000.0, 900.0],
                         "elo_low": [1150.0, 1000.0, np.nan], "elo_high": [1260.0, 1000.0, np.nan],
                         "anchor": [False, True, False]})


def test_best_method_on_top_with_its_interval_and_the_anchor_marked():
    fig = elo_ratings(_board(), title="classification")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "rf", "a"]
    intervals = ax.collections[0].get_segments()  # b's NaN interval is left out
    assert [tuple(s[:, 0]) for s in intervals] == [(1000.0, 1000.0), (1150.0, 1260.0)]
    points, anchor = ax.get_lines()[:2]
    assert list(points.get_xdata()) == [900.0, 1200.0] and list(anchor.get_xdata()) == [1000.0]
    assert ax.get_title() == "classification"


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="'elo' column"):
        elo_ratings(pd.DataFrame({"method": ["a"]}))
    with pytest.raises(ValueError, match="empty"):
        elo_ratings(_board().iloc[:0])
