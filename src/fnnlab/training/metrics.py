"""Evaluation metrics by name, computed with scikit-learn.

Every entry of :data:`METRICS` is a function ``(y_true, y_pred, y_proba) -> float`` on
NumPy arrays: ``y_pred`` holds predictions (classes or values) and ``y_proba`` class
probabilities of shape (N, n_classes), or ``None`` for regression. The fit loop logs
each as ``valid_<name>`` in the history.

=================  ==============================================  ==========
name               definition                                      needs
=================  ==============================================  ==========
accuracy           fraction of correct classes                     y_pred
balanced_accuracy  mean of the per-class recalls                   y_pred
roc_auc, auc       area under the ROC curve (binary; one-vs-rest   y_proba
                   mean over the classes present for more)         (or scores)
log_loss           mean -log p(y_true) (the categorical NLL)       y_proba
mse, mae           mean squared / absolute error                   y_pred
rmse               root mean squared error, sqrt(mse)              y_pred
r2                 1 - SS_res / SS_tot (coefficient of determination) y_pred
=================  ==============================================  ==========

Several binary tasks (a target matrix (N, T) with NaN where a label is missing, the
bernoulli likelihood's multi-task form): ``y_true`` and ``y_pred`` are (N, T) and
``y_proba`` holds P(y_t = 1), (N, T). The classification metrics then score each task
on its observed rows and return the mean over the tasks (the Tox21 convention: mean
ROC AUC over the 12 assays); :func:`per_task` returns the T values themselves.

A comparison ranks by one metric per task, TabArena's (Erickson et al. 2025):
ROC AUC for binary classification, log-loss for multiclass (accuracy beside it),
RMSE for regression (:func:`task_metrics`); :func:`to_error` turns any of them
into an error, lower is better, for the leaderboard.

These are also the benchmark's scores (``fnnlab.bench``): accuracy, balanced accuracy
and ROC AUC of each fitted model on the validation and test splits.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

import numpy as np
from sklearn import metrics as skm

from fnnlab.registry import Registry

__all__ = ["LOWER_IS_BETTER", "METRICS", "default_metrics", "per_task", "task_metrics",
           "to_error"]

METRICS: Registry = Registry("metric")

Metric = Callable[[np.ndarray, np.ndarray, "np.ndarray | None"], float]


def _need_proba(name: str, y_proba: np.ndarray | None) -> np.ndarray:
    if y_proba is None:
        raise ValueError(
            f"Metric {name!r} needs class probabilities; it applies to classification "
            f"likelihoods (bernoulli, categorical) only."
        )
    return y_proba


def _task_columns(metric: Metric, y_true: np.ndarray, y_pred: np.ndarray,
                  y_proba: np.ndarray | None) -> np.ndarray:
    """``metric`` on each column of a (N, T) target, over the rows observed there."""
    n_tasks = y_true.shape[1]
    y_pred = np.asarray(y_pred).reshape(len(y_true), n_tasks)
    if y_proba is not None:
        y_proba = np.asarray(y_proba, dtype=float)
        # One task: the bernoulli likelihood gives [P(0), P(1)]; keep P(1).
        y_proba = y_proba[:, 1:] if n_tasks == 1 and y_proba.shape[1] == 2 else y_proba
    values = np.full(n_tasks, np.nan)
    for t in range(n_tasks):
        observed = ~np.isnan(y_true[:, t])
        if not observed.any():
            continue
        proba = None if y_proba is None else np.stack(
            [1.0 - y_proba[observed, t], y_proba[observed, t]], axis=1)
        values[t] = metric(y_true[observed, t].astype(np.int64), y_pred[observed, t], proba)
    return values


def _over_tasks(metric: Metric) -> Metric:
    """Let a binary classification metric take a (N, T) target: the mean over tasks."""

    @functools.wraps(metric)
    def scored(y_true: np.ndarray, y_pred: np.ndarray, y_proba: np.ndarray | None) -> float:
        y_true = np.asarray(y_true)
        if y_true.ndim != 2:
            return metric(y_true, y_pred, y_proba)
        values = _task_columns(metric, y_true.astype(float), y_pred, y_proba)
        with warnings.catch_warnings():  # all NaN (no task scorable): NaN, said by the value
            warnings.simplefilter("ignore", RuntimeWarning)
            return float(np.nanmean(values))

    return scored


def per_task(name: str, y_true: np.ndarray, y_pred: np.ndarray | None,
             y_proba: np.ndarray | None = None) -> np.ndarray:
    """Metric ``name`` of each task of a (N, T) target, each over its observed rows.

    Parameters
    ----------
    name : str
        A classification metric of :data:`METRICS` ("roc_auc", "accuracy",
        "balanced_accuracy", "log_loss").
    y_true : numpy.ndarray of shape (N, T)
        0/1 labels, NaN where a label is missing; a (N,) target is one task.
    y_pred : numpy.ndarray of shape (N, T) or None
        Predicted classes; None: P(y_t = 1) > 0.5.
    y_proba : numpy.ndarray of shape (N, T), optional
        P(y_t = 1 | x), as the bernoulli likelihood's ``predict_proba`` returns it.

    Returns
    -------
    numpy.ndarray of shape (T,)
        One value per task, NaN where it cannot be computed (a task with one class
        among its observed rows has no ROC AUC). Their ``np.nanmean`` is what
        ``METRICS.get(name)`` returns for the same arguments.

    Examples
    --------
    >>> y = np.array([[0, 1], [1, np.nan], [0, 0], [1, 1]])
    >>> p = np.array([[0.2, 0.9], [0.8, 0.5], [0.3, 0.1], [0.6, 0.4]])
    >>> per_task("roc_auc", y, None, p)
    array([1., 1.])
    """
    metric = METRICS.get(name)
    metric = getattr(metric, "__wrapped__", metric)
    y_true = np.asarray(y_true, dtype=float)
    y_true = y_true[:, None] if y_true.ndim == 1 else y_true
    if y_pred is None:
        if y_proba is None:
            raise ValueError(f"per_task({name!r}) needs y_pred or y_proba; got neither.")
        y_pred = (np.asarray(y_proba).reshape(len(y_true), -1)[:, -y_true.shape[1]:] > 0.5)
    return _task_columns(metric, y_true, y_pred, y_proba)


@METRICS.register("accuracy", "acc")
@_over_tasks
def accuracy(y_true: np.ndarray, y_pred: np.ndarray, y_proba: np.ndarray | None) -> float:
    """Fraction of samples whose predicted class is the true class."""
    return float(skm.accuracy_score(y_true, y_pred))


@METRICS.register("balanced_accuracy")
@_over_tasks
def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray,
                      y_proba: np.ndarray | None) -> float:
    """Mean recall over the classes present in ``y_true``."""
    return float(skm.balanced_accuracy_score(y_true, y_pred))


@METRICS.register("roc_auc", "auc")
@_over_tasks
def roc_auc(y_true: np.ndarray, y_pred: np.ndarray, y_proba: np.ndarray | None) -> float:
    """ROC AUC of class scores; the one-vs-rest mean over the classes present.

    ``y_proba`` holds probabilities or any other class scores (decision values need
    not sum to one), shape (N, n_classes), or (N,) for a binary decision function.
    The AUC of class k ranks the rows by column k. Two classes: class 1's AUC (class
    0's is the same value). More: the mean over the classes present in ``y_true``,
    which for probabilities equals scikit-learn's ``roc_auc_score(multi_class="ovr",
    average="macro")``. NaN with fewer than two classes present or non-finite scores.
    """
    scores = np.asarray(_need_proba("roc_auc", y_proba), dtype=float)
    if scores.ndim == 1:
        scores = np.stack([-scores, scores], axis=1)
    if not np.isfinite(scores).all():
        return float("nan")
    y_true = np.asarray(y_true)
    aucs = [skm.roc_auc_score(y_true == k, scores[:, k]) for k in range(scores.shape[1])
            if 0 < np.sum(y_true == k) < len(y_true)]
    if scores.shape[1] == 2 and aucs:
        aucs = aucs[-1:]
    return float(np.mean(aucs)) if aucs else float("nan")


@METRICS.register("log_loss", "nll")
@_over_tasks
def log_loss(y_true: np.ndarray, y_pred: np.ndarray, y_proba: np.ndarray | None) -> float:
    """Mean negative log-probability of the true class."""
    proba = _need_proba("log_loss", y_proba)
    return float(skm.log_loss(y_true, proba, labels=np.arange(proba.shape[1])))


@METRICS.register("mse")
def mse(y_true: np.ndarray, y_pred: np.ndarray, y_proba: np.ndarray | None) -> float:
    """Mean squared error."""
    return float(skm.mean_squared_error(y_true, y_pred))


@METRICS.register("mae")
def mae(y_true: np.ndarray, y_pred: np.ndarray, y_proba: np.ndarray | None) -> float:
    """Mean absolute error."""
    return float(skm.mean_absolute_error(y_true, y_pred))


@METRICS.register("rmse")
def rmse(y_true: np.ndarray, y_pred: np.ndarray, y_proba: np.ndarray | None) -> float:
    """Root mean squared error, in the target's units."""
    return float(np.sqrt(skm.mean_squared_error(y_true, y_pred)))


@METRICS.register("r2")
def r2(y_true: np.ndarray, y_pred: np.ndarray, y_proba: np.ndarray | None) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot (NaN for fewer than 2 samples)."""
    if len(y_true) < 2:
        return float("nan")
    return float(skm.r2_score(y_true, y_pred))


def default_metrics(task: str, n_tasks: int = 1) -> tuple[str, ...]:
    """The metrics logged when ``fit`` gets ``metrics=None``.

    Several binary tasks (``n_tasks > 1``, a classification target matrix): the mean
    ROC AUC over the tasks first, then the mean accuracy.
    """
    if task == "classification":
        return ("roc_auc", "accuracy") if n_tasks > 1 else ("accuracy",)
    return ("r2",)


LOWER_IS_BETTER = frozenset({"log_loss", "mse", "rmse", "mae"})
"""Metrics that are losses; every other metric is a score, higher is better, at most 1."""


def task_metrics(task: str, n_classes: int | None = None) -> tuple[str, ...]:
    """A comparison's metrics for a task; it ranks by the first (TabArena's choice).

    Binary classification: ROC AUC, accuracy. Multiclass: log-loss, accuracy.
    Regression: RMSE, MAE, R^2.

    Parameters
    ----------
    task : {"classification", "regression"}
    n_classes : int, optional
        Number of classes; required for classification.
    """
    if task == "regression":
        return ("rmse", "mae", "r2")
    if task != "classification":
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}.")
    if not isinstance(n_classes, int | np.integer) or n_classes < 2:
        raise ValueError(f"Classification needs n_classes >= 2, got {n_classes!r}.")
    return ("roc_auc", "accuracy") if n_classes == 2 else ("log_loss", "accuracy")


def to_error(name: str, value: float | np.ndarray) -> float | np.ndarray:
    """The metric ``name`` as an error (lower is better, >= 0): a loss as it is, a score 1 - s.

    1 - ROC AUC, 1 - accuracy and 1 - R^2 are 0 for a perfect model, so the
    leaderboard's improvability (1 - best error / error) is defined for every metric.
    """
    key = METRICS.canonical(name)
    return value if key in LOWER_IS_BETTER else 1.0 - value
