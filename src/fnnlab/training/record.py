"""What every epoch records, for :func:`fnnlab.fit` and :func:`fnnlab.fit_many` alike.

The two training loops (one network, or K networks stacked into one model) differ
only in how a step runs; what they record is written once, here: the validation row
of the history, the monitored value that decides the best epoch (raw, or smoothed
for the SNN paper's stopping rule), the divergence message, how a run ends (restore
the best weights, warn) and the history table.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from fnnlab.likelihoods import Likelihood
from fnnlab.training.metrics import METRICS

__all__ = ["SMOOTHED", "clone_state", "divergence_message", "finish_run", "history_frame",
           "monitor_name", "monitor_value", "validation_row"]

#: Prefix of the history column that holds a smoothed monitored loss.
SMOOTHED = "smoothed_"


def validation_row(out: Tensor, y: Tensor, lik: Likelihood, metrics: Sequence[str],
                   y_true: np.ndarray | None = None) -> dict[str, float]:
    """``valid_loss`` and ``valid_<metric>`` of one network's float32 outputs ``out``.

    ``y_true`` is ``y`` as a NumPy array (pass it to convert once per run, not per
    epoch). Non-finite outputs give NaN metrics (the loss says what went wrong).
    """
    row = {"valid_loss": float(lik.loss(out, y))}
    if not metrics:
        return row
    if not torch.isfinite(out).all():
        return {**row, **{f"valid_{m}": math.nan for m in metrics}}
    y_true = y.cpu().numpy() if y_true is None else y_true
    y_pred = lik.predict(out).cpu().numpy()
    y_proba = lik.predict_proba(out).cpu().numpy() if lik.task == "classification" else None
    for name in metrics:
        row[f"valid_{name}"] = METRICS.get(name)(y_true, y_pred, y_proba)
    return row


def clone_state(model: nn.Module) -> dict[str, Tensor]:
    """A CPU copy of ``model``'s state dict: the best epoch's weights, kept aside."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def monitor_name(has_valid: bool, window: int | None) -> str:
    """The history column that decides the best epoch.

    ``valid_loss`` (``train_loss`` without validation data), or with a stopping
    ``window`` its trailing moving average, ``smoothed_valid_loss``
    (see :func:`monitor_value`).
    """
    raw = "valid_loss" if has_valid else "train_loss"
    return SMOOTHED + raw if window is not None else raw


def monitor_value(history: list[dict[str, float]], monitor: str, window: int | None) -> float:
    r"""The value of ``monitor`` for the last epoch of ``history``, written into its row.

    A smoothed column (``monitor`` from :func:`monitor_name` with a window w) is the
    trailing moving average of the raw loss L over the last w epochs,

        S_e = (1 / n_e) Σ_{t = e - n_e + 1}^{e} L_t,   n_e = min(w, e),

    so the first w - 1 epochs average what there is. The best epoch is the one with the
    lowest S_e, and its weights are the ones the run returns. The SNN paper chose the
    stopping epoch this way: "The early stopping parameter was determined on the
    smoothed learning curves of 100 epochs of the validation set. Smoothing was done
    using moving averages of 10 consecutive values" (Klambauer et al. 2017,
    arXiv:1706.02515, supplement A4, as quoted by the public reproduction
    AdrienLE/SNN_repro). The supplement says neither which curve (loss or accuracy)
    nor where the window sits. Here it is the validation loss, the quantity early
    stopping watches (the reproduction smoothed the accuracy, which on a small
    validation set moves in steps of one row and ties often), and the window trails:
    S_e needs no epoch after e, so the choice is made online and the weights of epoch
    e are at hand when it is made. A centred window would name an epoch about w/2
    earlier, whose weights would have to be kept for w/2 epochs in case it wins.
    """
    row = history[-1]
    if monitor.startswith(SMOOTHED):
        raw = monitor[len(SMOOTHED):]
        values = [r[raw] for r in history[-window:]]
        row[monitor] = math.fsum(values) / len(values)
    return row[monitor]


def divergence_message(loss: float, epoch: int, batch: int, lr: float) -> str:
    """What a non-finite training loss tells the user, and what to try."""
    return (f"Loss became {loss} at epoch {epoch}, batch {batch} with lr={lr:g}. Lower lr, "
            f"clip gradients (clip_norm=1.0) or standardize the features.")


def finish_run(model: nn.Module, best_state: dict[str, Tensor], best_epoch: int,
               diverged: str, restore: bool, stacklevel: int) -> str:
    """End a run: restore the best weights if asked or after divergence; the message.

    After divergence the model gets the best epoch's weights (the initial ones if no
    epoch finished) and a ``RuntimeWarning`` carries the message, which is returned
    ("" without divergence). ``restore`` (early stopping) restores the best epoch's
    weights when one finished.
    """
    if diverged:
        message = diverged + (f" Restored the weights of epoch {best_epoch}."
                              if best_epoch else " Restored the initial weights.")
        model.load_state_dict(best_state)
        warnings.warn(message, RuntimeWarning, stacklevel=stacklevel + 1)
        return message
    if restore and best_epoch:
        model.load_state_dict(best_state)
    return ""


def history_frame(rows: Sequence[dict[str, float]], metrics: Sequence[str],
                  has_valid: bool) -> pd.DataFrame:
    """The history table: one row per epoch, fit's columns in fit's order.

    Built column by column from NumPy arrays: a quarter of the time of
    ``pd.DataFrame(rows)`` with ``reindex`` and ``astype``, which adds up over the
    members of a stack. A smoothed monitored loss (:func:`monitor_value`) follows the
    validation columns.
    """
    smoothed = sorted({key for row in rows[:1] for key in row if key.startswith(SMOOTHED)})
    columns = ["epoch", "train_loss",
               *(["valid_loss", *(f"valid_{m}" for m in metrics)] if has_valid else []),
               *smoothed, "lr", "seconds"]
    return pd.DataFrame({name: np.array([row.get(name, math.nan) for row in rows],
                                        dtype=np.int64 if name == "epoch" else np.float64)
                         for name in columns})
