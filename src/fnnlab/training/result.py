"""What ``fit`` returns: the trained model, its history and the best state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch

from fnnlab.likelihoods import Likelihood

__all__ = ["FitResult"]


@dataclass
class FitResult:
    """The outcome of :func:`fnnlab.fit`.

    Attributes
    ----------
    model : torch.nn.Module
        The trained model (for ``bagging``: the :class:`~fnnlab.training.bagging.Ensemble`).
        With early stopping or after divergence it holds the best epoch's weights.
    history : pandas.DataFrame
        One row per epoch: ``epoch``, ``train_loss`` (mean minibatch loss while
        training), ``valid_loss`` and ``valid_<metric>`` (when ``valid`` was given),
        ``lr`` (the rate used in that epoch) and ``seconds`` (wall time of the epoch).
        Bagged fits add a ``member`` column.
    best_epoch : int or None
        Epoch with the lowest monitored loss (validation loss if there is a
        validation set, else training loss); 0 if no epoch finished; None for bagging.
    best_state : dict
        ``state_dict`` of the model at ``best_epoch`` (CPU tensors).
    stop_reason : str
        "completed", "early_stopping", "diverged", or set by a callback.
    likelihood : Likelihood
        The likelihood the model was trained with (use it to predict).
    members : list of FitResult
        The members' results for a bagged fit, else empty.
    message : str
        How training ended when that needs explaining (the divergence message), else "".
    """

    model: torch.nn.Module
    history: pd.DataFrame
    best_epoch: int | None
    best_state: dict[str, torch.Tensor]
    stop_reason: str
    likelihood: Likelihood
    members: list[FitResult] = field(default_factory=list)
    message: str = ""

    def predict(self, X: Any) -> torch.Tensor:
        """Predictions of the trained model (classes or values) for ``X``."""
        from fnnlab.training.predict import predict

        return predict(self.model, X, self.likelihood)

    def predict_proba(self, X: Any) -> torch.Tensor:
        """Class probabilities of the trained model for ``X``."""
        from fnnlab.training.predict import predict_proba

        return predict_proba(self.model, X, self.likelihood)

    def __repr__(self) -> str:
        return (f"FitResult(epochs={len(self.history)}, best_epoch={self.best_epoch}, "
                f"stop_reason={self.stop_reason!r}, likelihood={self.likelihood!r})")
