"""The Elo figure of a comparison's leaderboard.

TabArena (Erickson et al. 2025) shows its leaderboard as each method's Elo with a
bootstrap confidence interval, best at the top, the anchor method (default random
forest) on the line at 1000. The table comes from ``fnnlab.bench.leaderboard.leaderboard``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def elo_ratings(board: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Horizontal Elo chart: one point per method with its confidence interval.

    Parameters
    ----------
    board : DataFrame
        Needs columns ``method`` and ``elo``; ``elo_low`` / ``elo_high`` draw the
        interval when present and finite, ``anchor`` (bool) marks the pinned method.
    title : str, optional
        Figure title, for example the task type the leaderboard is about.

    Returns
    -------
    matplotlib.figure.Figure
    """
    for column in ("method", "elo"):
        if column not in board.columns:
            raise ValueError(f"elo_ratings needs a {column!r} column (fnnlab.bench.leaderboard."
                             f"leaderboard), got {list(board.columns)}.")
    if board.empty:
        raise ValueError("elo_ratings needs at least one method, got an empty table.")
    t = board.sort_values("elo").reset_index(drop=True)  # best ends up on top
    y = np.arange(len(t))
    elo = t["elo"].to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(6, 1.0 + 0.4 * len(t)))
    if {"elo_low", "elo_high"} <= set(t.columns):
        low = t["elo_low"].to_numpy(dtype=float)
        high = t["elo_high"].to_numpy(dtype=float)
        ok = np.isfinite(low) & np.isfinite(high)
        ax.hlines(y[ok], low[ok], high[ok], color="0.4", lw=2, label="bootstrap CI")
    anchor = t["anchor"].to_numpy(dtype=bool) if "anchor" in t.columns else np.zeros(len(t), bool)
    ax.plot(elo[~anchor], y[~anchor], "o", color="C0", label="Elo")
    if anchor.any():
        ax.plot(elo[anchor], y[anchor], "D", color="C3", label="anchor (pinned)")
    ax.axvline(1000.0, color="0.7", lw=0.8, ls="--", zorder=0)
    ax.set_yticks(y, [str(m) for m in t["method"]])
    ax.set_xlabel("Elo (Bradley-Terry; +400 = 10:1 odds of winning a duel)")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
