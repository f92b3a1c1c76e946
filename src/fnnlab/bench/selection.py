"""Choosing each method's grid point on validation, and the order that breaks ties.

Per (method, dataset, outer fold, seed) the grid point with the best validation
score (the lowest error, ``fnnlab.training.metrics.to_error``) is *kept* (not refitted
on train + valid) and its test score is that method's result for that fold and seed;
a method's score on a dataset is then the mean over folds and seeds. The test split is
never used for the choice (see ``fnnlab.bench.datasets``).

Ties in validation score are common: iris has 17 validation rows, so its accuracies
move in steps of 1/17 and many grid points share the best one. Which of them is kept
is then a rule of the protocol, never the order in which jobs finished. A rule
(:data:`TIE_RULES`) is a list of ``(parameter, preference)`` pairs tried in turn; a
point without the parameter (a baseline, or a grid that does not search it) is
neutral on it. Points still tied after the rule are ordered by their parameters
(names alphabetically, then smaller numbers first, other values by their JSON text),
so the choice is always the same for the same results.

- ``"paper"``: more layers, then the lower learning rate, then the higher dropout
  rate. Klambauer et al. (2017, arXiv:1706.02515, on the UCI comparison): "If
  multiple hyperparameters provided identical performance on the validation set, we
  preferred settings with a higher number of layers, lower learning rates and higher
  dropout rates" (as quoted in the public reproduction AdrienLE/SNN_repro,
  ``SNN.ipynb``, commit aa5f745, which also transcribed the accuracies of
  ``snn_paper_uci_accuracies.csv``). The paper says no more, so the order of the
  three criteria is the sentence's.
- ``"small"``: fewer layers, then fewer units per layer, then the paper's lower
  learning rate and higher dropout rate. At equal validation score the smaller
  network has no evidence against it and costs less to train and to predict
  (time per 1000 rows is part of the leaderboard); the lower learning rate and the
  higher dropout rate are the more conservative of two points that scored alike.
  Used by the random and cv protocols.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from fnnlab.training.metrics import to_error

# Each rule: (grid parameter, "high" or "low": which value is kept first).
TIE_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "paper": (("depth", "high"), ("lr", "low"), ("dropout", "high")),
    "small": (("depth", "low"), ("width", "low"), ("lr", "low"), ("dropout", "high")),
}

# The rule each protocol uses unless the caller names one.
PROTOCOL_TIES: dict[str, str] = {"paper": "paper", "random": "small", "cv": "small"}

# Validation errors equal to this many significant digits are a tie: the same
# accuracy reached through different float sums must not decide the choice.
_DIGITS = 12

_COLUMNS = ["method", "kind", "dataset", "fold", "seed", "params", "valid", "test", "error",
            "train_seconds", "predict_seconds", "n_train", "n_test", "n_points", "n_failed"]


def check_ties(ties: str) -> str:
    """Return ``ties`` if it names a rule of :data:`TIE_RULES`, else raise ``ValueError``."""
    if ties not in TIE_RULES:
        raise ValueError(f"Unknown tie rule {ties!r}. Known tie rules: "
                         f"{', '.join(TIE_RULES)} (paper: more layers, lower lr, higher "
                         f"dropout; small: fewer layers and units, lower lr, higher dropout).")
    return ties


def select(results: pd.DataFrame, metric: str | Mapping[str, str],
           ties: str = "small") -> pd.DataFrame:
    """Keep, per (method, dataset, fold, seed), the grid point with the best validation score.

    Among grid points whose validation errors agree to 12 significant digits, the
    tie rule ``ties`` decides, then the parameters' own order (see the module
    docstring); the choice never depends on the order of the rows. Failed jobs
    never win.

    Parameters
    ----------
    results : DataFrame
        Job rows of the store.
    metric : str or mapping of str to str
        The metric, or each data set's metric.
    ties : {"small", "paper"}, default="small"
        The tie rule, a key of :data:`TIE_RULES`; ``compare`` passes its protocol's
        (:data:`PROTOCOL_TIES`).

    Returns
    -------
    DataFrame
        One row per (method, dataset, fold, seed): ``params`` (the chosen point),
        ``valid`` and ``test`` (scores in the data set's metric), ``error`` (the test
        score as an error, lower is better), ``train_seconds``, ``predict_seconds``,
        ``n_train``, ``n_test``, ``n_points`` (grid points that finished),
        ``n_failed``; ``fold`` is -1 outside the cv protocol.
    """
    rule = TIE_RULES[check_ties(ties)]
    if results.empty:
        return pd.DataFrame(columns=_COLUMNS)
    frame = results.copy()
    name = frame["dataset"].map(metric) if isinstance(metric, Mapping) else metric
    frame["_metric"] = name
    for part, error in (("valid", "_valid_error"), ("test", "error")):
        pairs = zip(frame["scores"], frame["_metric"], strict=True)
        frame[part] = [s.get(f"{part}_{m}", np.nan) if isinstance(m, str) else np.nan
                       for s, m in pairs]
        frame[error] = [to_error(m, v) if isinstance(m, str) else np.nan
                        for m, v in zip(frame["_metric"], frame[part], strict=True)]
    for column in ("fold", "train_seconds", "predict_seconds", "n_train", "n_test"):
        if column not in frame.columns:
            frame[column] = np.nan
    frame["fold"] = frame["fold"].fillna(-1).astype(int)
    frame["_valid_key"] = frame["_valid_error"].map(_rounded)
    frame["_tie"] = _tie_ranks(frame["params"], rule)
    frame["failed"] = frame["status"] != "ok"
    group = ["method", "kind", "dataset", "fold", "seed"]
    counts = frame.groupby(group).agg(n_points=("failed", lambda f: int((~f).sum())),
                                      n_failed=("failed", "sum")).reset_index()
    ok = frame[~frame["failed"] & frame["valid"].notna()]
    ok = ok.sort_values(group + ["_valid_key", "_tie"], kind="stable")
    best = ok.drop_duplicates(group, keep="first")[group + _COLUMNS[5:-2]]
    out = counts.merge(best, on=group, how="left")
    out["n_failed"] = out["n_failed"].astype(int)
    return out[_COLUMNS].sort_values(group, kind="stable").reset_index(drop=True)


def _rounded(error: float) -> float:
    # NaN stays NaN (no validation score); the row is dropped before sorting.
    if not math.isfinite(error) or error == 0:
        return error
    return round(error, _DIGITS - 1 - math.floor(math.log10(abs(error))))


def _tie_ranks(params: pd.Series, rule: tuple[tuple[str, str], ...]) -> list[int]:
    """Each row's place in the tie order: 0 is kept first among equal validation scores."""
    keys = [_tie_key(p, rule) for p in params]
    place = {key: i for i, key in enumerate(sorted(set(keys)))}
    return [place[key] for key in keys]


def _tie_key(params: Mapping[str, Any], rule: tuple[tuple[str, str], ...]) -> tuple:
    preferred = []
    for name, prefer in rule:
        value = params.get(name)
        if _is_number(value):
            preferred.append((0, -float(value) if prefer == "high" else float(value)))
        else:  # absent or not a number: neutral, after the points that have it
            preferred.append((1, 0.0))
    # Then every parameter by name: numbers by value (2 < 16), others by JSON text.
    rest = tuple((k, 0, float(v), "") if _is_number(v) else (k, 1, 0.0, json.dumps(v))
                 for k, v in sorted(params.items()))
    return (tuple(preferred), rest)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)
