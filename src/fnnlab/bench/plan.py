"""Planning a comparison: every input checked, and the job list, before the first job.

:func:`make_plan` turns the arguments of ``fnnlab.bench.compare`` into a
:class:`Plan`, or raises with a message that names the bad input. It loads each data
set once to check that it is a classification task and to fingerprint its content
(``fnnlab.bench.datasets``), and checks every grid value (``fnnlab.bench.grids``), so a
comparison never starts jobs that are all bound to fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fnnlab.bench.baselines import BASELINES
from fnnlab.bench.datasets import PROTOCOLS, fingerprint
from fnnlab.bench.grids import check_grid, check_values, grid_points, load_grid, method_grid
from fnnlab.bench.jobs import Job, make_jobs
from fnnlab.bench.runner import check_backend
from fnnlab.bench.scoring import METRICS
from fnnlab.data import suite
from fnnlab.models import METHODS
from fnnlab.training.metrics import METRICS as REGISTRY

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
        data (name to content fingerprint), seeds, metric, protocol, grid, correction.
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
    seeds: int | Sequence[int],
    backend: str,
    metric: str,
    protocol: str,
    reference: str | Path | None,
    correction: str | None,
) -> Plan:
    """Check every input of ``compare`` (see there) and build its jobs.

    Raises
    ------
    ValueError, TypeError, FileNotFoundError
        A bad input, named in the message; nothing has run and no store is written.
    """
    methods, baselines = _method_names(methods, baselines)
    metric = check_metric(metric)
    if protocol not in PROTOCOLS:
        raise ValueError(f"Unknown protocol {protocol!r}. Known protocols: "
                         f"{', '.join(PROTOCOLS)}.")
    if correction not in CORRECTIONS:
        raise ValueError(f"Unknown correction {correction!r}. Use 'holm', 'bonferroni' or None.")
    check_backend(backend)
    seeds = _seeds(seeds)
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
    if ref is not None and metric != "accuracy":
        raise ValueError(f"The reference holds published accuracies; use metric='accuracy' "
                         f"with it, got metric={metric!r}.")
    data = {source.name: fingerprint(source, protocol) for source in sources}
    kinds = {**dict.fromkeys(methods, "fnn"), **dict.fromkeys(baselines, "baseline")}
    jobs = make_jobs(points, kinds, sources, seeds, protocol, data)
    config = {"methods": methods + baselines, "datasets": list(data), "data": data,
              "seeds": seeds, "metric": metric, "protocol": protocol, "grid": grid,
              "correction": correction}
    return Plan(jobs=jobs, config=config, reference=ref)


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
                         f"(auc is roc_auc).")
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
