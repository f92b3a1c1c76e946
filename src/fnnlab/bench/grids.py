"""Hyperparameter grids of the method comparison, as data.

A grid is a dict (or the same thing as JSON) from a method name to a dict of
parameter -> list of values; a scalar stands for a one-value list. The key
``"fnn"`` holds the defaults shared by every network method, and an entry for a
preset (``"snn"``) extends or overrides it for that preset. Baselines take their
own entry (``"svm"``) or, when absent, their built-in small grid from
``fnnlab.bench.baselines.BASELINE_GRIDS``::

    {"fnn": {"depth": [2, 4], "width": 64, "lr": [0.01, 0.1], "epochs": 30},
     "snn": {"dropout": [0.0, 0.05]},
     "svm": {"C": [1.0, 10.0]}}

A network parameter is either an ``FNNSpec`` field (architecture) or one of
:data:`FIT_PARAMETERS` (training, a field of ``FitConfig``); anything else is
rejected before any job starts, with the closest known name, and so is a value that
``FNNSpec`` or ``FitConfig`` rejects (:func:`check_values`).

The ``paper`` grid is the one the SNN paper's supplementary material lists for
its UCI comparison (Klambauer et al. 2017, Sec. A4): widths {1024, 512, 256},
depths {2, 3, 4, 8, 16, 32}, learning rates {0.01, 0.1, 1}, layer form
rectangular or conic, dropout {0, 0.05} for SNNs (alpha dropout) and {0, 0.5}
for ReLU nets and highway nets; residual nets with {2, 3, 4, 8, 16} residual
blocks of {1024, 512, 256} units, block form rectangular or "diavolo" and
bottleneck {25 %, 50 %} (``FNNSpec.layer_form``, ``block_form``, ``bottleneck``;
a resnet's ``depth`` counts its residual blocks, as the paper does). Choices that
are ours and not the paper's:

- conic widths shrink geometrically from ``width`` to ``width // 8`` (at least the
  number of outputs) at the last hidden layer; the paper does not give them;
- highway nets have 256 units: the paper gives no highway width. A highway block
  holds two width x width maps (transform and gate), so at 256 units it has as
  many weights as a dense layer of 362, inside the paper's range of dense widths,
  and one width keeps the highway grid, which also searches the gate bias, near
  the size of the others;
- highway nets search the initial transform-gate bias over {-1, -2, -3, -4}:
  Srivastava, Greff & Schmidhuber (2015, arXiv:1507.06228) initialize it negative
  ("e.g. -1, -3") and deeper nets need more carry at the start (the ``FNNSpec``
  default, -ln of the number of blocks, spans -1 to -3.4 over the grid's depths);
- a rectangular residual block has no inner layer to narrow, so its two bottleneck
  points are the same network, trained twice; the grid keeps the paper's product;
- training runs 100 epochs of SGD with batch size 64 and keeps the weights of the
  epoch with the lowest validation loss smoothed by a trailing moving average over 10
  epochs (``stopping_window``, :func:`fnnlab.training.record.monitor_value`). The
  supplement chose the stopping epoch "on the smoothed learning curves of 100 epochs
  of the validation set" with "moving averages of 10 consecutive values"; it names
  neither the curve nor where the window sits, and the loss with a trailing window
  is our reading. There is no patience: every network runs its 100 epochs, as in the
  paper (the quick grid keeps ``early_stopping``).
"""

from __future__ import annotations

import difflib
import itertools
import json
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from fnnlab.bench.baselines import BASELINE_GRIDS, BASELINES, baseline_parameters
from fnnlab.models import METHODS, FNNSpec
from fnnlab.training import OPTIMIZERS, SCHEDULES, FitConfig

Grid = dict[str, dict[str, list[Any]]]

# FitConfig options a grid may not set: the harness sets them per job (seed, progress),
# they do not change what is learned (device, checkpoints, metrics, callbacks), or they
# would change what a job is (likelihood: the comparison trains classifiers; bagging:
# an ensemble instead of one network).
_NOT_IN_GRIDS = frozenset({
    "seed", "progress", "device", "checkpoint", "checkpoint_every", "resume", "metrics",
    "callbacks", "likelihood", "bagging",
})

# The training options a grid may set (fields of FitConfig); everything else is an
# FNNSpec field.
FIT_PARAMETERS: frozenset[str] = frozenset(FitConfig.field_names()) - _NOT_IN_GRIDS

# Small on purpose, so `make demo` finishes in minutes on a laptop: 7 presets x 4 bundled
# data sets x 4 points x 3 seeds = 336 shallow, narrow networks, few epochs, early stopping.
QUICK: Grid = {
    "fnn": {"depth": [2, 4], "width": [64], "lr": [0.01, 0.1], "dropout": [0.0],
            "epochs": [20], "batch_size": [64], "early_stopping": [5]},
}

_PAPER_TRAINING = {"epochs": [100], "batch_size": [64], "stopping_window": [10]}
_PAPER_SHAPE = {"width": [1024, 512, 256], "depth": [2, 3, 4, 8, 16, 32],
                "lr": [0.01, 0.1, 1.0]}
# Only dense nets can be conic: the highway, residual and Grid LSTM entries pin the
# layer form (grid_lstm is no method of the paper; its entry keeps the grid valid for
# every preset). The module docstring says which choices are ours.
PAPER: Grid = {
    "fnn": {**_PAPER_SHAPE, "dropout": [0.0], "layer_form": ["rectangular", "conic"],
            **_PAPER_TRAINING},
    "snn": {"dropout": [0.0, 0.05]},
    "msra": {"dropout": [0.0, 0.5]},
    "highway": {"width": [256], "dropout": [0.0, 0.5], "layer_form": ["rectangular"],
                "gate_bias": [-1.0, -2.0, -3.0, -4.0]},
    "resnet": {"depth": [2, 3, 4, 8, 16], "layer_form": ["rectangular"],
               "block_form": ["rectangular", "diavolo"], "bottleneck": [0.25, 0.5]},
    "grid_lstm": {"layer_form": ["rectangular"]},
}

GRIDS: dict[str, Grid] = {"quick": QUICK, "paper": PAPER}


def load_grid(grid: str | Path | Mapping[str, Any]) -> Grid:
    """Return the grid named ``"quick"`` / ``"paper"``, read from a JSON file, or given as a dict.

    Values are normalized to lists; the grid is not yet validated against methods
    (see :func:`check_grid`).
    """
    if isinstance(grid, Mapping):
        raw = grid
    elif isinstance(grid, str) and grid in GRIDS:
        raw = GRIDS[grid]
    elif isinstance(grid, str | Path):
        path = Path(grid)
        if not path.is_file():
            raise FileNotFoundError(
                f"Grid {str(grid)!r} is neither a built-in grid ({', '.join(GRIDS)}) "
                f"nor an existing JSON file."
            )
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"Grid file {str(path)!r} is not valid JSON: {error}.") from None
    else:
        raise TypeError(f"grid must be a name, a path or a dict, got {type(grid).__name__}.")
    if not isinstance(raw, Mapping):
        raise ValueError(f"A grid maps method names to parameter dicts, got {raw!r}.")
    out: Grid = {}
    for method, params in raw.items():
        if not isinstance(params, Mapping):
            raise ValueError(
                f"Grid entry {method!r} must map parameter names to value lists, got {params!r}."
            )
        out[str(method)] = {
            str(k): list(v) if isinstance(v, list | tuple) else [v] for k, v in params.items()
        }
        for key, values in out[str(method)].items():
            if not values:
                raise ValueError(f"Grid entry {method}.{key} has no values.")
    return out


def fnn_parameters() -> set[str]:
    """Parameter names a network grid accepts: FNNSpec fields (but the shape) and fit's."""
    spec = {f.name for f in fields(FNNSpec)} - {"in_features", "out_features", "method"}
    return spec | FIT_PARAMETERS


def split_point(point: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a network grid point into ``FNNSpec`` fields and fit options."""
    spec = {k: v for k, v in point.items() if k not in FIT_PARAMETERS}
    return spec, {k: v for k, v in point.items() if k in FIT_PARAMETERS}


def method_grid(grid: Grid, method: str, *, baseline: bool) -> dict[str, list[Any]]:
    """The parameter grid of one method: its own entry over the shared ``"fnn"`` one."""
    if baseline:
        return dict(grid.get(method, BASELINE_GRIDS.get(method, {})))
    return {**grid.get("fnn", {}), **grid.get(method, {})}


def grid_points(params: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """All combinations of a parameter grid, in a fixed order (keys sorted, values as given)."""
    keys = sorted(params)
    return [dict(zip(keys, values, strict=True))
            for values in itertools.product(*(params[k] for k in keys))]


def check_grid(grid: Grid, methods: list[str], baselines: list[str]) -> None:
    """Raise ``ValueError`` for a parameter no method of the grid accepts, or an unknown key.

    ``methods`` are canonical ``METHODS`` names, ``baselines`` canonical ``BASELINES`` names.
    """
    known_fnn = fnn_parameters() if methods or _has_fnn_entries(grid) else set()
    for key, params in grid.items():
        if key in BASELINES:
            name = BASELINES.canonical(key)
            allowed = baseline_parameters(name)
            what = f"baseline {name!r}"
        elif key == "fnn" or key in METHODS:
            allowed = known_fnn
            what = "networks" if key == "fnn" else f"method {key!r}"
        else:
            raise ValueError(
                f"Grid has an entry {key!r} that is neither 'fnn', a method nor a baseline."
                f"{_hint(key, ['fnn', *METHODS.names(), *BASELINES.names()])}"
            )
        for param in params:
            if param not in allowed:
                raise ValueError(
                    f"Grid parameter {key}.{param} is not a parameter of {what}."
                    f"{_hint(param, allowed)} Known: {', '.join(sorted(allowed))}."
                )


def check_values(points: Mapping[str, list[dict[str, Any]]]) -> None:
    """Raise before any job starts if a network grid point holds a value training rejects.

    Every distinct architecture of a method is built into an ``FNNSpec`` (which checks
    types and ranges) and every distinct set of fit options into fit's options, so a
    value such as ``"lr": ["x"]`` or ``"depth": [0]`` is an error naming the method, the
    point and the reason, not a comparison whose every job fails. Baseline values are
    left to scikit-learn, which checks them when a job fits the estimator.

    Parameters
    ----------
    points : mapping of str to list of dict
        A ``METHODS`` name to its grid points (see :func:`grid_points`).
    """
    for method, method_points in points.items():
        seen: set[str] = set()
        for point in method_points:
            spec, options = split_point(point)
            for part, check in ((spec, _check_spec), (options, _check_options)):
                text = repr(sorted(part.items())) + check.__name__
                if text in seen:
                    continue
                seen.add(text)
                try:
                    check(method, part)
                except (TypeError, ValueError) as error:
                    kind = ValueError if isinstance(error, ValueError) else TypeError
                    raise kind(f"Grid point {point} of method {method!r} is invalid: "
                               f"{error}") from None


def _check_spec(method: str, spec: dict[str, Any]) -> None:
    # The feature counts are placeholders: the data sets are not read yet, and no
    # FNNSpec check ties a grid value to them.
    FNNSpec(in_features=8, out_features=2, method=method, **spec)


def _check_options(method: str, options: dict[str, Any]) -> None:
    config = FitConfig(**options)
    # Names are resolved only when training starts; look them up now.
    for name, registry in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES)):
        if isinstance(getattr(config, name), str):
            registry.canonical(getattr(config, name))


def _hint(name: str, known: Any) -> str:
    by_lower = {k.lower(): k for k in sorted(known, reverse=True)}
    close = difflib.get_close_matches(name.lower(), sorted(by_lower), n=1)
    return f" Did you mean {by_lower[close[0]]!r}?" if close else ""


def _has_fnn_entries(grid: Grid) -> bool:
    return any(key not in BASELINES for key in grid)
