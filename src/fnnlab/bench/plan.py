"""Planning a comparison: every input checked, and the job list, before the first job.

:func:`make_plan` turns the arguments of ``fnnlab.bench.compare`` into a
:class:`Plan`, or raises with a message that names the bad input. It loads each data
set once to learn its task and to fingerprint its content (``fnnlab.bench.datasets``),
checks that every baseline is installed and does every task of the suite
(``fnnlab.bench.baselines.check_baselines``), picks each data set's metric, and checks
every grid value (``fnnlab.bench.grids``), so a comparison never starts jobs that are
all bound to fail.

Each data set is ranked by its task's metric, TabArena's choice
(``fnnlab.training.metrics.task_metrics``): ROC AUC for binary classification,
log-loss for multiclass, RMSE for regression; a ``metric`` given by the user replaces
it wherever it applies to the task, and is an error where it does not. The paper
protocol ranks classifiers by accuracy, as the SNN paper did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fnnlab.bench.baselines import BASELINES, check_baselines
from fnnlab.bench.datasets import PROTOCOLS, describe
from fnnlab.bench.grids import check_grid, check_values, grid_points, load_grid, method_grid
from fnnlab.bench.jobs import Job, make_jobs
from fnnlab.bench.runner import check_backend
from fnnlab.bench.scoring import CLASSIFICATION_METRICS, METRICS, REGRESSION_METRICS
from fnnlab.bench.selection import PROTOCOL_TIES, check_ties
from fnnlab.data import suite
from fnnlab.models import METHODS
from fnnlab.training.metrics import METRICS as REGISTRY
from fnnlab.training.metrics import task_metrics

# The seven FNN methods of the SNN paper's comparison.
DEFAULT_METHODS: tuple[str, ...] = (
    "snn", "msra", "batchnorm", "layernorm", "weightnorm", "highway", "resnet",
)

# Columns of the SNN paper's supplementary accuracy table (../shared/data/reference).
REFERENCE_COLUMNS: dict[str, str] = {
    "snn": "SNN", "msra": "MS", "highway": "HW", "resnet": "ResNet", "batchnorm": "BN",
    "weightnorm": "WN", "layernorm": "LN",
}

CORRECTIONS: tuple[str | None, ...] = (None, "holm", "bonferroni")


@dataclass(frozen=True)
class Plan:
    """A checked comparison: its jobs, its settings and the published reference.

    Parameters
    ----------
    jobs : list of Job
        Every method x data set x grid point x seed.
    config : dict
        The settings stored with the results: methods (and baselines), datasets,
        data (name to content fingerprint), tasks and n_classes (per data set),
        metrics (each data set's ranking metric), seeds, metric (the user's, or None),
        protocol, grid, baseline_grids (each baseline's grid as run), correction,
        ties (the rule that breaks ties in validation score, ``fnnlab.bench.selection``).
    reference : DataFrame or None
        Published accuracies in long form (dataset, method, published).
    """

    jobs: list[Job]
    config: dict[str, Any]
    reference: pd.DataFrame | None


def make_plan(
    *,
    methods: Sequence[str] | None,
    datasets: str | Path | Sequence[str | Path],
    baselines: Sequence[str],
    grid: str | Path | dict[str, Any],
    seeds: int | Sequence[int] | None,
    backend: str,
    metric: str | None,
    protocol: str,
    reference: str | Path | None,
    correction: str | None,
    ties: str | None = None,
) -> Plan:
    """Check every input of ``compare`` (see there) and build its jobs.

    Raises
    ------
    ValueError, TypeError, FileNotFoundError
        A bad input, named in the message; nothing has run and no store is written.
    ImportError
        A baseline whose package is not installed; the message names the pip extra.
    """
    methods, baselines = _method_names(methods, baselines)
    metric = None if metric is None else check_metric(metric)
    if protocol not in PROTOCOLS:
        raise ValueError(f"Unknown protocol {protocol!r}. Known protocols: "
                         f"{', '.join(PROTOCOLS)}.")
    if correction not in CORRECTIONS:
        raise ValueError(f"Unknown correction {correction!r}. Use 'holm', 'bonferroni' or None.")
    ties = PROTOCOL_TIES[protocol] if ties is None else check_ties(ties)
    check_backend(backend)
    # Under cv the outer folds' repeats already vary the data; one seed by default.
    seeds = _seeds((1 if protocol == "cv" else 3) if seeds is None else seeds)
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
    check_values(points)
    points.update({b: grid_points(method_grid(grid, b, baseline=True)) for b in baselines})
    ref = read_reference(reference) if reference is not None else None
    if ref is not None and metric is None:
        metric = "accuracy"  # the reference's metric
    if ref is not None and metric != "accuracy":
        raise ValueError(f"The reference holds published accuracies; use metric='accuracy' "
                         f"with it, got metric={metric!r}.")
    facts = {source.name: describe(source, protocol) for source in sources}
    tasks = {name: f.task for name, f in facts.items()}
    check_baselines(baselines, tasks.values())
    if metric is None and protocol == "paper" and set(tasks.values()) == {"classification"}:
        metric = "accuracy"  # the paper's, for choosing grid points and for ranking
    config = {"methods": methods + baselines, "datasets": list(facts),
              "data": {name: f.fingerprint for name, f in facts.items()}, "tasks": tasks,
              "n_classes": {name: f.n_classes for name, f in facts.items()},
              "seeds": seeds, "metric": metric, "protocol": protocol, "grid": grid,
              "baseline_grids": {b: method_grid(grid, b, baseline=True) for b in baselines},
              "correction": correction, "ties": ties}
    config["metrics"] = dataset_metrics(config, metric)
    kinds = {**dict.fromkeys(methods, "fnn"), **dict.fromkeys(baselines, "baseline")}
    jobs = make_jobs(points, kinds, sources, seeds, protocol, config["data"],
                     {name: f.n_folds for name, f in facts.items()})
    return Plan(jobs=jobs, config=config, reference=ref)


def dataset_metrics(config: dict[str, Any], metric: str | None) -> dict[str, str]:
    """Each data set's ranking metric: ``metric`` where given, else its task's default.

    Raises
    ------
    ValueError
        ``metric`` does not apply to a data set's task (RMSE for a classifier).
    """
    out = {}
    for name in config["datasets"]:
        task = config["tasks"][name]
        allowed = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
        if metric is not None and metric not in allowed:
            raise ValueError(f"metric={metric!r} does not apply to {name!r}, a {task} data set "
                             f"(its metrics: {', '.join(allowed)}); leave metric unset for "
                             f"each task's default, or drop {name!r} from the suite.")
        out[name] = metric or task_metrics(task, config["n_classes"][name])[0]
    return out


def _method_names(methods: Sequence[str] | None,
                  baselines: Sequence[str]) -> tuple[list[str], list[str]]:
    # Canonical names, each named once, at least two in all.
    methods = list(DEFAULT_METHODS if methods is None else _names(methods, "methods"))
    methods = [METHODS.canonical(m) for m in methods]
    baselines = [BASELINES.canonical(b) for b in _names(baselines, "baselines")]
    clash = sorted(set(methods) & set(baselines))
    if clash:
        raise ValueError(f"{clash} named both as method and baseline; name each once.")
    everything = methods + baselines
    if len(set(everything)) != len(everything):
        raise ValueError(f"A method or baseline is named twice: {everything}.")
    if len(everything) < 2:
        raise ValueError(f"A comparison needs at least 2 methods and baselines together, got "
                         f"{everything}.")
    return methods, baselines


def _names(value: Any, what: str) -> list[str]:
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{what} must be a list of names, got {value!r}.")
    return [v.strip() for v in value]


def _seeds(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, bool) or not isinstance(seeds, int | Sequence):
        raise TypeError(f"seeds must be an int or a list of ints, got {seeds!r}.")
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a positive count or distinct ints, got {seeds!r}.")
    return seeds


def check_metric(metric: str) -> str:
    """The registry name of ``metric`` (``"auc"`` is ``"roc_auc"``); raise if not recorded."""
    name = REGISTRY.canonical(metric) if metric in REGISTRY else metric
    if name not in METRICS:
        raise ValueError(f"Unknown metric {metric!r}. Known metrics: {', '.join(METRICS)} "
                         f"(auc is roc_auc, nll is log_loss).")
    return name


def read_reference(path: str | Path) -> pd.DataFrame:
    """Published accuracies from a CSV (``name`` plus SNN, MS, ... columns), in long form."""
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
