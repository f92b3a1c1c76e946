"""Scoring a trained model of the comparison on its validation and test splits.

Every job is scored in every metric of its task, so a stored comparison can be
re-ranked by another metric without training (``fnnlab compare --table --metric``):
:data:`CLASSIFICATION_METRICS` for a classifier, :data:`REGRESSION_METRICS` for a
regressor (in the target's units: a regression model learns standardized targets and
its predictions are mapped back before scoring, see ``fnnlab.bench.units``). A score's
name in a store row is ``valid_<metric>`` or ``test_<metric>``, with the metric's name
in ``fnnlab.training.metrics.METRICS`` (the one registry of metrics, where "auc" is an
alias of "roc_auc"). The time to predict the test part is measured too, for the
leaderboard's seconds per 1000 rows.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from fnnlab.training.metrics import METRICS as REGISTRY

CLASSIFICATION_METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "roc_auc",
                                           "log_loss")
REGRESSION_METRICS: tuple[str, ...] = ("rmse", "mae", "r2")
# The registry names the comparison records (each job: those of its task).
METRICS: tuple[str, ...] = CLASSIFICATION_METRICS + REGRESSION_METRICS

# A prediction of rows: (classes or values, class scores or None).
Predict = Callable[[Any], tuple[np.ndarray, np.ndarray | None]]


def network_scores(model: torch.nn.Module, splits: Any,
                   unscale: Callable[[np.ndarray], np.ndarray] | None = None
                   ) -> tuple[dict[str, float], float]:
    """Scores of a trained network on ``splits.valid`` and ``splits.test``, and predict seconds.

    Classes are the arg-max of the logits, with the softmax probabilities as class
    scores; a regression network's outputs go through ``unscale`` (standardized
    targets back to the target's units).
    """
    model = model.eval()

    def predict(X: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        with torch.no_grad():
            out = model(X)
        if splits.task == "regression":
            return unscale(out.double().numpy().reshape(len(X), -1).squeeze(1)), None
        return out.argmax(1).numpy(), torch.softmax(out.double(), dim=1).numpy()

    return _both(splits, predict, torch_inputs=True)


def estimator_scores(estimator: Any, splits: Any,
                     unscale: Callable[[np.ndarray], np.ndarray] | None = None
                     ) -> tuple[dict[str, float], float]:
    """Scores of a fitted scikit-learn estimator on ``splits.valid`` and ``splits.test``.

    Class scores are ``predict_proba`` where the estimator has it, else
    ``decision_function`` (an SVM without probability calibration: ROC AUC ranks by
    it, log-loss is then NaN).
    """
    def predict(X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if splits.task == "regression":
            return unscale(np.asarray(estimator.predict(X), dtype=float).reshape(-1)), None
        if hasattr(estimator, "predict_proba"):
            s = estimator.predict_proba(X)
        else:
            s = estimator.decision_function(X)
        return np.asarray(estimator.predict(X)).reshape(-1), s

    return _both(splits, predict, torch_inputs=False)


def _both(splits: Any, predict: Predict, *, torch_inputs: bool) -> tuple[dict[str, float], float]:
    out, seconds = {}, 0.0
    for part in ("valid", "test"):
        data = getattr(splits, part)
        tick = time.perf_counter()
        pred, s = predict(data.X if torch_inputs else data.X.numpy())
        seconds = time.perf_counter() - tick  # the test part's, which comes last
        if splits.task == "regression":
            values = regression_scores(data.y.numpy().astype(float), pred)
        else:
            values = scores(data.y.numpy(), pred, s, splits.n_classes)
        out.update({f"{part}_{name}": value for name, value in values.items()})
    return out, seconds


def regression_scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R^2 of predictions ``pred`` of targets ``y`` (NaN if a value is not finite)."""
    if not np.isfinite(pred).all():
        return dict.fromkeys(REGRESSION_METRICS, float("nan"))
    return {name: REGISTRY.get(name)(y, pred, None) for name in REGRESSION_METRICS}


def scores(y: np.ndarray, pred: np.ndarray, s: np.ndarray, n_classes: int) -> dict[str, float]:
    """Accuracy, balanced accuracy, ROC AUC (one-vs-rest macro mean) and log-loss.

    Parameters
    ----------
    y : ndarray of int, shape (N,)
        True class codes ``0..n_classes-1``.
    pred : ndarray of int, shape (N,)
        Predicted class codes.
    s : ndarray, shape (N, K) or (N,)
        Class scores: probabilities or decision values; (N,) for a binary decision
        function (positive means class 1).
    n_classes : int
        K.

    Returns
    -------
    dict of str to float
        One value per name of :data:`CLASSIFICATION_METRICS`. ROC AUC is NaN when no
        class is both present and absent in ``y`` or a score is not finite; log-loss
        is NaN unless ``s`` holds probabilities (N, K) that sum to one per row.
    """
    with warnings.catch_warnings():
        # A class the model predicts but a small split lacks is a legal outcome: balanced
        # accuracy is then the mean recall over the classes present, as documented.
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        out = {name: REGISTRY.get(name)(y, pred, None) for name in CLASSIFICATION_METRICS[:2]}
    s = np.asarray(s, dtype=float)
    out["roc_auc"] = REGISTRY.get("roc_auc")(y, pred, s)
    proba = (s.ndim == 2 and s.shape[1] == n_classes and np.isfinite(s).all()
             and (s >= 0).all() and np.allclose(s.sum(axis=1), 1.0, atol=1e-4))
    # Renormalized: float32 probabilities of a library sum to one within 1e-7 only,
    # and scikit-learn's log_loss warns about that.
    out["log_loss"] = (REGISTRY.get("log_loss")(y, pred, s / s.sum(axis=1, keepdims=True))
                       if proba else float("nan"))
    return out
