"""Train / validation / test splits with preprocessing fitted on the training part.

`split` draws a seeded (stratified, for classification) random split;
`from_indices` takes explicit train/test rows and carves the validation part
out of the training rows; `paper_split` does that with the UCI collection's own
index files, the protocol of the SNN paper's 121-dataset comparison (Klambauer
et al. 2017, "Self-Normalizing Neural Networks", NeurIPS: the collection's
train/test definitions of Fernández-Delgado et al. 2014, with 15% of the
training data as validation set).

Randomness comes from ``seed`` alone: the same seed gives the same rows.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from fnnlab.data.dataset import Dataset, Task
from fnnlab.data.loaders import dataset_name, load_file
from fnnlab.data.messages import label
from fnnlab.data.preprocess import Preprocessor
from fnnlab.data.table import Table, from_arrays, from_frame

DataLike = Table | pd.DataFrame | tuple[Any, Any]


@dataclass(frozen=True, eq=False)
class Splits:
    """Train, validation and test ``Dataset`` parts of one data set, plus how they were made.

    Parameters
    ----------
    train, valid, test : Dataset
        The parts, features preprocessed with statistics of ``train`` only.
        ``valid`` / ``test`` are None when their fraction was 0.
    train_index, valid_index, test_index : numpy.ndarray
        Sorted row positions (int64) of each part in the source table.
    preprocessor : Preprocessor
        Fitted on the training rows; apply it to new raw rows of the same table.
    """

    train: Dataset
    valid: Dataset | None
    test: Dataset | None
    train_index: np.ndarray
    valid_index: np.ndarray
    test_index: np.ndarray
    preprocessor: Preprocessor

    def __repr__(self) -> str:
        sizes = ", ".join(f"{part}={len(getattr(self, f'{part}_index'))}"
                          for part in ("train", "valid", "test"))
        return f"Splits(name={self.name!r}, task={self.task!r}, {sizes})"

    @property
    def name(self) -> str:
        """The data set's name."""
        return self.train.name

    @property
    def task(self) -> Task:
        """"classification" or "regression"."""
        return self.train.task

    @property
    def n_features(self) -> int:
        """Number of feature columns after preprocessing."""
        return self.train.n_features

    @property
    def n_classes(self) -> int | None:
        """Number of classes (None for regression)."""
        return self.train.n_classes

    @property
    def n_outputs(self) -> int:
        """Model output width: number of classes, or of regression targets."""
        return self.train.n_outputs


def split(
    data: DataLike,
    *,
    valid: float = 0.15,
    test: float = 0.2,
    seed: int = 0,
    stratify: bool = True,
    impute: str | None = None,
    scaling: str = "standard",
) -> Splits:
    """Split a data set at random into train / valid / test and preprocess it.

    Part sizes: n_test = ceil(test * N), n_valid = ceil(valid * N), the rest is
    training data. Classification splits are stratified: each part keeps the
    class proportions up to rounding.

    Parameters
    ----------
    data : Table, pandas.DataFrame or (X, y)
        A loader's `Table`, a DataFrame with a ``"target"`` column (`from_frame`),
        or arrays (`from_arrays`).
    valid, test : float, default=0.15, 0.2
        Fractions of all rows, each in [0, 1), with valid + test < 1.
    seed : int, default=0
        Seeds the shuffling; the same seed gives the same rows.
    stratify : bool, default=True
        Stratify by class (classification with one target; several binary tasks are
        split at random).
    impute : {"mean", "median", "most_frequent"} or None
        Missing-value strategy of the `Preprocessor`; None makes NaN an error.
    scaling : {"standard", "robust", "quantile", "none"}, default="standard"
        How the `Preprocessor` scales numeric columns (`fnnlab.data.scaling`),
        fitted on the training part only.

    Raises
    ------
    ValueError
        Bad fractions, too few rows, a class too small to stratify, NaN/inf features.
    """
    table = _as_table(data)
    for field, value in (("valid", valid), ("test", test)):
        if not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ValueError(f"split: {field} must be a fraction in [0, 1), got {value!r}.")
    if valid + test >= 1:
        raise ValueError(f"split: valid + test must be below 1 to leave training rows, got "
                         f"{valid} + {test}.")
    _check_seed(seed)
    n = len(table)
    stratified = stratify and table.task == "classification" and not table.multi_label
    labels = table.y if stratified else None
    n_parts = 1 + (valid > 0) + (test > 0)
    if stratified:
        _check_class_sizes(table, labels, n_parts, "a stratified train/valid/test split")
    least = len(table.classes) if stratified else 1
    if not _sizes_ok(n, valid, test, least):
        needed = next(m for m in range(n + 1, 100 * n + 1000) if _sizes_ok(m, valid, test, least))
        per_part = f"{least} rows (one per class)" if stratified else "1 row"
        raise ValueError(
            f"Data set {table.name!r} has {n} rows, too few for a split with valid={valid}, "
            f"test={test}: every part needs at least {per_part}, so at least {needed} rows are "
            f"needed. Use more data or smaller valid/test fractions."
        )
    rng = np.random.RandomState(seed)
    rows = np.arange(n)
    n_test, n_valid = _ceil(test * n), _ceil(valid * n)
    rest, test_index = _carve(table, rows, n_test, labels, rng)
    train_index, valid_index = _carve(table, rest, n_valid, labels, rng)
    return _build(table, train_index, valid_index, test_index, impute, scaling)


def from_indices(
    data: DataLike,
    train: Sequence[int] | np.ndarray,
    test: Sequence[int] | np.ndarray | None = None,
    *,
    valid: float | Sequence[int] | np.ndarray = 0.15,
    seed: int = 0,
    stratify: bool = True,
    impute: str | None = None,
    scaling: str = "standard",
) -> Splits:
    """Build `Splits` from explicit row positions.

    Parameters
    ----------
    data : Table, pandas.DataFrame or (X, y)
    train, test : array-like of int
        Row positions (0-based) of the training and test parts; must not overlap.
    valid : float or array-like of int, default=0.15
        A fraction of the training rows to hold out as validation set (seeded,
        stratified for classification), or explicit validation rows.
    seed, stratify, impute, scaling
        As in `split`.
    """
    table = _as_table(data)
    _check_seed(seed)
    n = len(table)
    train_index = _positions(train, n, "train")
    test_index = _positions([] if test is None else test, n, "test")
    if len(train_index) == 0:
        raise ValueError("from_indices: the train part is empty.")
    _check_disjoint(train_index, test_index, "train", "test")
    if isinstance(valid, (int, float)) and not isinstance(valid, bool):
        if not 0 <= valid < 1:
            raise ValueError(f"from_indices: valid must be a fraction in [0, 1) of the "
                             f"training rows, or row positions; got {valid!r}.")
        train_index, valid_index = _carve_valid(table, train_index, valid, seed, stratify)
    else:
        valid_index = _positions(valid, n, "valid")
        _check_disjoint(train_index, valid_index, "train", "valid")
        _check_disjoint(valid_index, test_index, "valid", "test")
    return _build(table, train_index, valid_index, test_index, impute, scaling)


def paper_split(
    path: str | Path,
    fold: int = 0,
    *,
    valid: float = 0.15,
    seed: int = 0,
    impute: str | None = None,
    scaling: str = "standard",
) -> Splits:
    """Split a UCI-collection CSV the way the SNN paper did.

    Reads ``splits/NAME.splits.json.gz`` in the CSV's folder (format in the data
    folder's README). The test part is the original test file when the source
    came as separate train and test files (``train_test_files``; ``fold`` is then
    unused), else the ``kfold[fold]`` test part (about 25% of the rows). 15% of
    the training part becomes the validation set, stratified and seeded.

    Which of the four k-fold splits the paper used is not documented; the test
    sizes match any of them, and ``fold=0`` is an assumption.

    Raises
    ------
    FileNotFoundError
        The CSV or its split file does not exist.
    ValueError
        ``fold`` out of range, or the split file does not match the CSV.
    """
    path = Path(path)
    table = load_file(path)
    splits_file = paper_splits_file(path)
    if not splits_file.is_file():
        raise FileNotFoundError(
            f"No split file for data set {table.name!r}: expected {splits_file}. paper_split "
            f"needs the collection's index file in a 'splits' folder beside the CSV; use "
            f"split() for a random split instead."
        )
    try:
        with gzip.open(splits_file, "rt") if splits_file.suffix == ".gz" else open(
            splits_file
        ) as f:
            spec = json.load(f)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"Cannot read split file {splits_file}: {error}") from None
    if spec.get("n_rows") != len(table):
        raise ValueError(f"Split file {splits_file} is for {spec.get('n_rows')} rows, but "
                         f"{path} has {len(table)} rows.")
    if spec.get("train_test_files"):
        train, test = spec["train_test_files"]["train"], spec["train_test_files"]["test"]
    else:
        folds = spec["kfold"]
        if not isinstance(fold, int) or not 0 <= fold < len(folds):
            raise ValueError(f"fold must be an integer in 0..{len(folds) - 1} for "
                             f"{splits_file.name}, got {fold!r}.")
        train, test = folds[fold]["train"], folds[fold]["test"]
    return from_indices(table, train, test, valid=valid, seed=seed, impute=impute,
                        scaling=scaling)


def paper_splits_file(path: str | Path) -> Path:
    """Where `paper_split` looks for the index file of the data file ``path``."""
    path = Path(path)
    return path.parent / "splits" / f"{dataset_name(path)}.splits.json.gz"


def _as_table(data: DataLike) -> Table:
    if isinstance(data, Table):
        return data
    if isinstance(data, pd.DataFrame):
        return from_frame(data)
    if isinstance(data, tuple) and len(data) == 2:
        return from_arrays(*data)
    raise TypeError(f"Expected a Table, a DataFrame with a 'target' column, or a tuple "
                    f"(X, y); got {type(data).__name__}.")


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative integer, got {seed!r}.")


def _ceil(x: float) -> int:
    # Round away float noise first: 0.15 * 100 is 15.000000000000002, not 16 rows.
    return math.ceil(round(x, 9))


def _sizes_ok(n: int, valid: float, test: float, least: int) -> bool:
    n_test, n_valid = _ceil(test * n), _ceil(valid * n)
    n_train = n - n_test - n_valid
    return n_train >= least and all(
        size >= least for size, fraction in ((n_test, test), (n_valid, valid)) if fraction > 0
    )


def _check_class_sizes(
    table: Table, codes: np.ndarray, needed: int, what: str, among: np.ndarray | None = None,
) -> None:
    """Raise if a class (of ``among``, default all) has fewer than ``needed`` rows."""
    counts = np.bincount(codes, minlength=len(table.classes))
    among = np.arange(len(counts)) if among is None else among
    small = [(table.classes[k], int(counts[k])) for k in among if counts[k] < needed]
    if small:
        listed = ", ".join(
            f"{label(value)} ({count} row{'s' if count != 1 else ''})"
            for value, count in small[:10]
        )
        raise ValueError(
            f"Data set {table.name!r}: class {listed} has too few rows for {what}, which "
            f"needs at least {needed} per class. Drop or merge rare classes, or pass "
            f"stratify=False. If the target is continuous, load it with task='regression'."
        )


def _carve(
    table: Table, rows: np.ndarray, n_out: int, labels: np.ndarray | None,
    rng: np.random.RandomState,
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``rows`` into (kept, held out) with ``n_out`` held out; sorted positions."""
    if n_out == 0:
        return np.sort(rows).astype(np.int64), np.array([], dtype=np.int64)
    try:
        kept, out = train_test_split(
            rows, test_size=n_out, random_state=rng,
            stratify=None if labels is None else labels[rows],
        )
    except ValueError as error:
        raise ValueError(f"Data set {table.name!r}: stratified split failed: {error} "
                         f"Pass stratify=False or use more data.") from None
    return np.sort(kept).astype(np.int64), np.sort(out).astype(np.int64)


def _check_disjoint(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    shared = np.intersect1d(a, b)
    if len(shared):
        raise ValueError(f"from_indices: the {name_a} and {name_b} parts share {len(shared)} "
                         f"rows (e.g. row {shared[0]}); the parts must be disjoint.")


def _carve_valid(
    table: Table, train_index: np.ndarray, valid: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out ceil(valid * n_train) of the training rows as validation part."""
    n_valid = _ceil(valid * len(train_index))
    if n_valid == 0:
        return train_index, np.array([], dtype=np.int64)
    labels = (table.y if stratify and table.task == "classification"
              and not table.multi_label else None)
    if labels is not None:
        present = np.unique(labels[train_index])
        _check_class_sizes(table, labels[train_index], 2,
                           "a stratified train/valid split of the training rows", present)
        if min(n_valid, len(train_index) - n_valid) < len(present):
            raise ValueError(
                f"Data set {table.name!r}: the training part has {len(train_index)} rows, "
                f"too few for a stratified validation fraction of {valid} over "
                f"{len(present)} classes: train and valid need at least {len(present)} rows "
                f"each."
            )
    return _carve(table, train_index, n_valid, labels, np.random.RandomState(seed))


def _positions(index: Any, n: int, part: str) -> np.ndarray:
    array = np.asarray(index)
    if array.size == 0:
        return np.array([], dtype=np.int64)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"The {part} rows must be a 1-D array of integer positions, got "
                        f"dtype {array.dtype} with shape {array.shape}.")
    if array.min() < 0 or array.max() >= n:
        raise ValueError(f"The {part} rows must lie in 0..{n - 1}, got "
                         f"{array.min()}..{array.max()}.")
    if len(np.unique(array)) != len(array):
        raise ValueError(f"The {part} rows contain duplicates.")
    return np.sort(array).astype(np.int64)


def _build(
    table: Table, train_index: np.ndarray, valid_index: np.ndarray, test_index: np.ndarray,
    impute: str | None, scaling: str,
) -> Splits:
    features = table.X
    preprocessor = Preprocessor(table.kinds, impute=impute, name=table.name, scaling=scaling)
    preprocessor.check(features)  # all rows, so the message counts every bad value
    preprocessor.fit(features.iloc[train_index])  # Note [train-only statistics]
    y = table.y

    def part(index: np.ndarray) -> Dataset:
        X = preprocessor.transform(features.iloc[index])
        return Dataset(torch.from_numpy(X), torch.from_numpy(y[index]), table.task,
                       preprocessor.feature_names_out_, table.classes, table.name)

    return Splits(
        part(train_index),
        part(valid_index) if len(valid_index) else None,
        part(test_index) if len(test_index) else None,
        train_index, valid_index, test_index, preprocessor,
    )
