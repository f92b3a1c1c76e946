"""Scoring a trained model of the comparison on its validation and test splits.

Every job is scored in every metric of :data:`METRICS`, so a stored comparison can be
re-ranked by another metric without training (``fnnlab compare --table --metric``).
A score's name in a store row is ``valid_<metric>`` or ``test_<metric>``, with the
metric's name in ``fnnlab.training.metrics.METRICS`` (the one registry of metrics,
where "auc" is an alias of "roc_auc").
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from fnnlab.training.metrics import METRICS as REGISTRY

# The registry names the comparison records for every job.
METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "roc_auc")


def network_scores(model: torch.nn.Module, splits: Any) -> dict[str, float]:
    """Scores of a trained network on ``splits.valid`` and ``splits.test``.

    Classes are the arg-max of the logits; AUC ranks by the softmax probabilities.
    """
    model = model.eval()

    def predict(X: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            logits = model(X)
        return logits.argmax(1).numpy(), torch.softmax(logits.double(), dim=1).numpy()

    return _both(splits, predict, torch_inputs=True)


def estimator_scores(estimator: Any, splits: Any) -> dict[str, float]:
    """Scores of a fitted scikit-learn classifier on ``splits.valid`` and ``splits.test``.

    AUC ranks by ``predict_proba`` where the estimator has it, else by
    ``decision_function`` (an SVM without probability calibration).
    """
    def predict(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if hasattr(estimator, "predict_proba"):
            s = estimator.predict_proba(X)
        else:
            s = estimator.decision_function(X)
        return estimator.predict(X), s

    return _both(splits, predict, torch_inputs=False)


def _both(splits: Any, predict: Any, *, torch_inputs: bool) -> dict[str, float]:
    out = {}
    for part in ("valid", "test"):
        data = getattr(splits, part)
        pred, s = predict(data.X if torch_inputs else data.X.numpy())
        for name, value in scores(data.y.numpy(), pred, s).items():
            out[f"{part}_{name}"] = value
    return out


def scores(y: np.ndarray, pred: np.ndarray, s: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy and ROC AUC (one-vs-rest macro mean over classes).

    Parameters
    ----------
    y : ndarray of int, shape (N,)
        True class codes ``0..K-1``.
    pred : ndarray of int, shape (N,)
        Predicted class codes.
    s : ndarray, shape (N, K) or (N,)
        Class scores: probabilities or decision values; (N,) for a binary decision
        function (positive means class 1).

    Returns
    -------
    dict of str to float
        One value per name of :data:`METRICS`; AUC is NaN when no class is both
        present and absent in ``y`` or a score is not finite.

    Notes
    -----
    Each metric is the registry's function (``fnnlab.training.metrics.METRICS``), the
    one the fit loop logs: ROC AUC there ranks by any class scores, so it also takes
    the decision values of an SVM without probability calibration.
    """
    with warnings.catch_warnings():
        # A class the model predicts but a small split lacks is a legal outcome: balanced
        # accuracy is then the mean recall over the classes present, as documented.
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return {name: REGISTRY.get(name)(y, pred, s) for name in METRICS}
