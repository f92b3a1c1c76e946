"""Machine-learning baselines of the method comparison, for classification and regression.

The SNN paper compared its networks with the best classical methods of the
UCI study of Fernández-Delgado et al. (2014) (Klambauer et al. 2017, Table 1,
"ML method comparison"): SVMs and random forests first, here from scikit-learn.
Today's tabular benchmarks (TabArena, Erickson et al. 2025) add the gradient-boosted
tree libraries and the strongest tuned-default MLPs:

==========  ==================================================  =================
name        model                                               install
==========  ==================================================  =================
svm         RBF support vector machine (SVC / SVR)              scikit-learn
rf          random forest                                       scikit-learn
logreg      L2 logistic regression (classification only)        scikit-learn
gbm         histogram gradient boosting                         scikit-learn
knn         k-nearest neighbours                                scikit-learn
xgboost     XGBoost (Chen & Guestrin 2016)                      ``fnnlab[gbdt]``
lightgbm    LightGBM (Ke et al. 2017)                           ``fnnlab[gbdt]``
catboost    CatBoost (Prokhorenkova et al. 2018)                ``fnnlab[gbdt]``
realmlp     RealMLP-TD (Holzmüller et al. 2024)                 ``fnnlab[pytabkit]``
tabm        TabM-D (Gorishniy et al. 2025)                      ``fnnlab[pytabkit]``
==========  ==================================================  =================

``BASELINES`` holds one factory per method, called as
``BASELINES.create(name, task=..., seed=..., **params)``; it returns a fresh,
unfitted scikit-learn-compatible estimator (a classifier or a regressor, as ``task``
says) with the library's default settings except for the seed, one thread (the
runner parallelizes over jobs) and silence. ``BASELINE_GRIDS`` holds the small grid
each one is tuned over on the validation split; every grid contains the library's
default point. :func:`check_baselines` checks names, installs and tasks before a
comparison starts any job.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable, Iterable
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

from fnnlab.registry import Registry

BASELINES: Registry = Registry("baseline")

TASKS = ("classification", "regression")

# name -> (tasks it supports, (import name, pip extra) or None when scikit-learn suffices)
_TASKS: dict[str, tuple[str, ...]] = {}
_REQUIRES: dict[str, tuple[str, str]] = {}


def _baseline(name: str, *aliases: str, tasks: tuple[str, ...] = TASKS,
              requires: tuple[str, str] | None = None) -> Callable[[Callable], Callable]:
    """Register a factory under ``name`` and record its tasks and optional package."""

    def decorator(factory: Callable) -> Callable:
        BASELINES.register(name, *aliases)(factory)
        _TASKS[name] = tasks
        if requires is not None:
            _REQUIRES[name] = requires
        return factory

    return decorator


def _pick(name: str, task: str, classifier: Callable[[], Any] | None,
          regressor: Callable[[], Any] | None) -> Any:
    if task not in TASKS:
        raise ValueError(f"Baseline {name!r}: task must be 'classification' or 'regression', "
                         f"got {task!r}.")
    make = classifier if task == "classification" else regressor
    if make is None:
        raise ValueError(f"Baseline {name!r} does not do {task}; it supports "
                         f"{', '.join(_TASKS[name])} only.")
    return make()


def _scaled(estimator: BaseEstimator) -> BaseEstimator:
    # Distance- and margin-based methods need standardized features; the scaler is fitted
    # on the training split only, so no statistic of valid/test leaks into the model.
    return make_pipeline(StandardScaler(), estimator)


@_baseline("svm")
def svm(*, task: str = "classification", seed: int = 0, **params: Any) -> BaseEstimator:
    """Support vector machine with RBF kernel, k(x, x') = exp(-gamma ||x - x'||^2).

    SVR has no randomness, so ``seed`` only reaches SVC. The classifier's class
    probabilities come from Platt scaling fitted on 5 internal folds of the training
    part (scikit-learn's ``CalibratedClassifierCV(SVC(), ensemble=False)``, the
    replacement of ``SVC(probability=True)``): multiclass data sets are ranked by
    log-loss, which needs probabilities.
    """
    def classifier() -> BaseEstimator:
        return CalibratedClassifierCV(SVC(kernel="rbf", random_state=seed, **params),
                                      ensemble=False)

    return _scaled(_pick("svm", task, classifier,
                         lambda: SVR(kernel="rbf", **params)))


@_baseline("rf", "random_forest")
def rf(*, task: str = "classification", seed: int = 0, **params: Any) -> BaseEstimator:
    """Random forest (Breiman 2001), 100 trees (scikit-learn's default)."""
    params.setdefault("n_estimators", 100)
    return _pick("rf", task, lambda: RandomForestClassifier(random_state=seed, n_jobs=1, **params),
                 lambda: RandomForestRegressor(random_state=seed, n_jobs=1, **params))


@_baseline("logreg", "logistic_regression", tasks=("classification",))
def logreg(*, task: str = "classification", seed: int = 0, **params: Any) -> BaseEstimator:
    """L2-regularized (multinomial) logistic regression; classification only."""
    params.setdefault("max_iter", 2000)
    return _scaled(_pick("logreg", task,
                         lambda: LogisticRegression(random_state=seed, **params), None))


@_baseline("gbm", "hist_gradient_boosting")
def gbm(*, task: str = "classification", seed: int = 0, **params: Any) -> BaseEstimator:
    """Histogram gradient boosting (scikit-learn's LightGBM-style trees).

    Early stopping on 10% of the training rows (never the validation split) keeps the
    number of boosting rounds, and the run time on many-class data, small.
    """
    params.setdefault("early_stopping", True)
    return _pick("gbm", task, lambda: HistGradientBoostingClassifier(random_state=seed, **params),
                 lambda: HistGradientBoostingRegressor(random_state=seed, **params))


@_baseline("knn")
def knn(*, task: str = "classification", seed: int = 0, **params: Any) -> BaseEstimator:
    """k-nearest neighbours on standardized features (``seed`` is unused: no randomness)."""
    return _scaled(_pick("knn", task, lambda: KNeighborsClassifier(**params),
                         lambda: KNeighborsRegressor(**params)))


@_baseline("xgboost", "xgb", requires=("xgboost", "gbdt"))
def xgboost(*, task: str = "classification", seed: int = 0, **params: Any) -> Any:
    """XGBoost's scikit-learn estimator with its defaults (hist trees, 100 rounds, depth 6).

    References
    ----------
    Chen, Guestrin, "XGBoost: A Scalable Tree Boosting System", KDD 2016.
    """
    import xgboost as xgb

    return _pick("xgboost", task,
                 lambda: xgb.XGBClassifier(random_state=seed, n_jobs=1, **params),
                 lambda: xgb.XGBRegressor(random_state=seed, n_jobs=1, **params))


@_baseline("lightgbm", "lgbm", requires=("lightgbm", "gbdt"))
def lightgbm(*, task: str = "classification", seed: int = 0, **params: Any) -> Any:
    """LightGBM's scikit-learn estimator with its defaults (100 rounds, 31 leaves).

    References
    ----------
    Ke et al., "LightGBM: A Highly Efficient Gradient Boosting Decision Tree", NeurIPS 2017.
    """
    import lightgbm as lgb

    params.setdefault("verbose", -1)
    return _pick("lightgbm", task,
                 lambda: lgb.LGBMClassifier(random_state=seed, n_jobs=1, **params),
                 lambda: lgb.LGBMRegressor(random_state=seed, n_jobs=1, **params))


@_baseline("catboost", requires=("catboost", "gbdt"))
def catboost(*, task: str = "classification", seed: int = 0, **params: Any) -> Any:
    """CatBoost's scikit-learn estimator with its defaults (1000 rounds, depth 6, auto rate).

    ``allow_writing_files=False`` stops CatBoost from writing a ``catboost_info``
    folder of training logs into the working directory of every job.

    References
    ----------
    Prokhorenkova et al., "CatBoost: unbiased boosting with categorical features",
    NeurIPS 2018.
    """
    import catboost as cb

    params.setdefault("verbose", False)
    params.setdefault("allow_writing_files", False)
    return _pick("catboost", task,
                 lambda: cb.CatBoostClassifier(random_seed=seed, thread_count=1, **params),
                 lambda: cb.CatBoostRegressor(random_seed=seed, thread_count=1, **params))


@_baseline("realmlp", "realmlp_td", requires=("pytabkit", "pytabkit"))
def realmlp(*, task: str = "classification", seed: int = 0, **params: Any) -> Any:
    """RealMLP with its tuned defaults (RealMLP-TD), from ``pytabkit``.

    RealMLP-TD holds out 20% of the training rows itself to pick the best epoch, so it
    sees fewer rows for fitting than the other baselines; it never sees the comparison's
    validation split.

    References
    ----------
    Holzmüller, Grinsztajn, Steinwart, "Better by Default: Strong Pre-Tuned MLPs and
    Boosted Trees on Tabular Data", NeurIPS 2024.
    """
    import pytabkit

    kw = {"random_state": seed, "n_threads": 1, "device": "cpu", "verbosity": 0, **params}
    return _pick("realmlp", task, lambda: pytabkit.RealMLP_TD_Classifier(**kw),
                 lambda: pytabkit.RealMLP_TD_Regressor(**kw))


@_baseline("tabm", "tabm_d", requires=("pytabkit", "pytabkit"))
def tabm(*, task: str = "classification", seed: int = 0, **params: Any) -> Any:
    """TabM with its default settings (TabM-D), from ``pytabkit``.

    The ``tabm`` package holds the architecture only (no training loop); pytabkit wraps
    the authors' model with their default recipe (AdamW, early stopping on 20% of the
    training rows, batch size by data-set size) as a scikit-learn estimator.

    References
    ----------
    Gorishniy, Kotelnikov, Babenko, "TabM: Advancing Tabular Deep Learning with
    Parameter-Efficient Ensembling", ICLR 2025.
    """
    import pytabkit

    kw = {"random_state": seed, "n_threads": 1, "device": "cpu", "verbosity": 0, **params}
    return _pick("tabm", task, lambda: pytabkit.TabM_D_Classifier(**kw),
                 lambda: pytabkit.TabM_D_Regressor(**kw))


# Small grids, a few points each: enough to make every baseline competitive on small
# tabular data while keeping the quick suite fast. Each GBDT grid holds the library's
# default point and one step toward smaller trees / a slower rate; RealMLP-TD and
# TabM-D are tuned defaults and run as published (one point).
BASELINE_GRIDS: dict[str, dict[str, list[Any]]] = {
    "svm": {"C": [0.1, 1.0, 10.0, 100.0], "gamma": ["scale"]},
    "rf": {"max_features": ["sqrt", 0.5]},
    "logreg": {"C": [0.01, 0.1, 1.0, 10.0]},
    "gbm": {"learning_rate": [0.1], "max_leaf_nodes": [15, 31]},
    "knn": {"n_neighbors": [1, 5, 15], "weights": ["distance"]},
    "xgboost": {"learning_rate": [0.3, 0.1], "max_depth": [6, 3]},
    "lightgbm": {"learning_rate": [0.1, 0.05], "num_leaves": [31, 7]},
    "catboost": {"depth": [6, 4]},
    "realmlp": {},
    "tabm": {},
}


def baseline_tasks(name: str) -> tuple[str, ...]:
    """The tasks ("classification", "regression") the baseline ``name`` supports."""
    return _TASKS[BASELINES.canonical(name)]


def baseline_extra(name: str) -> str | None:
    """The pip extra that installs the baseline ``name``, or None for scikit-learn's."""
    requires = _REQUIRES.get(BASELINES.canonical(name))
    return None if requires is None else requires[1]


def check_baselines(names: Iterable[str], tasks: Iterable[str] = ()) -> None:
    """Raise before any job starts if a baseline is unknown, not installed or task-less.

    Parameters
    ----------
    names : iterable of str
        ``BASELINES`` names or aliases.
    tasks : iterable of str, optional
        The tasks of the comparison's data sets; each baseline must support all of them.

    Raises
    ------
    ValueError
        An unknown name (with the closest match), or a baseline that does not do one
        of ``tasks``.
    ImportError
        A baseline whose package is missing; the one-line message names the pip extra.
    """
    tasks = sorted(set(tasks))
    for task in tasks:
        if task not in TASKS:
            raise ValueError(f"Unknown task {task!r}; use 'classification' or 'regression'.")
    for name in names:
        key = BASELINES.canonical(name)
        if key in _REQUIRES:
            module, extra = _REQUIRES[key]
            if importlib.util.find_spec(module) is None:
                raise ImportError(f"Baseline {key!r} needs the package {module!r}, which is not "
                                  f"installed: pip install 'fnnlab[{extra}]'.")
        missing = [t for t in tasks if t not in _TASKS[key]]
        if missing:
            raise ValueError(f"Baseline {key!r} does not do {', '.join(missing)} (it supports "
                             f"{', '.join(_TASKS[key])} only); drop it or those data sets.")


def baseline_parameters(name: str) -> set[str]:
    """The hyperparameter names the baseline ``name`` accepts (for grid validation)."""
    check_baselines([name])
    estimator = BASELINES.create(name, task=baseline_tasks(name)[0])
    if hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    if isinstance(estimator, CalibratedClassifierCV):  # the grid sets the calibrated model's
        estimator = estimator.estimator
    # CatBoost's get_params lists only the parameters that were set; its constructor's
    # signature lists them all.
    signature = inspect.signature(type(estimator).__init__).parameters
    named = {k for k, p in signature.items()
             if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)} - {"self"}
    return set(estimator.get_params(deep=False)) | named
