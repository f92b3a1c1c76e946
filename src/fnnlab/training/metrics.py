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
roc_auc            area under the ROC curve (binary; one-vs-rest   y_proba
                   macro average for more classes)
log_loss           mean -log p(y_true) (the categorical NLL)       y_proba
mse, mae           mean squared / absolute error                   y_pred
r2                 1 - SS_res / SS_tot (coefficient of determination) y_pred
=================  ==============================================  ==========
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from fnnlab.registry import Registry

__all__ = ["METRICS", "default_metrics"]

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
    """ROC AUC; one-vs-rest macro average for more than two classes. NaN if one class."""
    proba = _need_proba("roc_auc", y_proba)
    present = np.unique(y_true)
    if present.size < 2:
        return float("nan")
    if present.size < proba.shape[1]:
        # sklearn's OvR needs every column's class present; score the present ones.
        proba = proba[:, present] / proba[:, present].sum(1, keepdims=True)
        y_true = np.searchsorted(present, y_true)
    if proba.shape[1] == 2:
        return float(skm.roc_auc_score(y_true, proba[:, 1]))
    return float(skm.roc_auc_score(y_true, proba, multi_class="ovr", average="macro"))


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


@METRICS.register("r2")
def r2(y_true: np.ndarray, y_pred: np.ndarray, y_proba: np.ndarray | None) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot (NaN for fewer than 2 samples)."""
    if len(y_true) < 2:
        return float("nan")
    return float(skm.r2_score(y_true, y_pred))


def default_metrics(task: str) -> tuple[str, ...]:
    """The metrics logged when ``fit`` gets ``metrics=None``."""
    return ("accuracy",) if task == "classification" else ("r2",)
