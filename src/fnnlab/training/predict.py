"""Predictions of a trained model: raw outputs turned into values, classes or probabilities."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from fnnlab.likelihoods import LIKELIHOODS, Likelihood, resolve
from fnnlab.training.inputs import as_features

__all__ = ["outputs", "predict", "predict_proba"]


def _likelihood_of(model: torch.nn.Module, likelihood: str | Likelihood | None) -> Likelihood:
    if likelihood is None:
        likelihood = getattr(model, "likelihood", None)
    if likelihood is None:
        likelihood = getattr(getattr(model, "spec", None), "likelihood", None)
    if likelihood is None:
        raise ValueError(
            f"No likelihood given and the model does not record one. Pass likelihood= one of "
            f"{', '.join(LIKELIHOODS.names())} (the one it was trained with)."
        )
    return resolve(likelihood, torch.empty(0))


@torch.no_grad()
def outputs(model: torch.nn.Module, X: Any, batch_size: int = 4096) -> Tensor:
    """Raw model outputs for ``X`` in eval mode, in chunks, on the model's device.

    The model's train/eval mode is restored afterwards. Returns a CPU float32 tensor.
    """
    x = as_features(X)
    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        chunks = [model(x[i:i + batch_size].to(device)).float().cpu()
                  for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(chunks)


def predict(model: torch.nn.Module, X: Any, likelihood: str | Likelihood | None = None,
            batch_size: int = 4096) -> Tensor:
    """Predictions for ``X``: class indices (classification) or values (regression).

    ``likelihood`` defaults to the one the model records (``model.likelihood`` or
    ``model.spec.likelihood``).
    """
    return _likelihood_of(model, likelihood).predict(outputs(model, X, batch_size))


def predict_proba(model: torch.nn.Module, X: Any, likelihood: str | Likelihood | None = None,
                  batch_size: int = 4096) -> Tensor:
    """Class probabilities for ``X``, shape (N, n_classes); (N, T) P(y_t = 1) for T tasks."""
    return _likelihood_of(model, likelihood).predict_proba(outputs(model, X, batch_size))
