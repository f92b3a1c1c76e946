"""fnnlab: make deep feedforward networks train, and show why they do or don't.

The public API is the short list in ``__all__``; everything else is reached
through its subpackage (``fnnlab.nn``, ``fnnlab.data``, ``fnnlab.diagnostics``,
``fnnlab.bench``, ``fnnlab.theory``, ``fnnlab.plots``).

Models and data sets are loaded by different functions: ``fnnlab.save_model`` and
``fnnlab.load_model`` write and read a trained network (its spec and weights);
``fnnlab.save`` and ``fnnlab.load`` are the same two functions under their first
names, kept so existing code keeps working. Data sets come from
``fnnlab.data.load``.
"""

import importlib
from typing import Any

from fnnlab import data, nn, theory
from fnnlab.models import FNN, METHODS, FNNSpec, build
from fnnlab.registry import Registry  # noqa: F401  (kept importable; not in __all__)
from fnnlab.training import (
    FitConfig,
    FitResult,
    fit,
    fit_ensemble,
    fit_many,
    load,
    load_model,
    save,
    save_model,
    search,
)

__version__ = "0.1.0"

# Heavier subpackages load on first use (``fnnlab.bench``, ``fnnlab.diagnostics``, ...),
# so ``import fnnlab`` stays quick for a script that only trains a model.
_LAZY_MODULES = ("bench", "diagnostics", "plots", "report", "experiments", "sklearn")
_LAZY_NAMES = {"FNNClassifier": "sklearn", "FNNRegressor": "sklearn"}


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"fnnlab.{name}")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f"fnnlab.{_LAZY_NAMES[name]}"), name)
    raise AttributeError(f"module 'fnnlab' has no attribute {name!r}")


__all__ = [
    "FNN",
    "FNNClassifier",
    "FNNRegressor",
    "METHODS",
    "FNNSpec",
    "FitConfig",
    "FitResult",
    "__version__",
    "build",
    "data",
    "fit",
    "fit_ensemble",
    "fit_many",
    "load",
    "load_model",
    "nn",
    "save",
    "save_model",
    "search",
    "theory",
]
