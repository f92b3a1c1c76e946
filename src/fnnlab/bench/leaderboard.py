"""The leaderboard of a comparison: Elo, win rate, mean rank, improvability, time.

TabArena (Erickson et al., "TabArena: A Living Benchmark for Machine Learning on
Tabular Data", 2025) summarizes a comparison by

- **Elo**: every pair of methods duels on every data set and fold, the lower error
  wins (a tie is half a win each), and a Bradley-Terry model is fitted to the duels,
  P(i beats j) = 1 / (1 + 10^((R_j - R_i) / 400)) (Bradley & Terry 1952; the Elo scale
  and the logistic-regression fit as in Chatbot Arena, Chiang et al. 2024). The
  confidence interval comes from refitting on data sets drawn with replacement; one
  method (TabArena: the default random forest) is pinned at 1000.
- **win rate**: the fraction of its duels a method won.
- **mean rank**: rank 1 is the lowest error on a fold (``fnnlab.bench.stats.ranks``).
- **improvability**: 1 - (best error on the fold) / (the method's error), the share
  of its error the best method removes; 0 for the best method.
- **time**: median seconds to train and to predict per 1000 rows.

Every data set weighs the same, whatever its number of folds: each fold's duels,
ranks and improvabilities weigh 1 / (folds of its data set).

Input is the per-fold results, one row per (data set, fold, method) with an error
(lower is better: RMSE, log-loss, 1 - ROC AUC); output a tidy DataFrame.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit
from threadpoolctl import threadpool_limits

from fnnlab.bench.stats import ranks
from fnnlab.training.metrics import LOWER_IS_BETTER, METRICS

ELO_SCALE = 400.0
ELO_ANCHOR = 1000.0

_TIME_COLUMNS = (("train_seconds", "n_train"), ("predict_seconds", "n_predict"))


def elo_from_wins(
    wins: pd.DataFrame,
    *,
    anchor: str | None = None,
    prior_sd: float = 400.0,
) -> pd.Series:
    """Bradley-Terry ratings on the Elo scale from a (weighted) win matrix.

    Maximizes sum_ij W_ij log sigma(beta_i - beta_j) - sum_i beta_i^2 / (2 s^2) (the
    logistic regression of Chatbot Arena's fit, solved directly with scipy's L-BFGS:
    it has one parameter per method, and the bootstrap refits it hundreds of times),
    then R_i = 1000 + 400 / ln(10) (beta_i - beta_anchor). The Gaussian
    prior (sd ``prior_sd`` Elo points) keeps a method that wins every duel at a
    finite rating; ``prior_sd=math.inf`` gives the plain maximum likelihood.

    Parameters
    ----------
    wins : DataFrame
        Square, methods x methods: ``wins.loc[i, j]`` is how often (or with what total
        weight) i beat j; a tie adds 0.5 to both cells. The diagonal is ignored.
    anchor : str, optional
        The method pinned at 1000; default the mean rating is 1000.
    prior_sd : float, default=400.0
        Prior standard deviation of a rating, in Elo points.

    Returns
    -------
    Series
        Rating per method, in the order of ``wins.columns``.
    """
    methods = list(wins.columns)
    if list(wins.index) != methods:
        raise ValueError("wins must be square with the same methods as rows and columns, got "
                         f"rows {list(wins.index)} and columns {methods}.")
    if anchor is not None and anchor not in methods:
        raise ValueError(f"Anchor {anchor!r} is not among the methods {methods}.")
    if not prior_sd > 0:
        raise ValueError(f"prior_sd must be positive (math.inf for none), got {prior_sd!r}.")
    w = wins.to_numpy(dtype=float, copy=True)
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("wins must hold finite, non-negative counts.")
    np.fill_diagonal(w, 0.0)
    with _one_blas_thread():
        rating = _ratings(w, None if anchor is None else methods.index(anchor), prior_sd)
    return pd.Series(rating, index=methods, name="elo")


def _one_blas_thread() -> threadpool_limits:
    # With a few parameters the solver's BLAS calls are tiny, and OpenBLAS's worker
    # threads made each fit 50x slower on a busy machine.
    return threadpool_limits(limits=1, user_api="blas")


def _ratings(w: np.ndarray, anchor: int | None, prior_sd: float) -> np.ndarray:
    """Elo ratings from a win matrix with a zero diagonal (see :func:`elo_from_wins`)."""
    beta = _bradley_terry(w, 1.0 / (prior_sd * math.log(10) / ELO_SCALE) ** 2)
    rating = ELO_SCALE / math.log(10) * beta
    rating -= rating[anchor] if anchor is not None else rating.mean()
    return rating + ELO_ANCHOR


def _bradley_terry(w: np.ndarray, precision: float) -> np.ndarray:
    """Log-strengths beta maximizing the penalized Bradley-Terry likelihood (L-BFGS)."""

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        d = beta[:, None] - beta[None, :]  # d_ij = beta_i - beta_j
        nll = np.sum(w * np.logaddexp(0.0, -d))  # -log sigma(d) = log(1 + e^-d)
        g = -w * expit(-d)  # d(nll) / d(d_ij)
        return (nll + 0.5 * precision * beta @ beta,
                g.sum(axis=1) - g.sum(axis=0) + precision * beta)

    if not w.any():
        return np.zeros(len(w))
    result = minimize(loss, np.zeros(len(w)), jac=True, method="L-BFGS-B",
                      options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 10_000})
    return result.x


def leaderboard(
    results: pd.DataFrame,
    *,
    error: str = "error",
    anchor: str | None = None,
    n_bootstrap: int = 200,
    ci: float = 0.95,
    prior_sd: float = 400.0,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per method: Elo with bootstrap CI, win rate, mean rank, improvability, time.

    Parameters
    ----------
    results : DataFrame
        One row per (data set, fold, method). Columns ``dataset``, ``method``,
        ``error`` (or the name in ``error``), and optionally ``fold`` (and ``repeat``;
        without them each data set is one fold), ``train_seconds`` with ``n_train``
        and ``predict_seconds`` with ``n_predict`` (for the time per 1000 rows). A
        method missing on a fold, or with a NaN error, sits out that fold's duels.
    error : str, default="error"
        The column to compare; lower is better and it must be >= 0 (improvability).
        A score column (``"roc_auc"``, ``"accuracy"``) is refused: convert it with
        ``fnnlab.training.metrics.to_error`` first.
    anchor : str, optional
        The method pinned at Elo 1000 (TabArena: the default random forest, here
        ``"rf"``); default the mean Elo is 1000.
    n_bootstrap : int, default=200
        Resamples of the data sets for the Elo interval; 0 leaves it NaN.
    ci : float, default=0.95
        Coverage of the percentile interval.
    prior_sd : float, default=400.0
        See :func:`elo_from_wins`.
    seed : int, default=0
        Seeds the bootstrap.

    Returns
    -------
    DataFrame
        Columns ``method``, ``elo``, ``elo_low``, ``elo_high``, ``win_rate``,
        ``mean_rank``, ``improvability``, ``train_s_per_1k``, ``predict_s_per_1k``
        (NaN without timing columns), ``n_datasets``, ``n_folds``, ``anchor``
        (bool); sorted by Elo, best first.
    """
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci!r}.")
    if not isinstance(n_bootstrap, int) or n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be a non-negative integer, got {n_bootstrap!r}.")
    errors, weight = _error_matrix(results, error)
    methods = list(errors.columns)
    if anchor is not None and anchor not in methods:
        raise ValueError(f"Anchor {anchor!r} is not among the methods {methods}.")
    per_dataset = _wins_per_dataset(errors, weight)  # (datasets, m, m)
    wins = per_dataset.sum(axis=0)
    elo = elo_from_wins(pd.DataFrame(wins, methods, methods), anchor=anchor, prior_sd=prior_sd)
    low, high = _bootstrap_interval(per_dataset, methods, anchor, prior_sd, n_bootstrap, ci, seed)
    played = wins + wins.T
    fold_ranks = ranks(errors, higher_is_better=False)
    best = errors.min(axis=1)
    improvability = 1.0 - errors.rdiv(best, axis=0).where(errors > 0, 1.0)
    table = pd.DataFrame({
        "method": methods,
        "elo": elo.to_numpy(),
        "elo_low": low,
        "elo_high": high,
        "win_rate": wins.sum(axis=1) / np.where(played.sum(axis=1) > 0, played.sum(axis=1),
                                                np.nan),
        "mean_rank": _dataset_mean(fold_ranks).to_numpy(),
        "improvability": _dataset_mean(improvability.where(errors.notna())).to_numpy(),
        **_times(results, methods),
        "n_datasets": errors.notna().groupby(level="dataset").any().sum().to_numpy(),
        "n_folds": errors.notna().sum().to_numpy(),
        "anchor": [m == anchor for m in methods],
    })
    return table.sort_values("elo", ascending=False, kind="stable").reset_index(drop=True)


def _error_matrix(results: pd.DataFrame, error: str) -> tuple[pd.DataFrame, pd.Series]:
    """(dataset, fold) x method errors, and each row's weight 1 / folds of its data set."""
    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a DataFrame, got {type(results).__name__}.")
    if error in METRICS and METRICS.canonical(error) not in LOWER_IS_BETTER:
        raise ValueError(f"Column {error!r} is a score (higher is better) and the leaderboard "
                         f"compares errors; pass results.assign(error=fnnlab.training.metrics."
                         f"to_error({error!r}, results[{error!r}])).")
    missing = [c for c in ("dataset", "method", error) if c not in results.columns]
    if missing:
        raise ValueError(f"results lacks the column(s) {missing}; it has {list(results.columns)}.")
    keys = ["dataset"] + [c for c in ("repeat", "fold") if c in results.columns]
    fold = pd.Series("0", index=results.index)
    for key in keys[1:]:
        fold = fold + "/" + results[key].astype(str)
    frame = results.assign(_fold=fold)
    doubled = frame.duplicated(["dataset", "_fold", "method"])
    if doubled.any():
        row = frame.loc[doubled, ["dataset", *keys[1:], "method"]].iloc[0].to_dict()
        raise ValueError(f"results has more than one row for {row}; aggregate seeds or grid "
                         f"points first, or add a 'fold'/'repeat' column.")
    values = pd.to_numeric(frame[error], errors="coerce")
    if (values < 0).any():
        raise ValueError(f"Column {error!r} must hold errors >= 0 (lower is better), got "
                         f"{values.min()}; turn a score into an error first (1 - AUC).")
    errors = frame.assign(**{error: values}).pivot(index=["dataset", "_fold"], columns="method",
                                                   values=error)
    errors.columns = [str(c) for c in errors.columns]
    if errors.shape[1] < 2:
        raise ValueError(f"A leaderboard needs at least 2 methods, got {list(errors.columns)}.")
    folds = errors.groupby(level="dataset").size()
    weight = 1.0 / folds.reindex(errors.index.get_level_values("dataset")).to_numpy()
    return errors, pd.Series(weight, index=errors.index)


def _wins_per_dataset(errors: pd.DataFrame, weight: pd.Series) -> np.ndarray:
    """Weighted win matrix of each data set: [d, i, j] = weight of i's wins over j."""
    e = errors.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        beat = (e[:, :, None] < e[:, None, :]).astype(float)
        beat += 0.5 * (e[:, :, None] == e[:, None, :])
    beat[np.isnan(e[:, :, None] - e[:, None, :])] = 0.0  # missing errors play no duel
    idx = np.arange(e.shape[1])
    beat[:, idx, idx] = 0.0
    beat *= weight.to_numpy()[:, None, None]
    codes, _ = pd.factorize(errors.index.get_level_values("dataset"))
    out = np.zeros((codes.max() + 1, e.shape[1], e.shape[1]))
    np.add.at(out, codes, beat)
    return out


def _bootstrap_interval(per_dataset: np.ndarray, methods: list[str], anchor: str | None,
                        prior_sd: float, n_bootstrap: int, ci: float,
                        seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of the Elo over data sets drawn with replacement."""
    if n_bootstrap == 0:
        return np.full(len(methods), np.nan), np.full(len(methods), np.nan)
    rng = np.random.default_rng(seed)
    n = per_dataset.shape[0]
    anchor_index = None if anchor is None else methods.index(anchor)
    draws = np.empty((n_bootstrap, len(methods)))
    with _one_blas_thread():
        for b in range(n_bootstrap):
            counts = np.bincount(rng.integers(0, n, size=n), minlength=n)
            draws[b] = _ratings(np.tensordot(counts, per_dataset, axes=1), anchor_index,
                                prior_sd)
    tail = 100 * (1 - ci) / 2
    return np.percentile(draws, tail, axis=0), np.percentile(draws, 100 - tail, axis=0)


def _dataset_mean(values: pd.DataFrame) -> pd.Series:
    """Mean over folds within each data set, then over data sets (NaN left out)."""
    return values.groupby(level="dataset").mean().mean(axis=0)


def _times(results: pd.DataFrame, methods: list[str]) -> dict[str, np.ndarray]:
    """Median seconds per 1000 rows over folds, for training and for prediction."""
    out = {}
    for (seconds, rows), name in zip(_TIME_COLUMNS, ("train_s_per_1k", "predict_s_per_1k"),
                                     strict=True):
        if seconds not in results.columns:
            out[name] = np.full(len(methods), np.nan)
            continue
        if rows not in results.columns:
            raise ValueError(f"results has {seconds!r} but not {rows!r}, the number of rows "
                             f"it timed; add it for the time per 1000 rows.")
        per_1k = 1000.0 * results[seconds] / results[rows].where(results[rows] > 0)
        out[name] = per_1k.groupby(results["method"].astype(str)).median().reindex(
            methods).to_numpy()
    return out
