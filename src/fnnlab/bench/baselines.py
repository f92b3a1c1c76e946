"""Machine-learning baselines of the method comparison, from scikit-learn.

The SNN paper compared its networks with the best classical methods of the
UCI study of Fernández-Delgado et al. (2014) (Klambauer et al. 2017, Table 1,
"ML method comparison"): SVMs and random forests first. ``BASELINES`` holds one
factory per method, each returning a fresh, unfitted scikit-learn estimator
with its hyperparameters set, and ``BASELINE_GRIDS`` the small grid each one is
tuned over on the validation split.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from fnnlab.registry import Registry

BASELINES: Registry = Registry("baseline")


def _scaled(estimator: BaseEstimator) -> BaseEstimator:
    # Distance- and margin-based methods need standardized features; the scaler is fitted
    # on the training split only, so no statistic of valid/test leaks into the model.
    return make_pipeline(StandardScaler(), estimator)


@BASELINES.register("svm")
def svm(*, seed: int = 0, **params: Any) -> BaseEstimator:
    """Support vector machine with RBF kernel, k(x, x') = exp(-gamma ||x - x'||^2)."""
    return _scaled(SVC(kernel="rbf", random_state=seed, **params))


@BASELINES.register("rf", "random_forest")
def rf(*, seed: int = 0, **params: Any) -> BaseEstimator:
    """Random forest (Breiman 2001)."""
    params.setdefault("n_estimators", 100)
    return RandomForestClassifier(random_state=seed, n_jobs=1, **params)


@BASELINES.register("logreg", "logistic_regression")
def logreg(*, seed: int = 0, **params: Any) -> BaseEstimator:
    """L2-regularized (multinomial) logistic regression."""
    params.setdefault("max_iter", 2000)
    return _scaled(LogisticRegression(random_state=seed, **params))


@BASELINES.register("gbm", "hist_gradient_boosting")
def gbm(*, seed: int = 0, **params: Any) -> BaseEstimator:
    """Histogram gradient boosting (scikit-learn's LightGBM-style trees).

    Early stopping on 10% of the training rows (never the validation split) keeps the
    number of boosting rounds, and the run time on many-class data, small.
    """
    params.setdefault("early_stopping", True)
    return HistGradientBoostingClassifier(random_state=seed, **params)


@BASELINES.register("knn")
def knn(*, seed: int = 0, **params: Any) -> BaseEstimator:
    """k-nearest neighbours on standardized features (``seed`` is unused: no randomness)."""
    return _scaled(KNeighborsClassifier(**params))


# Small grids, a few points each: enough to make every baseline competitive on small
# tabular data while keeping the quick suite fast.
BASELINE_GRIDS: dict[str, dict[str, list[Any]]] = {
    "svm": {"C": [0.1, 1.0, 10.0, 100.0], "gamma": ["scale"]},
    "rf": {"max_features": ["sqrt", 0.5]},
    "logreg": {"C": [0.01, 0.1, 1.0, 10.0]},
    "gbm": {"learning_rate": [0.1], "max_leaf_nodes": [15, 31]},
    "knn": {"n_neighbors": [1, 5, 15], "weights": ["distance"]},
}


def baseline_parameters(name: str) -> set[str]:
    """The hyperparameter names the baseline ``name`` accepts (for grid validation)."""
    estimator = BASELINES.create(name)
    if hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    return set(estimator.get_params(deep=False))
