"""The data of the comparison: each job's split, and each data set's content fingerprint.

Splits (``protocol``):

- ``"random"``: a stratified 65/15/20 train/valid/test split drawn with the job's
  seed (``fnnlab.data.split``), so seeds vary both the data split and the model.
- ``"paper"``: the UCI collection's first k-fold train/test split with 15% of the
  training part as validation (``fnnlab.data.paper_split``); seeds vary the
  validation rows and the model.

The test split is never used for any choice (the UCI study of Fernández-Delgado et
al. 2014 tuned and reported on the same split, which biased its numbers; Klambauer
et al. 2017 chose on 15% of the training data, and so do we).

A data set's *fingerprint* is a hash of its content: of the file's bytes (and of its
split file under the paper protocol), or of the table for a bundled data set. Stored
results are keyed on it, so an edited file is a new data set rather than a name whose
old results are silently reused.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import pandas as pd

from fnnlab.data import Source, split
from fnnlab.data.splits import paper_splits_file

PROTOCOLS: tuple[str, ...] = ("random", "paper")

# Fractions of all rows for the random protocol, and of the training part for "paper".
VALID_FRACTION = 0.15
TEST_FRACTION = 0.2


def fingerprint(source: Source, protocol: str) -> str:
    """Check that ``source`` is a classification data set and return its content hash.

    Parameters
    ----------
    source : fnnlab.data.Source
        The data set.
    protocol : {"random", "paper"}
        Under "paper" the split file is part of the data.

    Returns
    -------
    str
        16 hex digits of SHA-256 over the file's bytes (and the split file's), or
        over the table's column names and row hashes for a bundled data set.

    Raises
    ------
    ValueError
        The data set is not a classification task.
    """
    table = source.load()
    if table.task != "classification":
        raise ValueError(f"Data set {source.name!r} is a {table.task} task; the comparison "
                         f"scores classifiers (accuracy, balanced accuracy, AUC). Leave it "
                         f"out of the suite.")
    digest = hashlib.sha256()
    if source.path is None:
        digest.update(repr(list(table.frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(table.frame, index=False).to_numpy().tobytes())
    else:
        digest.update(_file_hash(source.path))
        if protocol == "paper":
            digest.update(_file_hash(paper_splits_file(source.path)))
    return digest.hexdigest()[:16]


def _file_hash(path: Path) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


def job_splits(job: Any) -> Any:
    """The train / valid / test splits of ``job`` (a ``fnnlab.bench.jobs.Job``).

    Raises
    ------
    ValueError
        The data set is not a classification task.
    """
    splits = _splits(job.dataset, job.path, job.seed, job.protocol)
    if splits.task != "classification":
        raise ValueError(f"Data set {job.dataset!r} is a {splits.task} task; the comparison "
                         f"scores classifiers (accuracy, balanced accuracy, AUC).")
    return splits


@functools.lru_cache(maxsize=4)
def _splits(name: str, path: str | None, seed: int, protocol: str) -> Any:
    # Cached per worker process: jobs come grouped by (data set, seed), so a worker
    # loads and preprocesses each split once for all methods and grid points.
    source = Source(name, None if path is None else Path(path))
    if protocol == "paper":
        return source.paper_split(0, valid=VALID_FRACTION, seed=seed)
    return split(source.load(), valid=VALID_FRACTION, test=TEST_FRACTION, seed=seed)
