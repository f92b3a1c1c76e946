"""Jobs of the comparison and their store rows.

A *job* is one (method, data set, grid point, seed) under a split protocol: train on
the training split, score on the validation and test splits. It is a plain frozen
dataclass, so it pickles to any worker and hashes as a dict key. Its :attr:`Job.key`
(the store's primary key) holds the data set's content fingerprint
(``fnnlab.bench.datasets.fingerprint``) beside its name, so a stored result is reused
only for the same data and the same settings: a changed file is a new data set.

:func:`job_row` is the one place a store row is built, for finished and failed jobs
alike (the columns are those of ``fnnlab.bench.store``).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sklearn
import torch

import fnnlab


@dataclass(frozen=True)
class Job:
    """One training run of the comparison.

    Parameters
    ----------
    method : str
        A ``METHODS`` preset (``kind="fnn"``) or a ``BASELINES`` name (``kind="baseline"``).
    kind : {"fnn", "baseline"}
        Whether ``method`` names a network preset or a scikit-learn baseline.
    dataset : str
        The data set's name.
    path : str or None
        Its data file; None for a data set bundled with scikit-learn.
    params : tuple of (name, value) pairs
        The grid point, sorted by name (hashable; ``dict(job.params)`` to read).
    seed : int
        Draws the data split (random protocol) or the validation rows (paper and cv
        protocols), and the model's initial weights.
    protocol : {"random", "paper", "cv"}
        How the data is split (``fnnlab.bench.datasets``).
    data : str, default=""
        The content fingerprint of the data set (empty: not fingerprinted).
    fold : int or None, default=None
        The outer fold under the cv protocol (repeat-major, ``fnnlab.data.folds``);
        None under the others.
    scaling : str, default="standard"
        How the numeric features are scaled (``fnnlab.data.SCALINGS``), fitted on the
        training part of the split.
    """

    method: str
    kind: str
    dataset: str
    path: str | None
    params: tuple[tuple[str, Any], ...]
    seed: int
    protocol: str
    data: str = ""
    fold: int | None = None
    scaling: str = "standard"

    @property
    def key(self) -> str:
        """The store's primary key: JSON of (method, dataset, data, params, seed, protocol, ...).

        The fold is appended under the cv protocol, and ``{"scaling": name}`` when the
        scaling is not "standard", so the keys of the other protocols and of
        standardized features, and the stores that hold them, stay as they were.
        """
        parts = [self.method, self.dataset, self.data, dict(self.params), self.seed,
                 self.protocol]
        parts += [] if self.fold is None else [self.fold]
        parts += [] if self.scaling == "standard" else [{"scaling": self.scaling}]
        return json.dumps(parts, sort_keys=True)


def key_scaling(key: str) -> str:
    """The scaling of the job whose :attr:`Job.key` is ``key`` ("standard" if it names none)."""
    last = json.loads(key)[-1]
    return last["scaling"] if isinstance(last, dict) else "standard"


def make_jobs(
    methods: Mapping[str, list[dict[str, Any]]],
    kinds: Mapping[str, str],
    sources: Sequence[Any],
    seeds: Sequence[int],
    protocol: str,
    fingerprints: Mapping[str, str] | None = None,
    folds: Mapping[str, int] | None = None,
    scaling: str = "standard",
) -> list[Job]:
    """All jobs: every method x data set x (outer fold) x grid point x seed.

    Parameters
    ----------
    methods : mapping of str to list of dict
        A method name to its grid points.
    kinds : mapping of str to {"fnn", "baseline"}
        A method name to its kind.
    sources : sequence of fnnlab.data.Source
        The data sets.
    seeds : sequence of int
        The seeds.
    protocol : {"random", "paper", "cv"}
        The split protocol.
    fingerprints : mapping of str to str, optional
        A data set's name to its content fingerprint (the jobs' ``data``).
    folds : mapping of str to int, optional
        A data set's name to its number of outer folds; required under "cv".
    scaling : str, default="standard"
        The jobs' feature scaling (``fnnlab.data.SCALINGS``).

    Returns
    -------
    list of Job
        Grouped by data set, fold and seed, so a worker reuses a loaded split.
    """
    fingerprints = fingerprints or {}
    jobs = []
    for source in sources:
        path = None if source.path is None else str(source.path)
        outer = range(folds[source.name]) if protocol == "cv" else [None]
        for fold in outer:
            for seed in seeds:
                for method, points in methods.items():
                    jobs.extend(Job(method, kinds[method], source.name, path,
                                    tuple(sorted(point.items())), int(seed), protocol,
                                    fingerprints.get(source.name, ""), fold, scaling)
                                for point in points)
    return jobs


def job_row(job: Job, *, status: str, **fields: Any) -> dict[str, Any]:
    """The store row of ``job``: its identity, ``status``, ``fields`` and provenance.

    Parameters
    ----------
    job : Job
        The job the row records.
    status : {"ok", "failed"}
        Whether it finished.
    **fields
        Further columns of ``fnnlab.bench.store`` (``scores``, ``error``,
        ``n_train``, ``epochs_run``, ``seconds``, ``train_seconds``,
        ``predict_seconds``, ``pid``, ...).

    Returns
    -------
    dict
        The row, with the host, process and fnnlab / torch / scikit-learn versions.
    """
    return {
        "key": job.key, "method": job.method, "kind": job.kind, "dataset": job.dataset,
        "data_hash": job.data, "params": dict(job.params), "seed": job.seed, "fold": job.fold,
        "protocol": job.protocol, "status": status, "error": None, "scores": None,
        "host": socket.gethostname(), "pid": os.getpid(),
        "fnnlab_version": fnnlab.__version__, "torch_version": torch.__version__,
        "sklearn_version": sklearn.__version__, **fields,
    }
