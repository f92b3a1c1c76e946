"""Run independent jobs in parallel: local processes, a Dask cluster or a Ray cluster.

The runner knows nothing about networks: it calls a picklable function on each
job and yields ``(job, result)`` pairs in the order they finish, so the caller
can store each result at once. No scheduling is written here; the engines do it:

- ``"local"``: joblib's loky process pool (``n_jobs`` processes, all cores by
  default; ``n_jobs=1`` runs in this process, which is easiest to debug).
- ``"dask"``: Dask futures on the cluster at ``scheduler`` (an address such as
  ``"tcp://10.0.0.1:8786"`` or a ``distributed.Client``), or on a new
  ``LocalCluster`` with ``n_jobs`` single-threaded worker processes.
- ``"ray"``: Ray tasks on the cluster at ``scheduler`` (or a local Ray).

Each job runs with one torch thread (``torch.set_num_threads(1)``) and one
BLAS/OpenMP thread (threadpoolctl): the jobs already fill the cores, and
oversubscribed threads make every job slower.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

BACKENDS: tuple[str, ...] = ("local", "dask", "ray")


def check_backend(backend: str) -> str:
    """Return ``backend`` if known (raise ``ValueError`` otherwise); check ray is installed."""
    if backend not in BACKENDS:
        close = difflib.get_close_matches(str(backend), BACKENDS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Unknown backend {backend!r}.{hint} Known backends: {', '.join(BACKENDS)}."
        )
    if backend == "dask":
        _require("distributed", "dask", "dask[distributed]")
    if backend == "ray":
        _require("ray", "ray", "ray")
    return backend


def _require(module: str, backend: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ImportError(
            f"backend={backend!r} needs the {package!r} package, which is not installed. "
            f"Install it with `pip install '{package}'` or use backend='local'."
        )


def run_jobs(
    fn: Callable[[Any], Any],
    jobs: Sequence[Any],
    *,
    backend: str = "local",
    n_jobs: int = -1,
    scheduler: Any = None,
    progress: bool = True,
    desc: str = "jobs",
    unit: str = "job",
) -> Iterator[tuple[Any, Any]]:
    """Yield ``(job, fn(job))`` for every job, in the order the jobs finish.

    Parameters
    ----------
    fn : callable
        A module-level (picklable) function of one job. If it raises, the
        result is ``{"status": "failed", "error": "Type: message"}`` and the
        other jobs go on.
    jobs : sequence
        Picklable job descriptions.
    backend : {"local", "dask", "ray"}
    n_jobs : int, default=-1
        Local processes (-1: all cores) or workers of a new Dask LocalCluster.
    scheduler : str or distributed.Client, optional
        Address of a running Dask scheduler / Ray cluster.
    progress : bool, default=True
        Show a tqdm bar over the jobs with rate and ETA.
    desc, unit : str
        The bar's label and the name of one item (e.g. "unit" for groups of jobs).
    """
    check_backend(backend)
    jobs = list(jobs)
    bar = tqdm(total=len(jobs), desc=desc, unit=unit, disable=not progress or not jobs,
               dynamic_ncols=True)
    try:
        if not jobs:
            return
        engine = {"local": _local, "dask": _dask, "ray": _ray}[backend]
        for index, result in engine(fn, jobs, n_jobs, scheduler):
            bar.update(1)
            yield jobs[index], result
    finally:
        bar.close()


def _call(fn: Callable[[Any], Any], job: Any, index: int) -> tuple[int, Any]:
    # Runs in the worker. One torch thread per job: parallelism comes from the jobs.
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    try:
        # BLAS / OpenMP pools of numpy and scikit-learn too (HistGradientBoosting).
        with threadpool_limits(1):
            return index, fn(job)
    except Exception as error:
        return index, {"status": "failed", "error": f"{type(error).__name__}: {error}",
                       "traceback": traceback.format_exc(), "pid": os.getpid()}


def _local(fn, jobs, n_jobs, scheduler) -> Iterator[tuple[int, Any]]:
    if n_jobs == 1:
        threads = torch.get_num_threads()
        try:
            for i, job in enumerate(jobs):
                yield _call(fn, job, i)
        finally:
            torch.set_num_threads(threads)
        return
    parallel = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator_unordered",
                        pre_dispatch="2*n_jobs")
    yield from parallel(delayed(_call)(fn, job, i) for i, job in enumerate(jobs))


def _dask(fn, jobs, n_jobs, scheduler) -> Iterator[tuple[int, Any]]:
    # Optional package (the "dask" extra): imported only when this backend runs.
    from distributed import Client, LocalCluster, as_completed

    own_cluster = None
    if scheduler is None:
        workers = (os.cpu_count() or 1) if n_jobs in (None, -1) else max(1, int(n_jobs))
        own_cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
        client = Client(own_cluster)
    elif isinstance(scheduler, Client):
        client = scheduler
    else:
        client = Client(scheduler)
    try:
        futures = [client.submit(_call, fn, job, i, pure=False) for i, job in enumerate(jobs)]
        for future in as_completed(futures):
            yield future.result()
    finally:
        if client is not scheduler:
            client.close()
        if own_cluster is not None:
            own_cluster.close()


def _ray(fn, jobs, n_jobs, scheduler) -> Iterator[tuple[int, Any]]:
    # Optional package (the "ray" extra): imported only when this backend runs.
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address=scheduler, num_cpus=None if scheduler or n_jobs in (None, -1)
                 else n_jobs, ignore_reinit_error=True, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=1)(_call)
        pending = [remote.remote(fn, job, i) for i, job in enumerate(jobs)]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:
        if started:
            ray.shutdown()
