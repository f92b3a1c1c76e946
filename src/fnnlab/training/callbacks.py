"""Callbacks: the extension points of the fit loop, and the loop state they see.

A callback subclasses :class:`Callback` and overrides the events it needs. Each
method receives the :class:`FitState` and ``**kwargs`` (so new arguments never break
old callbacks). A callback changes training only through documented fields:
``state.stop = True`` (with ``state.stop_reason``) ends training after the current
epoch. Whatever a callback must remember goes into ``state_dict()``, which the fit
loop stores in resumable checkpoints, so a resumed run behaves like an
uninterrupted one.

Built in: :class:`EarlyStopping` and :class:`ProgressBar`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["Callback", "EarlyStopping", "FitState", "ProgressBar"]


@dataclass
class FitState:
    """What the fit loop shares with callbacks.

    Attributes
    ----------
    model, optimizer : the module being trained and its optimizer.
    schedule : the :class:`~fnnlab.training.schedules.Schedule`.
    epoch : int
        Current epoch, 1-based (0 before the first).
    batch : int
        Index of the current batch within the epoch, 0-based.
    loss : torch.Tensor or None
        The current minibatch loss (in ``on_after_backward``).
    history : list of dict
        One row per finished epoch (the columns of ``FitResult.history``).
    monitor : str
        The history column that decides the best epoch ("valid_loss" or "train_loss").
    best_epoch : int
        Epoch with the lowest ``monitor`` so far (0: none yet).
    best_score : float
        That lowest value.
    stop : bool
        Set to True to end training after this epoch.
    stop_reason : str
        Why training stopped ("completed", "early_stopping", "diverged", ...).
    """

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Any = None
    epoch: int = 0
    batch: int = 0
    loss: torch.Tensor | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    monitor: str = "valid_loss"
    best_epoch: int = 0
    best_score: float = math.inf
    stop: bool = False
    stop_reason: str = "completed"


class Callback:
    """Base class: every event is a no-op. Override the ones you need."""

    def on_fit_start(self, state: FitState, **kwargs: Any) -> None:
        """Before the first epoch (after a resume: before the first remaining epoch)."""

    def on_epoch_start(self, state: FitState, **kwargs: Any) -> None:
        """At the start of each epoch; ``state.epoch`` is the new epoch."""

    def on_after_backward(self, state: FitState, **kwargs: Any) -> None:
        """After ``loss.backward()`` and gradient clipping, before ``optimizer.step()``."""

    def on_epoch_end(self, state: FitState, **kwargs: Any) -> None:
        """After validation; ``state.history[-1]`` is this epoch's row."""

    def on_fit_end(self, state: FitState, **kwargs: Any) -> None:
        """After the last epoch, whatever the stop reason."""

    def state_dict(self) -> dict[str, Any]:
        """What this callback must remember across a resume (plain Python values)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


class EarlyStopping(Callback):
    """Stop when the monitored loss has not improved for ``patience`` epochs.

    The fit loop keeps the weights of the best epoch and restores them when training
    ends, so early stopping returns the model with the lowest validation loss seen
    (Goodfellow et al., "Deep Learning", 2016, section 7.8).

    Parameters
    ----------
    patience : int
        Epochs without improvement before stopping (≥ 1).
    min_delta : float, default=0.0
        An epoch improves only if it lowers the best loss by more than this.
    """

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        if not (isinstance(patience, int) and patience >= 1):
            raise ValueError(f"EarlyStopping.patience must be an int >= 1, got {patience!r}.")
        self.patience = patience
        self.min_delta = float(min_delta)
        self.best = math.inf
        self.wait = 0

    def update(self, score: float) -> bool:
        """Record one epoch's monitored loss; True when training should stop."""
        if score < self.best - self.min_delta:
            self.best, self.wait = score, 0
            return False
        self.wait += 1
        return self.wait >= self.patience

    def on_epoch_end(self, state: FitState, **kwargs: Any) -> None:
        if self.update(state.history[-1][state.monitor]):
            state.stop = True
            state.stop_reason = "early_stopping"

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.wait = state["best"], state["wait"]

    def __repr__(self) -> str:
        return f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta})"


class ProgressBar(Callback):
    """A tqdm bar over epochs showing the training loss and the first validation metric."""

    def __init__(self, epochs: int, initial: int = 0) -> None:
        self.epochs = epochs
        self.initial = initial
        self.bar = None

    def on_fit_start(self, state: FitState, **kwargs: Any) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.epochs, initial=self.initial, unit="epoch", leave=False)

    def on_epoch_end(self, state: FitState, **kwargs: Any) -> None:
        row = state.history[-1]
        shown = {"loss": f"{row['train_loss']:.4g}"}
        for key, value in row.items():
            if key.startswith("valid_") and key != "valid_loss":
                shown[key[len("valid_"):]] = f"{value:.4g}"
                break
        self.bar.set_postfix(shown, refresh=False)
        self.bar.update(1)

    def on_fit_end(self, state: FitState, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.close()
