"""Units of work: the jobs that train together, and how a unit is trained and scored.

A *unit* is a tuple of jobs that share one data split. :func:`group_jobs` puts the
network jobs of one (data set, seed, protocol, method) into one unit, and
:func:`run_unit` trains a unit's networks with one ``fnnlab.fit_many`` call, which
stacks the same-shaped ones (grid points differing in learning rate, dropout rate,
weight decay, ...) into one vectorized model (``fnnlab.training.stacked``). Without
dropout every stacked network ends with the weights its own ``fit`` call would give,
up to float32 rounding, so a stacked comparison gives the same table as one job at a
time, only faster. A job trained alone is a unit (a stack) of one; a baseline job is
always a unit of one.

Networks and baselines see the same splits and the same preprocessing: the features
of ``fnnlab.bench.datasets`` and, for regression, targets standardized with the
training part's mean and standard deviation (``fnnlab.data.TargetScaler``); both
kinds predict standardized targets, mapped back to the target's units for scoring.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from fnnlab.bench.baselines import BASELINES
from fnnlab.bench.datasets import job_splits
from fnnlab.bench.grids import split_point
from fnnlab.bench.jobs import Job, job_row
from fnnlab.bench.scoring import estimator_scores, network_scores
from fnnlab.data import TargetScaler
from fnnlab.models import FNNSpec
from fnnlab.training import FitConfig, fit_many


def group_jobs(jobs: Sequence[Job], *, stacked: bool = True) -> list[tuple[Job, ...]]:
    """Units of work: with ``stacked``, network jobs of one split and method together.

    The job seed also draws the data split, so only jobs of the same (dataset,
    path, seed, protocol) can train as one stack; within that, ``fit_many``
    stacks what has the same shape. Units stop at the method too: the
    ``METHODS`` presets differ in activation, norm, reparametrization or block,
    so their networks never share a stack, and smaller units keep the worker
    processes evenly busy. Baseline jobs, and every job when ``stacked`` is
    False, are units of one. Units keep the order of ``jobs``.
    """
    units: dict[Any, list[Job]] = {}
    for i, job in enumerate(jobs):
        key = (("fnn", job.dataset, job.path, job.data, job.seed, job.protocol, job.fold,
                job.scaling, job.method)
               if stacked and job.kind == "fnn" else ("alone", i))
        units.setdefault(key, []).append(job)
    return [tuple(unit) for unit in units.values()]


def run_unit(jobs: Sequence[Job]) -> list[dict[str, Any]]:
    """Train and score a unit of :func:`group_jobs`; one store row per job, in order.

    Each row's ``seconds`` is its job's share of the unit's wall time (in
    proportion to its training and scoring time). If training a unit of several
    jobs raises, every job is rerun as a unit of one, so a failure stays with the
    job that caused it; a failing unit of one gives a failed row carrying the
    error and its traceback.
    """
    jobs = tuple(jobs)
    if len({(j.dataset, j.path, j.data, j.seed, j.protocol, j.fold, j.scaling, j.kind)
            for j in jobs}) != 1:
        raise ValueError("run_unit: the jobs of one unit must share dataset, seed, protocol "
                         "and kind (one data split); group them with group_jobs.")
    try:
        return _run(jobs)
    except Exception as error:
        if len(jobs) > 1:
            return [row for job in jobs for row in run_unit((job,))]
        return [job_row(jobs[0], status="failed", error=f"{type(error).__name__}: {error}",
                        traceback=traceback.format_exc(), pid=os.getpid())]


def _run(jobs: tuple[Job, ...]) -> list[dict[str, Any]]:
    start = time.perf_counter()
    splits = job_splits(jobs[0])
    train, valid, unscale = _scaled_targets(splits)
    if jobs[0].kind == "baseline":
        outcomes = [_train_baseline(job, splits, train, unscale) for job in jobs]
    else:
        outcomes = _train_networks(jobs, splits, train, valid, unscale)
    # Each job's share of the unit's wall time, in proportion to its own work, so that
    # the rows' seconds add up to the unit's wall time.
    wall = time.perf_counter() - start
    total = sum(fit + scoring for *_, fit, scoring in outcomes) or 1.0
    sizes = {"n_train": len(splits.train), "n_valid": len(splits.valid),
             "n_test": len(splits.test)}
    return [job_row(job, status="ok", scores=scores, epochs_run=epochs,
                    seconds=wall * (fit + scoring) / total, train_seconds=fit,
                    predict_seconds=predict, **sizes)
            for job, (scores, epochs, predict, fit, scoring) in zip(jobs, outcomes, strict=True)]


def _scaled_targets(splits: Any) -> tuple[Any, Any, Callable[[np.ndarray], np.ndarray] | None]:
    # Regression: train and valid with targets standardized on the training part (so
    # early stopping watches the loss the network trains on), and the map back.
    if splits.task != "regression":
        return splits.train, splits.valid, None
    scaler = TargetScaler().fit(splits.train.y)

    def unscale(t: np.ndarray) -> np.ndarray:
        return scaler.inverse_transform(torch.from_numpy(t)).double().numpy()

    return (replace(splits.train, y=scaler.transform(splits.train.y)),
            replace(splits.valid, y=scaler.transform(splits.valid.y)), unscale)


def _train_networks(jobs: tuple[Job, ...], splits: Any, train: Any, valid: Any,
                    unscale: Callable | None) -> list[tuple[dict, int, float, float, float]]:
    # One fit_many call for the unit: its fit options go per member, a missing one
    # takes fit's default.
    points = [split_point(dict(job.params)) for job in jobs]
    specs = [FNNSpec(in_features=splits.n_features, out_features=splits.n_outputs,
                     method=job.method, **spec) for job, (spec, _) in zip(jobs, points,
                                                                           strict=True)]
    defaults = FitConfig.defaults()
    names = sorted({name for _, options in points for name in options})
    options = {name: [fit.get(name, defaults[name]) for _, fit in points] for name in names}
    results = fit_many(specs, train, valid, seed=[job.seed for job in jobs],
                       progress=False, **options)
    outcomes = []
    for result in results:
        tick = time.perf_counter()
        scores, predict = network_scores(result.model, splits, unscale)
        outcomes.append((scores, len(result.history), predict,
                         float(result.history["seconds"].sum()), time.perf_counter() - tick))
    return outcomes


def _train_baseline(job: Job, splits: Any, train: Any,
                    unscale: Callable | None) -> tuple[dict, None, float, float, float]:
    tick = time.perf_counter()
    estimator = BASELINES.create(job.method, task=splits.task, seed=job.seed,
                                 **dict(job.params))
    estimator.fit(train.X.numpy(), train.y.numpy())
    fit = time.perf_counter() - tick
    tick = time.perf_counter()
    scores, predict = estimator_scores(estimator, splits, unscale)
    return scores, None, predict, fit, time.perf_counter() - tick
