"""Figures for ``fnnlab.fit``: training curves from a fit history."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure

_LABELS = {
    "train_loss": "training loss (mean NLL per sample, nats)",
    "valid_loss": "validation loss (mean NLL per sample, nats)",
    "valid_accuracy": "validation accuracy (fraction)",
    "valid_balanced_accuracy": "validation balanced accuracy (fraction)",
    "valid_roc_auc": "validation ROC AUC",
    "valid_r2": "validation R² (fraction of variance)",
    "valid_mse": "validation MSE (squared target units)",
    "valid_mae": "validation MAE (target units)",
    "lr": "learning rate",
    "seconds": "wall time per epoch (s)",
}


def training_curves(
    history: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    hue: str | None = None,
    logy: Sequence[str] = ("train_loss", "valid_loss"),
    title: str = "Training curves",
    best_epoch: int | None = None,
) -> Figure:
    """One panel per history column against the epoch, one line per run.

    Parameters
    ----------
    history : DataFrame
        ``FitResult.history`` (columns ``epoch``, ``train_loss``, ...), or several
        histories concatenated with a column naming the run (see ``hue``).
    columns : sequence of str, optional
        Columns to draw, one panel each. Default: the losses and, if present, the
        first ``valid_<metric>`` column.
    hue : str, optional
        Column whose values label the runs (one line each, with a legend). For a
        single history leave it None; a bagged history's ``member`` column is used
        automatically.
    logy : sequence of str, default=("train_loss", "valid_loss")
        Columns drawn on a logarithmic y axis (when all their values are positive).
    title : str
        Figure title.
    best_epoch : int, optional
        Mark this epoch (e.g. ``FitResult.best_epoch``) with a dotted vertical line.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(history, pd.DataFrame) or "epoch" not in history.columns:
        raise ValueError("training_curves: pass FitResult.history, a DataFrame with an "
                         "'epoch' column.")
    if hue is None and "member" in history.columns:
        hue = "member"
    if hue is not None and hue not in history.columns:
        raise ValueError(f"training_curves: hue column {hue!r} is not in the history; "
                         f"columns: {', '.join(map(str, history.columns))}.")
    if columns is None:
        columns = [c for c in ("train_loss", "valid_loss") if c in history.columns]
        columns += [c for c in history.columns if c.startswith("valid_")
                    and c != "valid_loss"][:1]
    missing = [c for c in columns if c not in history.columns]
    if missing or not columns:
        raise ValueError(f"training_curves: columns {missing or columns} are not in the "
                         f"history; columns: {', '.join(map(str, history.columns))}.")
    groups = list(history.groupby(hue, sort=False)) if hue else [(None, history)]
    fig = Figure(figsize=(4.2 * len(columns), 3.6), layout="constrained")
    axes = fig.subplots(1, len(columns), squeeze=False)[0]
    for ax, column in zip(axes, columns, strict=True):
        for label, frame in groups:
            frame = frame.sort_values("epoch")
            ax.plot(frame["epoch"], frame[column], marker="." if len(frame) < 30 else None,
                    label=None if label is None else str(label))
        values = pd.to_numeric(history[column], errors="coerce").dropna()
        if column in logy and len(values) and (values > 0).all():
            ax.set_yscale("log")
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", linestyle=":", label="best epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel(_LABELS.get(column, column))
        ax.set_title(column.replace("_", " "))
        ax.grid(alpha=0.3)
    if hue is not None or best_epoch is not None:
        axes[0].legend(title=hue, fontsize="small")
    fig.suptitle(title)
    return fig
