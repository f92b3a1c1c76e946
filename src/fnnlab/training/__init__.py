"""Training: the fit loop, optimizers and schedules, regularization, callbacks,
checkpoints.

One concept per file: ``config.py`` (``FitConfig``, every training option),
``fit.py`` (the loop), ``bagging.py`` (the ``Ensemble`` module, and
``fit(..., bagging=n)``, a route to ``fit_ensemble``), ``record.py`` (what an epoch
records), ``optimizers.py``, ``schedules.py``, ``regularization.py``, ``callbacks.py``,
``metrics.py``, ``checkpoint.py`` (save/load, atomic and pickle-safe), ``predict.py``,
``result.py``, ``ensemble.py`` (``fit_ensemble``: k members of one spec trained as
one stack, with or without bootstrap samples; the one implementation of bagging),
``search.py`` (``search``: successive halving inside stacks),
``stacked/`` (``fit_many``: many same-shaped networks trained as one vectorized model).
"""

from fnnlab.training.bagging import Ensemble, fit_bagged
from fnnlab.training.callbacks import Callback, EarlyStopping, FitState, ProgressBar
from fnnlab.training.checkpoint import load, read, save
from fnnlab.training.checkpoint import load as load_model
from fnnlab.training.checkpoint import save as save_model
from fnnlab.training.config import FitConfig
from fnnlab.training.ensemble import fit_ensemble, member_predictions, uncertainty
from fnnlab.training.fit import fit
from fnnlab.training.metrics import METRICS, per_task
from fnnlab.training.optimizers import OPTIMIZERS, make_optimizer
from fnnlab.training.predict import predict, predict_proba
from fnnlab.training.result import FitResult
from fnnlab.training.schedules import SCHEDULES, Schedule
from fnnlab.training.search import SearchResult, search
from fnnlab.training.stacked import fit_many

__all__ = [
    "METRICS",
    "OPTIMIZERS",
    "SCHEDULES",
    "Callback",
    "EarlyStopping",
    "Ensemble",
    "FitConfig",
    "FitResult",
    "FitState",
    "ProgressBar",
    "Schedule",
    "SearchResult",
    "fit",
    "fit_bagged",
    "fit_ensemble",
    "fit_many",
    "load",
    "load_model",
    "make_optimizer",
    "member_predictions",
    "per_task",
    "predict",
    "predict_proba",
    "read",
    "save",
    "save_model",
    "search",
    "uncertainty",
]
