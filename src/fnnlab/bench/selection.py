"""Choosing each method's grid point on validation.

Per (method, dataset, outer fold, seed) the grid point with the best validation
score (the lowest error, ``fnnlab.training.metrics.to_error``) is *kept* (not refitted
on train + valid) and its test score is that method's result for that fold and seed;
a method's score on a dataset is then the mean over folds and seeds. The test split is
never used for the choice (see ``fnnlab.bench.datasets``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pandas as pd

from fnnlab.training.metrics import to_error


def select(results: pd.DataFrame, metric: str | Mapping[str, str]) -> pd.DataFrame:
    """Keep, per (method, dataset, fold, seed), the grid point with the best validation score.

    Ties go to the grid point whose parameters sort first as JSON, so the choice
    does not depend on the order in which jobs finished. Failed jobs never win.

    Parameters
    ----------
    results : DataFrame
        Job rows of the store.
    metric : str or mapping of str to str
        The metric, or each data set's metric.

    Returns
    -------
    DataFrame
        One row per (method, dataset, fold, seed): ``params`` (the chosen point),
        ``valid`` and ``test`` (scores in the data set's metric), ``error`` (the test
        score as an error, lower is better), ``train_seconds``, ``predict_seconds``,
        ``n_train``, ``n_test``, ``n_points`` (grid points that finished),
        ``n_failed``; ``fold`` is -1 outside the cv protocol.
    """
    columns = ["method", "kind", "dataset", "fold", "seed", "params", "valid", "test", "error",
               "train_seconds", "predict_seconds", "n_train", "n_test", "n_points", "n_failed"]
    if results.empty:
        return pd.DataFrame(columns=columns)
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
    frame["params_json"] = frame["params"].map(lambda p: json.dumps(p, sort_keys=True))
    frame["failed"] = frame["status"] != "ok"
    group = ["method", "kind", "dataset", "fold", "seed"]
    counts = frame.groupby(group).agg(n_points=("failed", lambda f: int((~f).sum())),
                                      n_failed=("failed", "sum")).reset_index()
    ok = frame[~frame["failed"] & frame["valid"].notna()]
    ok = ok.sort_values(group + ["_valid_error", "params_json"], kind="stable")
    best = ok.drop_duplicates(group, keep="first")[group + columns[5:-2]]
    out = counts.merge(best, on=group, how="left")
    out["n_failed"] = out["n_failed"].astype(int)
    return out[columns].sort_values(group, kind="stable").reset_index(drop=True)
