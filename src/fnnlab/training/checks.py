"""Argument and data checks shared by :func:`fnnlab.fit` and :func:`fnnlab.fit_many`.

Each raises ``ValueError`` (or ``TypeError``) with a message that names the argument,
what it got and what to pass instead, before any training starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from fnnlab.likelihoods import Likelihood, resolve
from fnnlab.training.inputs import as_xy
from fnnlab.training.metrics import METRICS, default_metrics

__all__ = ["TrainingData", "check_metrics", "check_nonnegative", "check_outputs",
           "check_positive_int", "load_data", "prepare_data", "resolve_device"]


def resolve_device(device: str | torch.device) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'auto', got {device!r}.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but CUDA is not available; use 'cpu'.")
    return device


def check_positive_int(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}.")


def check_nonnegative(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}.")


def _n_targets(y: Tensor) -> int:
    return 1 if y.dim() == 1 else y.shape[1]


def check_outputs(model: nn.Module, x: Tensor, lik: Likelihood, y: Tensor,
                   n_classes: int | None) -> None:
    """One side-effect-free forward pass (eval mode) to check the output width."""
    tasks = lik.task == "classification" and y.dim() == 2  # one output per binary task
    need = y.shape[1] if tasks else lik.n_outputs(
        n_classes if lik.task == "classification" else _n_targets(y))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x[:2])
    finally:
        model.train(was_training)
    got = 1 if out.dim() == 1 else out.shape[-1]
    if got != need:
        what = (f"{n_classes} classes" if lik.task == "classification" and not tasks
                else f"{_n_targets(y)} target column(s)")
        hint = " Use likelihood='bernoulli' for one output." if lik.name == "categorical" else ""
        hint = " Use likelihood='categorical' for one output per class." if (
            lik.name == "bernoulli" and not tasks) else hint
        raise ValueError(
            f"The model has {got} output(s) but the {lik.name} likelihood needs {need} for "
            f"{what}. Build the model with out_features={need}.{hint}"
        )


def _prepare_tasks(lik: Likelihood, y: Tensor, what: str) -> Tensor:
    """Several binary tasks, (N, T) with NaN for a missing label, for a multi-task likelihood."""
    if not getattr(lik, "multi_task", False):
        raise ValueError(
            f"{what} y has {y.shape[1]} target columns, but the {lik.name} likelihood takes "
            f"one class label per row. Several classification targets are binary tasks with "
            f"one sigmoid output each: pass likelihood='bernoulli' (a categorical head per "
            f"task is not supported)."
        )
    y = y.float()
    labels = y[~torch.isnan(y)]
    if not bool(((labels == 0) | (labels == 1)).all()):
        raise ValueError(
            f"{what} y holds values other than 0, 1 and NaN (a missing label); each of its "
            f"{y.shape[1]} target columns must be a binary task with 0/1 labels."
        )
    return lik.prepare_target(y)


def _prepare_target(lik: Likelihood, y: Tensor, what: str) -> Tensor:
    if lik.task == "classification" and y.dim() == 2:
        return _prepare_tasks(lik, y, what)
    if y.dtype.is_floating_point and bool(torch.isnan(y).any()):
        raise ValueError(
            f"{what} y has {int(torch.isnan(y).sum())} missing (NaN) values. Only several "
            f"binary target columns with likelihood='bernoulli' may miss labels (the loss "
            f"skips them); for the {lik.name} likelihood impute or drop those rows."
        )
    if lik.task == "classification":
        if y.dtype.is_floating_point:
            if not torch.equal(y, y.round()):
                raise ValueError(
                    f"{what} y holds non-integer values but the {lik.name} likelihood needs "
                    f"class codes 0..K-1. Use a regression likelihood (gaussian, laplace, "
                    f"poisson) or encode the classes."
                )
            y = y.long()
        if lik.name == "bernoulli" and y.numel() and int(y.max()) > 1:
            raise ValueError(f"{what} y holds classes > 1; bernoulli needs 0/1 targets.")
    elif lik.name == "poisson" and y.numel() and bool((y < 0).any()):
        raise ValueError(f"{what} y holds negative values; the poisson likelihood needs counts.")
    return lik.prepare_target(y)


def prepare_data(x: Tensor, y: Tensor, n_classes: int | None, valid: Any,
                  lik: Likelihood) -> tuple[Tensor, Tensor | None, Tensor | None, int | None]:
    """Targets in the likelihood's form, the validation pair (or None), the class count."""
    y = _prepare_target(lik, y, "train")
    xv = yv = None
    if valid is not None:
        xv, yv, n_classes_v = as_xy(valid, "valid")
        if xv.shape[1] != x.shape[1]:
            raise ValueError(f"valid has {xv.shape[1]} features but train has {x.shape[1]}.")
        yv = _prepare_target(lik, yv, "valid")
        if lik.task == "classification":
            n_classes = max(n_classes or 0, n_classes_v or 0)
    if lik.task == "classification" and lik.name == "bernoulli":
        n_classes = 2
    return y, xv, yv, n_classes


def check_metrics(metrics: Sequence[str] | None, lik: Likelihood,
                  n_tasks: int = 1) -> tuple[str, ...]:
    """The metrics to log (the task's defaults for None), each checked against the task."""
    metrics = tuple(default_metrics(lik.task, n_tasks) if metrics is None else metrics)
    for name in metrics:
        METRICS.canonical(name)
        if lik.task != "classification" and name in ("accuracy", "balanced_accuracy",
                                                      "roc_auc", "log_loss"):
            raise ValueError(f"Metric {name!r} needs a classification likelihood, not "
                             f"{lik.name!r}.")
    return metrics


@dataclass
class TrainingData:
    """A run's checked data on its device, and what the data decide about the run.

    ``x``, ``y`` (targets in the likelihood's form), ``xv``, ``yv`` (None without a
    validation set), ``n_classes``, one likelihood per network in ``likelihoods`` (they
    may differ in label smoothing only) and the validation ``metrics``.
    """

    x: Tensor
    y: Tensor
    xv: Tensor | None
    yv: Tensor | None
    n_classes: int | None
    likelihoods: list[Likelihood]
    metrics: tuple[str, ...]


def load_data(train: Any, valid: Any, configs: Sequence[Any], device: torch.device
              ) -> TrainingData:
    """Check ``train`` and ``valid`` and resolve each config's likelihood (see ``fit``).

    ``configs`` are :class:`~fnnlab.training.config.FitConfig` objects, one per network
    trained on this data; the first decides the metrics and the target form.
    """
    x, y, n_classes = as_xy(train, "train")
    # A classification Dataset's float target matrix: several binary tasks.
    default = "bernoulli" if y.dim() == 2 and y.dtype.is_floating_point and n_classes else None
    liks = [resolve(default if c.likelihood is None else c.likelihood, y,
                    **({"label_smoothing": c.label_smoothing} if c.label_smoothing else {}))
            for c in configs]
    y, xv, yv, n_classes = prepare_data(x, y, n_classes, valid, liks[0])
    tasks = y.shape[1] if liks[0].task == "classification" and y.dim() == 2 else 1
    metrics = check_metrics(configs[0].metrics, liks[0], tasks)
    if xv is not None:
        xv, yv = xv.to(device), yv.to(device)
    return TrainingData(x.to(device), y.to(device), xv, yv, n_classes, liks, metrics)
