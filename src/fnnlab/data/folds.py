"""Outer cross-validation folds: k folds, repeated, with TabArena's counts by data-set size.

TabArena (Erickson et al., "TabArena: A Living Benchmark for Machine Learning on
Tabular Data", 2025) evaluates every method on outer 3-fold cross-validation,
repeated 10 times on data sets below 2,500 rows and 3 times above, so a small data
set, whose test folds are small and noisy, gets more repeats. Each repeat is an
independent shuffle; within a repeat the test folds partition the rows. Folds are
stratified by class for classification (scikit-learn's ``RepeatedStratifiedKFold``)
and plain for regression (``RepeatedKFold``), seeded, so the same seed gives the same
rows. Validation rows for model selection come from each fold's training part
(``fnnlab.data.splits.from_indices(table, fold.train, fold.test, valid=0.15)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold

from fnnlab.data.dataset import Task

SMALL_ROWS = 2500
"""Below this many rows a data set gets :data:`SMALL_REPEATS` repeats, else :data:`REPEATS`."""
SMALL_REPEATS = 10
REPEATS = 3
FOLDS = 3


@dataclass(frozen=True, eq=False)
class Fold:
    """One outer fold: which repeat, which fold, and the row positions of each part.

    Parameters
    ----------
    repeat : int
        Repeat number, 0-based.
    fold : int
        Fold number within the repeat, 0-based.
    train, test : numpy.ndarray
        Sorted row positions (int64) of the training and test parts; disjoint, and
        together all rows.
    """

    repeat: int
    fold: int
    train: np.ndarray
    test: np.ndarray

    def __repr__(self) -> str:
        return (f"Fold(repeat={self.repeat}, fold={self.fold}, train={len(self.train)}, "
                f"test={len(self.test)})")


def tabarena_repeats(n_rows: int) -> int:
    """TabArena's number of repeats: 10 below 2,500 rows, 3 from 2,500 rows on."""
    if not isinstance(n_rows, int | np.integer) or n_rows < 1:
        raise ValueError(f"n_rows must be a positive integer, got {n_rows!r}.")
    return SMALL_REPEATS if n_rows < SMALL_ROWS else REPEATS


def cv_folds(
    y: np.ndarray,
    task: Task,
    *,
    n_folds: int = FOLDS,
    n_repeats: int | None = None,
    seed: int = 0,
) -> list[Fold]:
    """Outer k-fold x repeats assignment of the rows of a data set.

    Parameters
    ----------
    y : array-like of shape (n_rows,)
        Targets; their classes stratify the folds when ``task`` is "classification".
    task : {"classification", "regression"}
    n_folds : int, default=3
        Folds per repeat (k); each test fold holds about n_rows / k rows.
    n_repeats : int, optional
        Default :func:`tabarena_repeats` of the number of rows.
    seed : int, default=0
        Seeds the shuffles; the same seed and ``y`` give the same folds.

    Returns
    -------
    list of Fold
        ``n_repeats * n_folds`` folds, repeat-major.

    Raises
    ------
    ValueError
        A bad count or task, or a class with fewer rows than ``n_folds`` (a stratified
        fold would miss it; merge rare classes or lower ``n_folds``).
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"cv_folds needs 1-d targets, got shape {y.shape}.")
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}.")
    if not isinstance(n_folds, int | np.integer) or not 2 <= n_folds <= len(y):
        raise ValueError(f"n_folds must be an integer in [2, n_rows={len(y)}], got {n_folds!r}.")
    if n_repeats is None:
        n_repeats = tabarena_repeats(len(y))
    if not isinstance(n_repeats, int | np.integer) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive integer, got {n_repeats!r}.")
    if task == "classification":
        classes, counts = np.unique(y, return_counts=True)
        if counts.min() < n_folds:
            rare = classes[counts < n_folds].tolist()
            raise ValueError(f"Classes {rare} have fewer than n_folds={n_folds} rows, so a "
                             f"stratified fold would miss them; merge rare classes or lower "
                             f"n_folds.")
        splitter = RepeatedStratifiedKFold(n_splits=n_folds, n_repeats=n_repeats,
                                           random_state=seed)
    else:
        splitter = RepeatedKFold(n_splits=n_folds, n_repeats=n_repeats, random_state=seed)
    return [Fold(i // n_folds, i % n_folds, np.sort(train).astype(np.int64),
                 np.sort(test).astype(np.int64))
            for i, (train, test) in enumerate(splitter.split(np.zeros((len(y), 1)), y))]
