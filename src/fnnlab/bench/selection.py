"""Choosing each method's grid point on validation.

Per (method, dataset, seed) the grid point with the best validation score is *kept*
(not refitted on train + valid) and its test score is that method's result for that
seed; a method's score on a dataset is then the mean over seeds. The test split is
never used for the choice (see ``fnnlab.bench.datasets``).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


def select(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Keep, per (method, dataset, seed), the grid point with the best validation score.

    Ties go to the grid point whose parameters sort first as JSON, so the choice
    does not depend on the order in which jobs finished. Failed jobs never win.

    Returns
    -------
    DataFrame
        One row per (method, dataset, seed): ``params`` (the chosen point),
        ``valid`` and ``test`` (scores in ``metric``), ``n_points`` (grid points
        that finished), ``n_failed``.
    """
    columns = ["method", "kind", "dataset", "seed", "params", "valid", "test",
               "n_points", "n_failed"]
    if results.empty:
        return pd.DataFrame(columns=columns)
    frame = results.copy()
    frame["valid"] = frame["scores"].map(lambda s: s.get(f"valid_{metric}", np.nan))
    frame["test"] = frame["scores"].map(lambda s: s.get(f"test_{metric}", np.nan))
    frame["params_json"] = frame["params"].map(lambda p: json.dumps(p, sort_keys=True))
    frame["failed"] = frame["status"] != "ok"
    group = ["method", "kind", "dataset", "seed"]
    counts = frame.groupby(group).agg(n_points=("failed", lambda f: int((~f).sum())),
                                      n_failed=("failed", "sum")).reset_index()
    ok = frame[~frame["failed"] & frame["valid"].notna()]
    ok = ok.sort_values(group + ["valid", "params_json"],
                        ascending=[True] * len(group) + [False, True], kind="stable")
    best = ok.drop_duplicates(group, keep="first")[group + ["params", "valid", "test"]]
    out = counts.merge(best, on=group, how="left")
    out["n_failed"] = out["n_failed"].astype(int)
    return out[columns].sort_values(group, kind="stable").reset_index(drop=True)
