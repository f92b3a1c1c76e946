"""Figures of the method comparison: critical-difference diagram, score heatmap.

The critical-difference diagram is Demšar's (2006, "Statistical Comparisons of
Classifiers over Multiple Data Sets", JMLR 7, Fig. 1): methods on an axis of
mean rank (best on the left) and a bar of length CD (Nemenyi) showing how far
apart two mean ranks must be to differ significantly; methods closer than CD
are joined by a thick line.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def critical_difference_diagram(table: pd.DataFrame, cd: float) -> Figure:
    """Demšar's critical-difference diagram from ``ComparisonResult.table``.

    Parameters
    ----------
    table : DataFrame
        Needs columns ``method`` and ``mean_rank`` (``fnnlab.bench.stats.comparison_table``).
    cd : float
        The Nemenyi critical difference (``fnnlab.bench.stats.nemenyi_cd``).
    """
    for column in ("method", "mean_rank"):
        if column not in table.columns:
            raise ValueError(f"critical_difference_diagram needs a {column!r} column, got "
                             f"{list(table.columns)}.")
    t = table.dropna(subset=["mean_rank"]).sort_values("mean_rank").reset_index(drop=True)
    k = len(t)
    lo, hi = 1, max(k, int(np.ceil(t["mean_rank"].max())) if k else 1)
    fig, ax = plt.subplots(figsize=(7, 1.6 + 0.3 * k))
    ax.set_xlim(lo - 0.2, hi + 0.2)
    ax.set_ylim(-(k // 2 + 2) - 0.5, 1.8)
    ax.axis("off")
    ax.hlines(0, lo, hi, color="black", lw=1)
    for r in range(lo, hi + 1):
        ax.vlines(r, 0, 0.15, color="black", lw=1)
        ax.text(r, 0.3, str(r), ha="center", va="bottom", fontsize=9)
    if np.isfinite(cd):
        ax.hlines(1.3, lo, lo + cd, color="black", lw=1.5)
        ax.text(lo + cd / 2, 1.4, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=9)
    half = (k + 1) // 2
    for i, row in t.iterrows():
        left = i < half
        level = -(i + 1) if left else -(k - i)
        x_text = lo - 0.1 if left else hi + 0.1
        ax.plot([row.mean_rank, row.mean_rank, x_text], [0, level, level], color="0.3", lw=0.8)
        ax.text(x_text, level, f"{row.method} ({row.mean_rank:.2f})",
                ha="right" if left else "left", va="center", fontsize=9)
    # Cliques: maximal runs of methods whose mean ranks lie within CD of each other.
    ranks = t["mean_rank"].to_numpy()
    cliques = []
    for i in range(k):
        j = int(np.searchsorted(ranks, ranks[i] + cd, side="right")) - 1
        if j > i and not any(a <= i and j <= b for a, b in cliques):
            cliques.append((i, j))
    for n, (i, j) in enumerate(cliques):
        y = -0.25 - 0.2 * n
        ax.hlines(y, ranks[i] - 0.03, ranks[j] + 0.03, color="black", lw=3)
    ax.set_title("Mean rank (1 = best)", fontsize=10)
    fig.tight_layout()
    return fig


def accuracy_heatmap(scores: pd.DataFrame, *, metric: str = "accuracy") -> Figure:
    """Heatmap of methods x data sets from ``ComparisonResult.scores`` (data sets x methods).

    Each cell shows the mean test score; the best method of each data set is bold.
    """
    if not isinstance(scores, pd.DataFrame) or scores.empty:
        raise ValueError("accuracy_heatmap needs a non-empty DataFrame (data sets x methods).")
    values = scores.to_numpy(dtype=float).T  # (methods, datasets)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * scores.shape[0], 1.0 + 0.45 * scores.shape[1]))
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", aspect="auto")
    ax.set_xticks(range(scores.shape[0]), [str(d) for d in scores.index], rotation=45,
                  ha="right", fontsize=8)
    ax.set_yticks(range(scores.shape[1]), [str(m) for m in scores.columns], fontsize=8)
    best = np.nanmax(np.where(np.isnan(values), -np.inf, values), axis=0)
    for j in range(values.shape[0]):
        for i in range(values.shape[1]):
            v = values[j, i]
            if np.isfinite(v):
                ax.text(i, j, f"{v:.3f}", ha="center", va="center", fontsize=7, color="white",
                        fontweight="bold" if v == best[i] else "normal")
    fig.colorbar(image, ax=ax, label=f"test {metric}")
    fig.tight_layout()
    return fig
