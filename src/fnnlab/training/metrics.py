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

A comparison ranks by one metric per task, TabArena's (Erickson et al. 2025):
ROC AUC for binary classification, log-loss for multiclass (accuracy beside it),
RMSE for regression (:func:`task_metrics`); :func:`to_error` turns any of them
into an error, lower is better, for the leaderboard.

These are also the benchmark's scores (``fnnlab.bench``): accuracy, balanced accuracy
and ROC AUC of each fitted model on the validation and test splits.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from fnnlab.registry import Registry

__all__ = ["LOWER_IS_BETTER", "METRICS", "default_metrics", "task_metrics", "to_error"]

METRICS: Registry = Registry("metric")


def _need_proba(name: str, y_proba: np.ndarray | None) -> np.ndarray:
    if y_proba is None:
        raise ValueError(
            f"Metric {name!r} needs class probabilities; it applies to classification "
            f"likelihoods (bernoulli, categorical) only."
        )
    return y_proba


@METRICS.register("accuracy", "acc")
def accuracy(y_true: np.ndarray, y_pred: np.ndarray, y_proba: np.ndarray | None) -> float:
    """Fraction of samples whose predicted class is the true class."""
    return float(skm.accuracy_score(y_true, y_pred))


@METRICS.register("balanced_accuracy")
def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray,
                      y_proba: np.ndarray | None) -> float:
    """Mean recall over the classes present in ``y_true``."""
    return float(skm.balanced_accuracy_score(y_true, y_pred))


@METRICS.register("roc_auc", "auc")
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


def default_metrics(task: str) -> tuple[str, ...]:
    """The metrics logged when ``fit`` gets ``metrics=None``."""
    return ("accuracy",) if task == "classification" else ("r2",)


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
