"""The data of the comparison: each job's split, and each data set's content fingerprint.

Classification and regression data sets can share one comparison. Splits (``protocol``):

- ``"random"``: a stratified 65/15/20 train/valid/test split drawn with the job's
  seed (``fnnlab.data.split``), so seeds vary both the data split and the model.
- ``"paper"``: the UCI collection's first k-fold train/test split (:data:`PAPER_FOLD`;
  the paper does not say which of the four it used) with 15% of the training part as
  validation (``fnnlab.data.paper_split``); seeds vary the validation rows and the
  model. What else differs from the paper is listed with every result
  (``fnnlab.bench.fidelity.deviations``).
- ``"cv"``: TabArena's outer cross-validation (``fnnlab.data.folds``): 3 folds,
  repeated 10 times below 2,500 rows and 3 times above, drawn once with seed 0; the
  job's ``fold`` picks the outer fold, and 15% of its training part (drawn with the
  job's seed) is the validation part that chooses grid points.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fnnlab.data import Source, from_indices, split
from fnnlab.data.folds import FOLDS, cv_folds, tabarena_repeats
from fnnlab.data.splits import paper_splits_file
from fnnlab.data.table import Table

PROTOCOLS: tuple[str, ...] = ("random", "paper", "cv")

# Fractions of all rows for the random protocol, and of the training part for "paper".
VALID_FRACTION = 0.15
TEST_FRACTION = 0.2

# Which of the collection's four k-fold train/test splits the paper protocol tests on.
PAPER_FOLD = 0


@dataclass(frozen=True)
class DataFacts:
    """What the plan of a comparison needs to know about one data set.

    Parameters
    ----------
    fingerprint : str
        16 hex digits of SHA-256 over the file's bytes (and the split file's under the
        paper protocol), or over the table's column names and row hashes for a bundled
        data set.
    task : {"classification", "regression"}
    n_classes : int or None
        Number of classes; None for regression.
    n_folds : int
        Outer folds under the cv protocol (k x TabArena's repeats); 1 otherwise.
    """

    fingerprint: str
    task: str
    n_classes: int | None
    n_folds: int


def describe(source: Source, protocol: str) -> DataFacts:
    """Load ``source`` once and return its fingerprint, task and number of outer folds."""
    table = source.load()
    digest = hashlib.sha256()
    if source.path is None:
        digest.update(repr(list(table.frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(table.frame, index=False).to_numpy().tobytes())
    else:
        digest.update(_file_hash(source.path))
        if protocol == "paper":
            digest.update(_file_hash(paper_splits_file(source.path)))
    n_classes = len(table.classes) if table.task == "classification" else None
    n_folds = FOLDS * tabarena_repeats(len(table)) if protocol == "cv" else 1
    return DataFacts(digest.hexdigest()[:16], table.task, n_classes, n_folds)


def fingerprint(source: Source, protocol: str) -> str:
    """The content hash of ``source`` (see :class:`DataFacts`)."""
    return describe(source, protocol).fingerprint


def _file_hash(path: Path) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


def job_splits(job: Any) -> Any:
    """The train / valid / test splits of ``job`` (a ``fnnlab.bench.jobs.Job``)."""
    return _splits(job.dataset, job.path, job.seed, job.protocol, job.fold)


@functools.lru_cache(maxsize=4)
def _splits(name: str, path: str | None, seed: int, protocol: str, fold: int | None) -> Any:
    # Cached per worker process: jobs come grouped by (data set, seed), so a worker
    # loads and preprocesses each split once for all methods and grid points.
    source = Source(name, None if path is None else Path(path))
    if protocol == "paper":
        return source.paper_split(PAPER_FOLD, valid=VALID_FRACTION, seed=seed)
    table = source.load()
    if protocol == "cv":
        outer = _folds(table)[fold]
        return from_indices(table, outer.train, outer.test, valid=VALID_FRACTION, seed=seed)
    return split(table, valid=VALID_FRACTION, test=TEST_FRACTION, seed=seed)


def _folds(table: Table) -> list[Any]:
    # Seed 0 for every job: all methods and seeds of a data set see the same outer folds.
    return cv_folds(table.y, table.task, n_repeats=tabarena_repeats(len(table)), seed=0)
