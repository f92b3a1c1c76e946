"""Targets with missing labels: which rows and target columns can be learned from.

Multi-task data such as Tox21 (Klambauer et al. 2017, "Self-Normalizing Neural
Networks": 12 assays, a compound measured in some of them) have one binary target
column per task and a missing value where a label was not measured. The loss and
the metrics skip the missing labels (Note [masked multi-task loss] in
`fnnlab.likelihoods`), so a row counts as long as one of its labels is there. A row
with none teaches nothing and is dropped, with a warning; a target column with none
is a task nothing can be learned about, and an error.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from fnnlab.data.messages import names, rows

__all__ = ["labelled_rows"]


def labelled_rows(observed: np.ndarray, columns: Sequence[str], where: str,
                  stacklevel: int = 2) -> np.ndarray:
    """The rows with at least one observed label; warn once if some have none.

    Parameters
    ----------
    observed : numpy.ndarray of bool, shape (N, T)
        True where row i's label of task t was measured.
    columns : sequence of str
        The T target column names, for the messages.
    where : str
        What the rows are (a data set or argument name), for the messages.
    stacklevel : int, default=2
        Of the warning, counted from the caller of this function.

    Returns
    -------
    numpy.ndarray of bool, shape (N,)
        The rows to keep.

    Raises
    ------
    ValueError
        A target column without any observed label, named.
    """
    observed = np.asarray(observed, dtype=bool)
    empty = [str(c) for c, n in zip(columns, observed.sum(0), strict=True) if n == 0]
    if empty:
        raise ValueError(
            f"{where}: target column {names(empty)} has no observed label (every value is "
            f"missing), so there is nothing to learn for that task. Drop it from the "
            f"targets."
        )
    keep = observed.any(1)
    if not keep.all():
        warnings.warn(
            f"{where}: dropped {int((~keep).sum())} of {len(keep)} rows that have no "
            f"observed label in any target column (rows {rows(~keep)}).",
            UserWarning, stacklevel=stacklevel + 1)
    return keep
