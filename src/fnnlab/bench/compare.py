"""``compare``: the SNN paper's method comparison on any set of data sets.

Klambauer et al. (2017, "Self-Normalizing Neural Networks", Table 1) trained
every FNN method over a hyperparameter grid on 121 UCI data sets, picked each
method's grid point on a validation set, ranked the methods per data set by test
accuracy and compared them by average rank and paired Wilcoxon tests. This
module runs that protocol (``fnnlab.bench.protocol``) for the ``METHODS``
presets and scikit-learn baselines, stores every job as it finishes
(``fnnlab.bench.store``), runs locally or on a cluster (``fnnlab.bench.runner``)
and summarizes with ``fnnlab.bench.stats``.

Every input is checked before the first job starts.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fnnlab.bench import stats as _stats
from fnnlab.bench.baselines import BASELINES
from fnnlab.bench.grids import check_grid, grid_points, load_grid, method_grid
from fnnlab.bench.protocol import (
    METRICS,
    PROTOCOLS,
    failed_row,
    group_jobs,
    make_jobs,
    run_group,
    run_job,
    select,
)
from fnnlab.bench.runner import check_backend, run_jobs
from fnnlab.bench.store import ResultStore

# The seven FNN methods of the SNN paper's comparison.
DEFAULT_METHODS: tuple[str, ...] = (
    "snn", "msra", "batchnorm", "layernorm", "weightnorm", "highway", "resnet",
)

# Columns of the SNN paper's supplementary accuracy table (../shared/data/reference).
REFERENCE_COLUMNS: dict[str, str] = {
    "snn": "SNN", "msra": "MS", "highway": "HW", "resnet": "ResNet", "batchnorm": "BN",
    "weightnorm": "WN", "layernorm": "LN",
}


@dataclass
class ComparisonResult:
    """What :func:`compare` returns.

    Attributes
    ----------
    table : DataFrame
        One row per method, best first: ``method``, ``mean_rank``, ``avg_rank_diff``,
        ``p_value`` (Wilcoxon vs the best), ``significant``, ``best``, ``n_datasets``,
        ``mean_score`` (mean over data sets), ``failed_jobs``.
    scores : DataFrame
        Data sets x methods: mean over seeds of the test score of the grid point
        chosen on validation.
    per_dataset : DataFrame
        Long form of ``scores`` with ``std`` and ``n_seeds``, and with ``published``
        and ``difference`` (ours - published) when a reference was given.
    selected : DataFrame
        The chosen grid point per (method, dataset, seed), see ``protocol.select``.
    results : DataFrame
        Every job row of the store that belongs to this comparison.
    metric : str
    friedman : (statistic, p_value)
        Friedman test over the data sets where every method has a score.
    cd : float
        Nemenyi critical difference (alpha=0.05) for those data sets.
    config : dict
        The settings of the comparison.
    ran, skipped : int
        Jobs run by this call, and jobs skipped because the store had them.
    seconds : float
        Wall time of this call.
    """

    table: pd.DataFrame
    scores: pd.DataFrame
    per_dataset: pd.DataFrame
    selected: pd.DataFrame
    results: pd.DataFrame
    metric: str
    friedman: tuple[float, float]
    cd: float
    config: dict[str, Any] = field(default_factory=dict)
    ran: int = 0
    skipped: int = 0
    seconds: float = 0.0

    def format(self, fmt: str = "text") -> str:
        """The table as text (with the test summary), CSV, Markdown, LaTeX or JSON."""
        if fmt == "json":
            return json.dumps(_clean(self.to_dict()), indent=2, allow_nan=False)
        body = _stats.format_table(self.table, fmt)
        if fmt != "text":
            return body
        lines = [f"Method comparison: {self.table.shape[0]} methods, "
                 f"{self.scores.shape[0]} data sets, test {self.metric} of the grid point "
                 f"chosen on validation (kept, not refitted); * = Wilcoxon p < 0.05 vs best.",
                 "", body.rstrip(), ""]
        stat, p = self.friedman
        complete = int(self.scores.dropna().shape[0])
        if not math.isnan(stat):
            lines.append(f"Friedman chi2 = {stat:.2f}, p = {p:.2g} on {complete} complete "
                         f"data sets; Nemenyi CD (alpha=0.05) = {self.cd:.2f} ranks.")
        failed = self.results[self.results["status"] != "ok"] if len(self.results) else None
        if failed is not None and len(failed):
            where = failed.groupby(["method", "dataset"]).size()
            lines.append(f"Failed jobs: {len(failed)} ("
                         + ", ".join(f"{m}/{d}: {n}" for (m, d), n in where.items()) + ").")
        if "published" in self.per_dataset:
            ref = self.per_dataset.dropna(subset=["published"])
            if len(ref):
                lines += ["", "Published accuracies (SNN paper) beside ours:",
                          ref[["dataset", "method", "score", "published", "difference"]]
                          .to_string(index=False, float_format=lambda x: f"{x:.4f}")]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the table, per-data-set scores, tests, settings)."""
        return {
            "metric": self.metric,
            "table": self.table.to_dict(orient="records"),
            "per_dataset": self.per_dataset.to_dict(orient="records"),
            "friedman": {"statistic": self.friedman[0], "p_value": self.friedman[1]},
            "nemenyi_cd": self.cd,
            "failed_jobs": int((self.results["status"] != "ok").sum()) if len(self.results)
            else 0,
            "ran": self.ran, "skipped": self.skipped, "seconds": self.seconds,
            "config": self.config,
        }

    def save(self, directory: str | Path) -> Path:
        """Write the table (txt, csv, md, tex), scores, selections and figures to ``directory``."""
        from fnnlab.plots.comparison import accuracy_heatmap, critical_difference_diagram

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        (out / "table.txt").write_text(self.format("text"))
        for fmt, suffix in (("csv", "csv"), ("markdown", "md"), ("latex", "tex")):
            (out / f"table.{suffix}").write_text(self.format(fmt))
        (out / "comparison.json").write_text(self.format("json"))
        self.per_dataset.to_csv(out / "per_dataset.csv", index=False)
        self.selected.to_csv(out / "selected.csv", index=False)
        if self.scores.shape[1] >= 2 and not math.isnan(self.cd):
            fig = critical_difference_diagram(self.table, self.cd)
            fig.savefig(out / "critical_difference.png", dpi=120, bbox_inches="tight")
        fig = accuracy_heatmap(self.scores, metric=self.metric)
        fig.savefig(out / "scores_heatmap.png", dpi=120, bbox_inches="tight")
        return out


def compare(
    methods: Sequence[str] | None = None,
    datasets: str | Path | Sequence[str | Path] = "quick",
    baselines: Sequence[str] = (),
    grid: str | Path | dict[str, Any] = "quick",
    seeds: int | Sequence[int] = 3,
    store: str | Path | ResultStore | None = None,
    backend: str = "local",
    jobs: int = -1,
    metric: str = "accuracy",
    protocol: str = "random",
    reference: str | Path | None = None,
    progress: bool = True,
    scheduler: Any = None,
    correction: str | None = None,
    stacked: bool = True,
) -> ComparisonResult:
    """Run (or resume) a method comparison and return its table.

    Parameters
    ----------
    methods : sequence of str, optional
        ``METHODS`` presets; default the SNN paper's seven (:data:`DEFAULT_METHODS`).
        Pass ``[]`` to compare baselines only.
    datasets : str, Path or sequence, default="quick"
        A suite name, a folder of CSV files, or a list of names and files
        (see ``fnnlab.data.suite``). Classification data only.
    baselines : sequence of str
        ``BASELINES`` names: svm, rf, logreg, gbm, knn.
    grid : "quick", "paper", a JSON file or a dict
        See ``fnnlab.bench.grids``.
    seeds : int or sequence of int, default=3
        ``N`` means seeds 0..N-1.
    store : path, ResultStore or None
        SQLite file: finished jobs are skipped, new ones written as they finish.
        None keeps the results in memory only.
    backend : {"local", "dask", "ray"}
    jobs : int, default=-1
        Parallel processes (local) or workers of a new Dask LocalCluster; -1 = all cores.
    metric : {"accuracy", "balanced_accuracy", "auc"}
        Chooses grid points (on validation) and ranks methods (on test).
    protocol : {"random", "paper"}
        See ``fnnlab.bench.protocol``; "paper" needs the UCI split files.
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
        Without dropout the scores equal those of ``stacked=False`` (one ``fit`` per
        job) up to float32 rounding; with dropout they agree in distribution only
        (the masks are drawn differently). Rows are still written per job, one
        transaction per unit, so an interrupted run resumes with its unfinished jobs.
    """
    start = time.perf_counter()
    plan = _plan(methods, datasets, baselines, grid, seeds, backend, metric, protocol,
                 reference, correction)
    owned = not isinstance(store, ResultStore)
    db = ResultStore(store) if owned else store
    try:
        db.set_config(plan["config"])
        finished = db.finished()
        pending = [job for job in plan["jobs"] if job.key not in finished]
        desc = f"compare ({len(plan['jobs']) - len(pending)} done before)" if finished \
            else "compare"
        if stacked:
            units = group_jobs(pending)
            for unit, outcomes in run_jobs(run_group, units, backend=backend, n_jobs=jobs,
                                           scheduler=scheduler, progress=progress,
                                           desc=f"{desc}: {len(pending)} jobs in",
                                           unit="unit"):
                if isinstance(outcomes, dict):  # the unit itself raised (run_group did not)
                    outcomes = [outcomes] * len(unit)
                db.write_many(_row(job, outcome)
                              for job, outcome in zip(unit, outcomes, strict=True))
        else:
            for job, outcome in run_jobs(run_job, pending, backend=backend, n_jobs=jobs,
                                         scheduler=scheduler, progress=progress, desc=desc):
                db.write(_row(job, outcome))
        keys = {job.key for job in plan["jobs"]}
        rows = db.results()
        rows = rows[rows["key"].isin(keys)].reset_index(drop=True)
    finally:
        if owned:
            db.close()
    result = summarize(rows, plan["config"], reference=plan["reference"])
    result.ran, result.skipped = len(pending), len(plan["jobs"]) - len(pending)
    result.seconds = time.perf_counter() - start
    return result


def _row(job: Any, outcome: dict[str, Any]) -> dict[str, Any]:
    return outcome if outcome.get("status") == "ok" else failed_row(job, outcome)


def table_from_store(store: str | Path, *, reference: str | Path | None = None,
                     metric: str | None = None) -> ComparisonResult:
    """Re-make the table of the latest comparison written to ``store`` (no training)."""
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
        config = {**config, "metric": _check_metric(metric)}
    rows = rows[rows["method"].isin(config["methods"]) & rows["dataset"].isin(config["datasets"])
                & rows["seed"].isin(config["seeds"]) & (rows["protocol"] == config["protocol"])]
    ref = _read_reference(reference) if reference is not None else None
    return summarize(rows.reset_index(drop=True), config, reference=ref)


def summarize(rows: pd.DataFrame, config: dict[str, Any], *,
              reference: pd.DataFrame | None = None) -> ComparisonResult:
    """Select grid points, average seeds, rank and test (the statistics of the comparison)."""
    metric = config["metric"]
    methods, datasets = list(config["methods"]), list(config["datasets"])
    selected = select(rows, metric)
    ok = selected.dropna(subset=["test"])
    grouped = ok.groupby(["dataset", "method"])["test"]
    per = grouped.agg(score="mean", std="std", n_seeds="count").reset_index()
    scores = per.pivot(index="dataset", columns="method", values="score")
    scores = scores.reindex(index=datasets, columns=methods).astype(float)
    scores.index.name, scores.columns.name = "dataset", "method"
    if len(methods) >= 2 and scores.notna().any().any():
        table = _stats.comparison_table(scores.dropna(how="all"),
                                        correction=config.get("correction"))
    else:
        table = pd.DataFrame({"method": methods, "mean_rank": np.nan, "avg_rank_diff": np.nan,
                              "p_value": np.nan, "significant": False, "best": False,
                              "n_datasets": 0})
    failed = rows[rows["status"] != "ok"].groupby("method").size() if len(rows) else {}
    table["mean_score"] = table["method"].map(scores.mean(axis=0))
    table["failed_jobs"] = table["method"].map(lambda m: int(failed.get(m, 0)))
    complete = scores.dropna()
    friedman = _stats.friedman(complete) if complete.shape[1] >= 2 else (math.nan, math.nan)
    cd = (_stats.nemenyi_cd(complete.shape[1], complete.shape[0])
          if complete.shape[1] >= 2 and complete.shape[0] >= 1 else math.nan)
    per_dataset = per.copy()
    if reference is not None:
        per_dataset = _add_reference(per_dataset, reference)
    return ComparisonResult(table=table, scores=scores, per_dataset=per_dataset,
                            selected=selected, results=rows, metric=metric,
                            friedman=friedman, cd=cd, config=config)


def _plan(methods, datasets, baselines, grid, seeds, backend, metric, protocol, reference,
          correction) -> dict[str, Any]:
    """Validate every input and build the job list; raise before anything runs."""
    from fnnlab.data import suite
    from fnnlab.models import METHODS

    methods = list(DEFAULT_METHODS if methods is None else _names(methods, "methods"))
    baselines = _names(baselines, "baselines")
    methods = [METHODS.canonical(m) for m in methods]
    baselines = [BASELINES.canonical(b) for b in baselines]
    clash = sorted(set(methods) & set(baselines))
    if clash:
        raise ValueError(f"{clash} named both as method and baseline; name each once.")
    everything = methods + baselines
    if len(set(everything)) != len(everything):
        raise ValueError(f"A method or baseline is named twice: {everything}.")
    if len(everything) < 2:
        raise ValueError(f"A comparison needs at least 2 methods and baselines together, got "
                         f"{everything}.")
    metric = _check_metric(metric)
    if protocol not in PROTOCOLS:
        raise ValueError(f"Unknown protocol {protocol!r}. Known protocols: "
                         f"{', '.join(PROTOCOLS)}.")
    if correction not in (None, "holm", "bonferroni"):
        raise ValueError(f"Unknown correction {correction!r}. Use 'holm', 'bonferroni' or None.")
    check_backend(backend)
    if isinstance(seeds, bool) or not isinstance(seeds, int | Sequence):
        raise TypeError(f"seeds must be an int or a list of ints, got {seeds!r}.")
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a positive count or distinct ints, got {seeds!r}.")
    sources = suite(datasets)
    if protocol == "paper":
        missing = [s.name for s in sources if not s.has_paper_splits]
        if missing:
            raise ValueError(f"protocol='paper' needs the UCI split file beside each data "
                             f"file (splits/NAME.splits.json.gz); missing for: "
                             f"{', '.join(missing)}. Use protocol='random' for these.")
    grid = load_grid(grid)
    check_grid(grid, methods, baselines)
    points = {m: grid_points(method_grid(grid, m, baseline=False)) for m in methods}
    points.update({b: grid_points(method_grid(grid, b, baseline=True)) for b in baselines})
    kinds = {**dict.fromkeys(methods, "fnn"), **dict.fromkeys(baselines, "baseline")}
    ref = _read_reference(reference) if reference is not None else None
    if ref is not None and metric != "accuracy":
        raise ValueError(f"The reference holds published accuracies; use metric='accuracy' "
                         f"with it, got metric={metric!r}.")
    jobs = make_jobs(points, kinds, sources, seeds, protocol)
    config = {"methods": everything, "datasets": [s.name for s in sources], "seeds": seeds,
              "metric": metric, "protocol": protocol, "grid": grid, "correction": correction}
    return {"jobs": jobs, "config": config, "reference": ref}


def _names(value: Any, what: str) -> list[str]:
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{what} must be a list of names, got {value!r}.")
    return [v.strip() for v in value]


def _check_metric(metric: str) -> str:
    metric = {"roc_auc": "auc"}.get(metric, metric)
    if metric not in METRICS:
        raise ValueError(f"Unknown metric {metric!r}. Known metrics: {', '.join(METRICS)}.")
    return metric


def _read_reference(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No reference file at {path}.")
    frame = pd.read_csv(path)
    if "name" not in frame.columns:
        raise ValueError(f"Reference file {path} needs a 'name' column (the data set), got "
                         f"columns {list(frame.columns)}.")
    known = [c for c in REFERENCE_COLUMNS.values() if c in frame.columns]
    if not known:
        raise ValueError(f"Reference file {path} has none of the method columns "
                         f"{', '.join(REFERENCE_COLUMNS.values())}.")
    long = frame.melt(id_vars="name", value_vars=known, var_name="column",
                      value_name="published")
    to_method = {v: k for k, v in REFERENCE_COLUMNS.items()}
    long["method"] = long["column"].map(to_method)
    return long.rename(columns={"name": "dataset"})[["dataset", "method", "published"]]


def _add_reference(per: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    out = per.merge(ref, on=["dataset", "method"], how="left")
    out["difference"] = out["score"] - out["published"]
    return out


def _clean(value: Any) -> Any:
    # Strict JSON: NaN becomes null, numpy scalars become Python numbers.
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
