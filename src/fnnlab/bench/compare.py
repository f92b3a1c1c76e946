"""``compare``: the SNN paper's method comparison on any set of data sets.

Klambauer et al. (2017, "Self-Normalizing Neural Networks", Table 1) trained
every FNN method over a hyperparameter grid on 121 UCI data sets, picked each
method's grid point on a validation set, ranked the methods per data set by test
accuracy and compared them by average rank and paired Wilcoxon tests. TabArena
(Erickson et al. 2025) adds regression, a metric per task, outer cross-validation and
a leaderboard of Elo, win rate, improvability and time per 1000 rows
(``fnnlab.bench.leaderboard``). This module runs both for the ``METHODS`` presets and
the ML baselines (``fnnlab.bench.baselines``):
it plans the jobs and checks every input before the first one starts
(``fnnlab.bench.plan``), trains them in units (``fnnlab.bench.units``), runs locally
or on a cluster (``fnnlab.bench.runner``), stores every job as it finishes
(``fnnlab.bench.store``), chooses grid points on validation
(``fnnlab.bench.selection``) and summarizes with ``fnnlab.bench.stats``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fnnlab.bench import stats as _stats
from fnnlab.bench.fidelity import deviations, fidelity
from fnnlab.bench.jobs import job_row, key_scaling
from fnnlab.bench.leaderboard import leaderboard
from fnnlab.bench.plan import (
    DEFAULT_METHODS,
    REFERENCE_COLUMNS,
    Plan,
    check_metric,
    dataset_metrics,
    make_plan,
    read_reference,
)
from fnnlab.bench.result import ComparisonResult, first_errors
from fnnlab.bench.runner import run_jobs
from fnnlab.bench.selection import PROTOCOL_TIES, check_ties, select
from fnnlab.bench.store import ResultStore
from fnnlab.bench.units import group_jobs, run_unit

__all__ = ["DEFAULT_METHODS", "REFERENCE_COLUMNS", "ComparisonResult", "compare",
           "summarize", "table_from_store"]


def compare(
    methods: Sequence[str] | None = None,
    datasets: str | Path | Sequence[str | Path] = "quick",
    baselines: Sequence[str] = (),
    grid: str | Path | dict[str, Any] = "quick",
    seeds: int | Sequence[int] | None = None,
    store: str | Path | ResultStore | None = None,
    backend: str = "local",
    scaling: str = "standard",
    jobs: int = -1,
    metric: str | None = None,
    protocol: str = "random",
    reference: str | Path | None = None,
    progress: bool = True,
    scheduler: Any = None,
    correction: str | None = None,
    stacked: bool = True,
    retry_failed: bool = False,
    ties: str | None = None,
) -> ComparisonResult:
    """Run (or resume) a method comparison and return its table.

    Parameters
    ----------
    methods : sequence of str, optional
        ``METHODS`` presets; default the SNN paper's seven (:data:`DEFAULT_METHODS`).
        Pass ``[]`` to compare baselines only.
    datasets : str, Path or sequence, default="quick"
        A suite name, a folder of CSV files, or a list of names and files
        (see ``fnnlab.data.suite``); classification and regression may mix.
    baselines : sequence of str
        ``BASELINES`` names: svm, rf, logreg, gbm, knn, xgboost, lightgbm, catboost,
        realmlp, tabm. One that is not installed raises before any job starts.
    grid : "quick", "paper", a JSON file or a dict
        See ``fnnlab.bench.grids``.
    seeds : int or sequence of int, optional
        ``N`` means seeds 0..N-1; default 3, or 1 under the cv protocol (whose
        repeats already vary the split).
    store : path, ResultStore or None
        SQLite file: finished jobs are skipped, new ones written as they finish.
        None keeps the results in memory only.
    backend : {"local", "dask", "ray"}
    scaling : {"standard", "robust", "quantile", "none"}, default="standard"
        How every method's numeric features are scaled (``fnnlab.data.SCALINGS``),
        fitted on each split's training part only; networks and baselines see the
        same features. Results of another scaling in the same store are kept apart.
    jobs : int, default=-1
        Parallel processes (local) or workers of a new Dask LocalCluster; -1 = all cores.
    metric : str, optional
        Chooses grid points (on validation) and ranks methods (on test). Default
        each task's metric: ROC AUC (binary), log-loss (multiclass), RMSE
        (regression); accuracy under the paper protocol, as in the paper. Given,
        one of accuracy, balanced_accuracy, roc_auc (auc), log_loss for
        classification or rmse, mae, r2 for regression, and it must apply to every
        data set.
    protocol : {"random", "paper", "cv"}
        See ``fnnlab.bench.datasets``; "paper" needs the UCI split files, "cv" is
        TabArena's outer 3-fold cross-validation, repeated 10x below 2,500 rows
        and 3x above.
    reference : path, optional
        CSV of published accuracies (``name`` column plus SNN, MS, HW, ResNet, BN,
        WN, LN), put beside ours in ``per_dataset``.
    progress : bool, default=True
        A progress bar over jobs, with ETA.
    scheduler : str or distributed.Client, optional
        Dask scheduler / Ray cluster address.
    correction : {"holm", "bonferroni"} or None
        Multiple-comparison correction of the Wilcoxon p-values.
    stacked : bool, default=True
        Train the network jobs of one data split and method together with
        ``fnnlab.fit_many``, which stacks same-shaped grid points into one vectorized
        model; the units of work (and the progress bar) are then these groups.
        Without dropout the scores equal those of ``stacked=False`` (every job a
        stack of one) up to float32 rounding; with dropout they agree in distribution
        only (the masks are drawn differently). Rows are still written per job, one
        transaction per unit, so an interrupted run resumes with its unfinished jobs.
    retry_failed : bool, default=False
        Run the jobs the store holds as failed again (otherwise they count as done).
    ties : {"paper", "small"}, optional
        How grid points with equal validation scores are ordered
        (``fnnlab.bench.selection.TIE_RULES``); default the protocol's: "paper" (more
        layers, lower lr, higher dropout) under the paper protocol, "small" (fewer
        layers and units first) under the others.

    Returns
    -------
    ComparisonResult
        The table, scores and every job row of this comparison.

    Raises
    ------
    RuntimeError
        Every job failed; the message gives the first distinct errors.

    Notes
    -----
    A stored result is reused only for the same data: jobs are keyed on each data
    set's content fingerprint, so after a data file changes its jobs run again, and
    ``ComparisonResult.changed`` (and the printed table) names it.
    """
    start = time.perf_counter()
    plan = make_plan(methods=methods, datasets=datasets, baselines=baselines,
                     grid=grid, scaling=scaling,
                     seeds=seeds, backend=backend, metric=metric, protocol=protocol,
                     reference=reference, correction=correction, ties=ties)
    owned = not isinstance(store, ResultStore)
    db = ResultStore(store) if owned else store
    try:
        changed = _changed_data(db, plan)
        db.set_config(plan.config)
        done = db.finished() - (db.failed() if retry_failed else set())
        pending = [job for job in plan.jobs if job.key not in done]
        units = group_jobs(pending, stacked=stacked)
        before = len(plan.jobs) - len(pending)
        desc = f"compare ({before} done before)" if before else "compare"
        for unit, rows in run_jobs(run_unit, units, backend=backend, n_jobs=jobs,
                                   scheduler=scheduler, progress=progress,
                                   desc=f"{desc}: {len(pending)} jobs in", unit="unit"):
            if isinstance(rows, dict):  # the runner's record of a unit that raised
                rows = [job_row(job, status="failed", error=rows.get("error"),
                                pid=rows.get("pid")) for job in unit]
            db.write_many(rows)
        keys = {job.key for job in plan.jobs}
        rows = db.results()
        rows = rows[rows["key"].isin(keys)].reset_index(drop=True)
    finally:
        if owned:
            db.close()
    if len(rows) and (rows["status"] != "ok").all():
        errors = "; ".join(line.strip() for line in first_errors(rows)[1:])
        raise RuntimeError(f"Every job of the comparison failed ({len(rows)} jobs). First "
                           f"errors: {errors}. Fix the cause, then rerun with the same store "
                           f"and retry_failed=True (fnnlab compare --retry-failed).")
    result = summarize(rows, plan.config, reference=plan.reference)
    result.ran, result.skipped = len(pending), len(plan.jobs) - len(pending)
    result.seconds = time.perf_counter() - start
    result.changed = changed
    return result


def _changed_data(db: ResultStore, plan: Plan) -> list[str]:
    # Data sets the store knows by name only with other content: their results are
    # not reused, and the user should hear why everything reruns.
    stored = db.data_hashes(plan.config["protocol"])
    return [name for name, data in plan.config["data"].items()
            if stored.get(name) and data not in stored[name]]


def table_from_store(store: str | Path, *, reference: str | Path | None = None,
                     metric: str | None = None, ties: str | None = None) -> ComparisonResult:
    """Re-make the table of the latest comparison written to ``store`` (no training).

    ``metric`` and ``ties`` (see :func:`compare`) may differ from the stored run's, to
    see the same results chosen and ranked another way.
    """
    path = Path(store)
    if not path.is_file():
        raise FileNotFoundError(f"No result store at {path}. Run `fnnlab compare --store "
                                f"{path}` first.")
    with ResultStore(path) as db:
        config = db.config()
        rows = db.results()
    if config is None:
        raise ValueError(f"Result store {path} holds no comparison settings; it was not "
                         f"written by fnnlab compare.")
    if metric is not None:
        config = {**config, "metric": check_metric(metric)}
        if "tasks" in config:
            config["metrics"] = dataset_metrics(config, config["metric"])
    data = config["data"]
    rows = rows[rows["method"].isin(config["methods"]) & rows["dataset"].isin(config["datasets"])
                & rows["seed"].isin(config["seeds"]) & (rows["protocol"] == config["protocol"])
                & (rows["data_hash"] == rows["dataset"].map(data))
                & (rows["key"].map(key_scaling) == config.get("scaling", "standard"))]
    ref = read_reference(reference) if reference is not None else None
    return summarize(rows.reset_index(drop=True), config, reference=ref, ties=ties)


def summarize(rows: pd.DataFrame, config: dict[str, Any], *,
              reference: pd.DataFrame | None = None,
              ties: str | None = None) -> ComparisonResult:
    """Select grid points, average seeds and folds, rank, test and build the leaderboards.

    Every data set is scored in its own metric (``config["metrics"]``) and compared as
    an error (lower is better, ``fnnlab.training.metrics.to_error``). Ranks, Wilcoxon
    and Friedman tests, Elo duels, win rates and improvabilities all compare methods
    within a data set, so one table can hold data sets of different metrics; the table
    of each task type (``ComparisonResult.tables``) holds that type's data sets only.
    Ties in validation score follow ``ties``, else ``config["ties"]``, else the
    protocol's rule (``fnnlab.bench.selection.PROTOCOL_TIES``, for stores written
    before the rule was stored); the rule used is ``config["ties"]`` of the result.
    """
    ties = check_ties(ties or config.get("ties") or PROTOCOL_TIES[config["protocol"]])
    config = {**config, "ties": ties}
    methods, datasets = list(config["methods"]), list(config["datasets"])
    metrics = config.get("metrics") or dict.fromkeys(datasets, config["metric"])
    tasks = config.get("tasks") or dict.fromkeys(datasets, "classification")
    selected = select(rows, metrics, ties=ties)
    ok = selected.dropna(subset=["test"])
    per = ok.groupby(["dataset", "method"]).agg(
        score=("test", "mean"), std=("test", "std"), error=("error", "mean"),
        n_seeds=("seed", "nunique"), n_folds=("fold", "nunique")).reset_index()
    per.insert(2, "metric", per["dataset"].map(metrics))
    per.insert(2, "task", per["dataset"].map(tasks))
    scores, errors = (_matrix(per, column, datasets, methods) for column in ("score", "error"))
    folds = _fold_errors(ok)
    tables = {task: _method_table(errors[[tasks[d] == task for d in errors.index]],
                                  folds[folds["dataset"].map(tasks) == task], metrics, methods,
                                  _failed_jobs(rows, [d for d in datasets if tasks[d] == task]),
                                  config.get("correction"))
              for task in dict.fromkeys(tasks[d] for d in datasets)}
    table = (next(iter(tables.values())) if len(tables) == 1 else
             _method_table(errors, folds, metrics, methods, _failed_jobs(rows, datasets),
                           config.get("correction")))
    complete = errors.dropna()
    testable = complete.shape[1] >= 2 and complete.shape[0] >= 1
    friedman = (_stats.friedman(complete, higher_is_better=False) if testable
                else (math.nan, math.nan))
    cd = _stats.nemenyi_cd(complete.shape[1], complete.shape[0]) if testable else math.nan
    per_dataset = per.copy()
    if reference is not None:
        per_dataset = _add_reference(per_dataset, reference)
    metric = config["metric"] or "/".join(dict.fromkeys(metrics[d] for d in datasets))
    return ComparisonResult(table=table, scores=scores, per_dataset=per_dataset,
                            selected=selected, results=rows, metric=metric,
                            friedman=friedman, cd=cd, config=config, tables=tables,
                            deviations=deviations(config),
                            fidelity=None if reference is None else
                            fidelity(per_dataset, methods))


def _matrix(per: pd.DataFrame, column: str, datasets: list[str],
            methods: list[str]) -> pd.DataFrame:
    """Data sets x methods of one column of the per-data-set table."""
    out = per.pivot(index="dataset", columns="method", values=column)
    out = out.reindex(index=datasets, columns=methods).astype(float)
    out.index.name, out.columns.name = "dataset", "method"
    return out


def _fold_errors(selected: pd.DataFrame) -> pd.DataFrame:
    """One row per (data set, fold, method) for the leaderboard: mean over seeds.

    Under the cv protocol a fold is an outer fold; under the others each seed draws
    its own split, so a seed is a fold.
    """
    frame = selected.assign(fold=selected["fold"].where(selected["fold"] >= 0,
                                                        selected["seed"]),
                            n_predict=selected["n_test"])
    columns = ["error", "train_seconds", "n_train", "predict_seconds", "n_predict"]
    frame[columns] = frame[columns].astype(float)
    return frame.groupby(["dataset", "fold", "method"])[columns].mean().reset_index()


def _failed_jobs(rows: pd.DataFrame, datasets: list[str]) -> pd.Series:
    """Failed jobs per method on ``datasets`` (a task's table counts its own)."""
    if not len(rows):
        return pd.Series(dtype=int)
    failed = rows[(rows["status"] != "ok") & rows["dataset"].isin(datasets)]
    return failed.groupby("method").size()


def _method_table(errors: pd.DataFrame, folds: pd.DataFrame, metrics: dict[str, str],
                  methods: list[str], failed: Any, correction: str | None) -> pd.DataFrame:
    """The table of one group of data sets: ranks and tests beside the leaderboard."""
    errors = errors.dropna(how="all")
    scored = [m for m in methods if errors[m].notna().any()] if len(errors) else []
    if len(scored) >= 2:
        table = _stats.comparison_table(errors, correction=correction, higher_is_better=False)
        board = leaderboard(folds.dropna(subset=["error"]),
                            anchor="rf" if "rf" in scored else None)
        table = table.merge(board.drop(columns=["mean_rank", "n_datasets", "anchor"]),
                            on="method", how="left")
    else:
        table = pd.DataFrame({"method": methods, "mean_rank": np.nan, "avg_rank_diff": np.nan,
                              "p_value": np.nan, "significant": False, "best": False,
                              "n_datasets": 0})
    table["mean_error"] = table["method"].map(errors.mean(axis=0))
    table["failed_jobs"] = table["method"].map(lambda m: int(failed.get(m, 0)))
    table["metric"] = "/".join(dict.fromkeys(metrics[d] for d in errors.index)) or None
    return table


def _add_reference(per: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    out = per.merge(ref, on=["dataset", "method"], how="left")
    out["difference"] = out["score"] - out["published"]
    return out


