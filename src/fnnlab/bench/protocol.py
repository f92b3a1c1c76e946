"""The comparison protocol: jobs, how one job runs, and how a grid point is chosen.

A *job* is one (method, dataset, grid point, seed): train on the training split,
score on the validation and test splits. Per (method, dataset, seed) the grid
point with the best validation score is *kept* (not refitted on train + valid)
and its test score is that method's result for that seed; a method's score on a
dataset is the mean over seeds. The test split is never used for any choice
(the UCI study of Fernández-Delgado et al. 2014 tuned and reported on the same
split, which biased its numbers; Klambauer et al. 2017 chose on 15% of the
training data, and so do we).

Splits (``protocol``):

- ``"random"``: a stratified 65/15/20 train/valid/test split drawn with the job's
  seed (``fnnlab.data.split``), so seeds vary both the data split and the model.
- ``"paper"``: the UCI collection's first k-fold train/test split with 15% of the
  training part as validation (``fnnlab.data.paper_split``); seeds vary the
  validation rows and the model.

Jobs are plain frozen dataclasses keyed by (method, dataset, params, seed,
protocol). :func:`group_jobs` groups the network jobs that share a data split and a
method into one unit of work, and :func:`run_group` trains a unit's networks with
``fnnlab.fit_many``, which stacks the same-shaped ones (grid points differing in
learning rate, dropout rate, weight decay, ...) into one vectorized model
(``fnnlab.training.stacked``). Without dropout every stacked network ends with the
weights its own ``fit`` call would give, up to float32 rounding, so a stacked
comparison gives the same table as one job at a time, only faster.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PROTOCOLS: tuple[str, ...] = ("random", "paper")
METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "auc")

# Fractions of all rows for the random protocol, and of the training part for "paper".
VALID_FRACTION = 0.15
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class Job:
    """One training run of the comparison.

    Parameters
    ----------
    method : str
        A ``METHODS`` preset (``kind="fnn"``) or a ``BASELINES`` name (``kind="baseline"``).
    kind : {"fnn", "baseline"}
    dataset : str
        The data set's name (results are keyed by it).
    path : str or None
        Its data file; None for a data set bundled with scikit-learn.
    params : tuple of (name, value) pairs
        The grid point, sorted by name (hashable; ``dict(job.params)`` to read).
    seed : int
    protocol : {"random", "paper"}
    """

    method: str
    kind: str
    dataset: str
    path: str | None
    params: tuple[tuple[str, Any], ...]
    seed: int
    protocol: str

    @property
    def key(self) -> str:
        """The store's primary key: JSON of (method, dataset, params, seed, protocol)."""
        return json.dumps([self.method, self.dataset, dict(self.params), self.seed,
                           self.protocol], sort_keys=True)


def make_jobs(
    methods: dict[str, list[dict[str, Any]]],
    kinds: dict[str, str],
    sources: list[Any],
    seeds: list[int],
    protocol: str,
) -> list[Job]:
    """All jobs: every method x data set x grid point x seed.

    ``methods`` maps a method name to its grid points, ``kinds`` a method name to
    "fnn" or "baseline", ``sources`` are ``fnnlab.data.Source`` objects. Jobs come
    grouped by data set and seed, so workers reuse a loaded split.
    """
    jobs = []
    for source in sources:
        path = None if source.path is None else str(source.path)
        for seed in seeds:
            for method, points in methods.items():
                for point in points:
                    jobs.append(Job(method, kinds[method], source.name, path,
                                    tuple(sorted(point.items())), int(seed), protocol))
    return jobs


def run_job(job: Job) -> dict[str, Any]:
    """Train and score one job; return a store row (see ``fnnlab.bench.store``).

    Exceptions propagate; the runner records them as a failed job.
    """
    start = time.perf_counter()
    splits = _classification_splits(job)
    params = dict(job.params)
    if job.kind == "baseline":
        valid, test, epochs = _run_baseline(job, splits, params)
    else:
        valid, test, epochs = _run_fnn(job, splits, params)
    return _ok_row(job, splits, valid, test, epochs, time.perf_counter() - start)


def group_jobs(jobs: Sequence[Job]) -> list[tuple[Job, ...]]:
    """Units of work for stacked training: network jobs with one split and method together.

    The job seed also draws the data split, so only jobs of the same (dataset,
    path, seed, protocol) can train as one stack; within that, ``fit_many``
    stacks what has the same shape. Units stop at the method too: the
    ``METHODS`` presets differ in activation, norm, reparametrization or block,
    so their networks never share a stack, and smaller units keep the worker
    processes evenly busy. Baseline jobs stay units of one. Units keep the
    order of ``jobs``.
    """
    units: dict[Any, list[Job]] = {}
    for i, job in enumerate(jobs):
        key = (("fnn", job.dataset, job.path, job.seed, job.protocol, job.method)
               if job.kind == "fnn" else ("alone", i))
        units.setdefault(key, []).append(job)
    return [tuple(unit) for unit in units.values()]


def run_group(jobs: Sequence[Job]) -> list[dict[str, Any]]:
    """Train and score a unit of :func:`group_jobs`; one outcome per job, in order.

    Network jobs train together in one ``fnnlab.fit_many`` call (same-shaped
    networks as one stacked model); each job's model is scored as
    :func:`run_job` scores it, and its row's ``seconds`` is its share of the
    unit's wall time (in proportion to its training time). If the stacked call
    raises, every job is rerun alone with :func:`run_job`, so a failure stays
    with the job that caused it. An outcome is a store row, or for a failed job
    ``{"status": "failed", "error": ..., "traceback": ..., "pid": ...}`` (as the
    runner reports a raising job; turn it into a row with :func:`failed_row`).
    """
    jobs = list(jobs)
    if len(jobs) == 1 or any(job.kind != "fnn" for job in jobs):
        return [_outcome(run_job, job) for job in jobs]
    try:
        return _run_stacked(jobs)
    except Exception:
        return [_outcome(run_job, job) for job in jobs]


def _run_stacked(jobs: list[Job]) -> list[dict[str, Any]]:
    import fnnlab
    from fnnlab.bench.grids import FIT_PARAMETERS
    from fnnlab.training.config import FitConfig

    start = time.perf_counter()
    first = jobs[0]
    if len({(j.dataset, j.path, j.seed, j.protocol) for j in jobs}) != 1:
        raise ValueError("run_group: the jobs of one unit must share dataset, path, seed "
                         "and protocol (one data split); group them with group_jobs.")
    splits = _classification_splits(first)
    specs = [_fnn_spec(job, splits, dict(job.params)) for job in jobs]
    defaults = FitConfig.defaults()
    names = sorted({k for job in jobs for k in dict(job.params) if k in FIT_PARAMETERS})
    lists = {name: [dict(job.params).get(name, defaults[name]) for job in jobs]
             for name in names}
    results = fnnlab.fit_many(specs, splits.train, splits.valid, seed=[j.seed for j in jobs],
                              progress=False, **lists)
    scored = []
    for result in results:
        tick = time.perf_counter()
        valid, test = _score_fnn(result.model, splits)
        scored.append((valid, test, len(result.history), time.perf_counter() - tick,
                       float(result.history["seconds"].sum())))
    # Each job's share of the unit's wall time, in proportion to its own work, so that
    # the rows' seconds add up to the unit's wall time.
    wall = time.perf_counter() - start
    work = [s[3] + s[4] for s in scored]
    total = sum(work) or 1.0
    return [_ok_row(job, splits, valid, test, epochs, wall * w / total)
            for job, (valid, test, epochs, *_), w in zip(jobs, scored, work, strict=True)]


def _outcome(fn: Any, job: Job) -> dict[str, Any]:
    # The runner's record of a raising job, for jobs rerun one by one inside a unit.
    try:
        return fn(job)
    except Exception as error:
        return {"status": "failed", "error": f"{type(error).__name__}: {error}",
                "traceback": traceback.format_exc(), "pid": os.getpid()}


def _classification_splits(job: Job) -> Any:
    splits = _splits(job.dataset, job.path, job.seed, job.protocol)
    if splits.task != "classification":
        raise ValueError(f"Data set {job.dataset!r} is a {splits.task} task; the comparison "
                         f"scores classifiers (accuracy, balanced accuracy, AUC).")
    return splits


def _ok_row(job: Job, splits: Any, valid: dict[str, float], test: dict[str, float],
            epochs: int | None, seconds: float) -> dict[str, Any]:
    import sklearn
    import torch

    import fnnlab

    scores = {f"valid_{k}": v for k, v in valid.items()}
    scores.update({f"test_{k}": v for k, v in test.items()})
    return {
        "key": job.key, "method": job.method, "kind": job.kind, "dataset": job.dataset,
        "params": dict(job.params), "seed": job.seed, "protocol": job.protocol,
        "status": "ok", "error": None, "scores": scores, "n_train": len(splits.train),
        "n_valid": len(splits.valid), "n_test": len(splits.test), "epochs_run": epochs,
        "seconds": seconds, "host": socket.gethostname(), "pid": os.getpid(),
        "fnnlab_version": fnnlab.__version__, "torch_version": torch.__version__,
        "sklearn_version": sklearn.__version__,
    }


def failed_row(job: Job, outcome: dict[str, Any]) -> dict[str, Any]:
    """The store row of a job whose function raised (``outcome`` from the runner)."""
    import sklearn
    import torch

    import fnnlab

    return {
        "key": job.key, "method": job.method, "kind": job.kind, "dataset": job.dataset,
        "params": dict(job.params), "seed": job.seed, "protocol": job.protocol,
        "status": "failed", "error": outcome.get("error"), "scores": None,
        "pid": outcome.get("pid"), "host": socket.gethostname(),
        "fnnlab_version": fnnlab.__version__, "torch_version": torch.__version__,
        "sklearn_version": sklearn.__version__,
    }


@functools.lru_cache(maxsize=4)
def _splits(name: str, path: str | None, seed: int, protocol: str) -> Any:
    # Cached per worker process: jobs come grouped by (data set, seed), so a worker
    # loads and preprocesses each split once for all methods and grid points.
    from fnnlab.data import Source, split

    source = Source(name, None if path is None else Path(path))
    if protocol == "paper":
        return source.paper_split(0, valid=VALID_FRACTION, seed=seed)
    return split(source.load(), valid=VALID_FRACTION, test=TEST_FRACTION, seed=seed)


def _run_baseline(job: Job, splits: Any, params: dict[str, Any]):
    from fnnlab.bench.baselines import BASELINES

    estimator = BASELINES.create(job.method, seed=job.seed, **params)
    estimator.fit(splits.train.X.numpy(), splits.train.y.numpy())

    def score(part: Any) -> dict[str, float]:
        X = part.X.numpy()
        if hasattr(estimator, "predict_proba"):
            s = estimator.predict_proba(X)
        else:
            s = estimator.decision_function(X)
        return _scores(part.y.numpy(), estimator.predict(X), s, splits.n_classes)

    return score(splits.valid), score(splits.test), None


def _run_fnn(job: Job, splits: Any, params: dict[str, Any]):
    import torch

    from fnnlab.bench.grids import FIT_PARAMETERS
    from fnnlab.models import build
    from fnnlab.training import fit

    fit_kw = {k: v for k, v in params.items() if k in FIT_PARAMETERS}
    spec = _fnn_spec(job, splits, params)
    with torch.random.fork_rng():
        torch.manual_seed(job.seed)  # the initial weights depend on the seed only
        model = build(spec)
    result = fit(model, splits.train, valid=splits.valid, seed=job.seed, progress=False,
                 **fit_kw)
    valid, test = _score_fnn(result.model, splits)
    return valid, test, len(result.history)


def _fnn_spec(job: Job, splits: Any, params: dict[str, Any]) -> Any:
    from fnnlab.bench.grids import FIT_PARAMETERS
    from fnnlab.models import FNNSpec

    spec_kw = {k: v for k, v in params.items() if k not in FIT_PARAMETERS}
    return FNNSpec(in_features=splits.n_features, out_features=splits.n_outputs,
                   method=job.method, **spec_kw)


def _score_fnn(model: Any, splits: Any) -> tuple[dict[str, float], dict[str, float]]:
    import torch

    model = model.eval()

    def score(part: Any) -> dict[str, float]:
        with torch.no_grad():
            logits = model(part.X)
        s = torch.softmax(logits.double(), dim=1).numpy()
        return _scores(part.y.numpy(), logits.argmax(1).numpy(), s, splits.n_classes)

    return score(splits.valid), score(splits.test)


def _scores(y: np.ndarray, pred: np.ndarray, s: np.ndarray, n_classes: int) -> dict[str, float]:
    """Accuracy, balanced accuracy and ROC AUC (one-vs-rest macro mean over classes).

    ``s`` holds class scores (probabilities or decision values), shape (N, K) or (N,)
    for a binary decision function. The one-vs-rest AUC of class k ranks the rows by
    s[:, k]; averaging over the classes present equals scikit-learn's
    ``roc_auc_score(multi_class="ovr", average="macro")`` for probabilities and also
    works for decision values, which need not sum to one.
    """
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score

    s = np.asarray(s, dtype=float)
    if s.ndim == 1:
        s = np.stack([-s, s], axis=1)
    aucs = []
    if np.isfinite(s).all():
        for k in range(min(n_classes, s.shape[1])):
            positive = y == k
            if 0 < positive.sum() < len(y):
                aucs.append(roc_auc_score(positive, s[:, k]))
    if n_classes == 2 and aucs:
        aucs = aucs[1:]  # binary AUC: class 1 vs class 0 (class 0's AUC is the same value)
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        "auc": float(np.mean(aucs)) if aucs else float("nan"),
    }


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
