"""The `Table`: a raw, validated data set before preprocessing and splitting.

Every loader (`load`, `load_csv`, `from_frame`, `from_arrays`, ...) returns a
`Table`; `fnnlab.data.split` turns it into train / valid / test `Dataset`s.
Keeping the raw table apart from the split lets the comparison harness read a
file once and split it with many seeds, with preprocessing fitted on each
training part only.

Validation that does not depend on the split happens here, so a bad file
fails when it is loaded: a missing target column, missing or infinite
targets, a single class, and feature columns that cannot be encoded
(mixed types, dates, complex numbers).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from fnnlab.data.columns import Kind, NonNumeric, typed_column
from fnnlab.data.dataset import TASKS, Task
from fnnlab.data.messages import label, names, rows


@dataclass(frozen=True, eq=False)
class Table:
    """A raw data set: feature columns plus target column(s), checked and typed.

    Build one with a loader (`fnnlab.data.load`, `load_csv`, `from_frame`, ...)
    rather than directly.

    Parameters
    ----------
    frame : pandas.DataFrame
        Features and target column(s), rows in source order, index 0..N-1.
    target : str or tuple of str
        The target column (classification, regression) or columns (multi-output
        regression).
    task : {"classification", "regression"}
    name : str
        The data set's name (file stem, bundled name, ...).
    classes : numpy.ndarray or None
        Sorted distinct labels (classification); class code k means ``classes[k]``.
    kinds : dict of str to {"numeric", "categorical"}
        How each feature column is encoded: numeric columns are standardized,
        categorical ones (strings, pandas categoricals) one-hot encoded.
    """

    frame: pd.DataFrame
    target: str | tuple[str, ...]
    task: Task
    name: str
    classes: np.ndarray | None
    kinds: dict[str, Kind]

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        extra = f", n_classes={len(self.classes)}" if self.classes is not None else ""
        return (
            f"Table(name={self.name!r}, task={self.task!r}, n_rows={len(self)}, "
            f"n_columns={len(self.kinds)}, target={self.target!r}{extra})"
        )

    @property
    def targets(self) -> tuple[str, ...]:
        """The target column names as a tuple."""
        return (self.target,) if isinstance(self.target, str) else self.target

    @property
    def X(self) -> pd.DataFrame:
        """The raw feature columns."""
        return self.frame.drop(columns=list(self.targets))

    @property
    def y(self) -> np.ndarray:
        """Targets: int64 class codes (classification) or float32, (N,) or (N, T)."""
        if self.task == "classification":
            labels = self.frame[self.target].to_numpy()
            return np.searchsorted(self.classes, labels).astype(np.int64)
        values = self.frame[list(self.targets)].to_numpy(dtype=np.float32)
        return values[:, 0] if isinstance(self.target, str) else values


def from_frame(
    df: pd.DataFrame,
    target: str | Sequence[str] = "target",
    *,
    task: Task | None = None,
    name: str = "frame",
    kinds: Mapping[str, Kind] | None = None,
    non_numeric: NonNumeric = "error",
) -> Table:
    """Check a DataFrame and wrap it as a `Table`.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per sample; every column except ``target`` is a feature.
    target : str or sequence of str, default="target"
        Target column; several columns mean multi-output regression.
    task : {"classification", "regression"} or None
        None infers it from the target: strings, booleans, integers and integral
        floats mean classification, other floats regression.
    name : str, default="frame"
    kinds : mapping of str to {"numeric", "categorical"}, optional
        Declared kinds of some feature columns; the others are inferred
        (`fnnlab.data.columns`: numeric when most values are numbers).
    non_numeric : {"error", "missing"}, default="error"
        What values that are not numbers in a numeric column are: an error naming
        the column, rows and values, or missing values (to drop or impute).

    Raises
    ------
    ValueError
        Missing target column, no rows, no feature columns, missing/infinite
        targets, a single class, duplicate column names, text in a numeric column,
        a text column with too many distinct values to one-hot encode.
    TypeError
        A feature column that cannot be encoded (mixed types, dates, objects).
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"from_frame expects a pandas DataFrame, got {type(df).__name__}.")
    frame = df.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
    if duplicated:
        raise ValueError(f"Data set {name!r} has duplicate column names {duplicated}; "
                         f"rename them so each column is unique.")
    targets = (target,) if isinstance(target, str) else tuple(str(t) for t in target)
    if not targets:
        raise ValueError(f"Data set {name!r}: target must name at least one column.")
    missing = [t for t in targets if t not in frame.columns]
    if missing:
        raise ValueError(
            f"Data set {name!r} has no target column {missing[0]!r}. Columns: "
            f"{names(list(frame.columns))}. Pass target=<the label column's name>."
        )
    if len(frame) == 0:
        raise ValueError(f"Data set {name!r} has a header but no rows.")
    if len(frame.columns) == len(targets):
        raise ValueError(f"Data set {name!r} has no feature columns besides the target "
                         f"{list(targets)}.")
    for t in targets:
        _check_target_present(frame[t], name)
    if task is None:
        task = _infer_task(frame, targets, name)
    elif task not in TASKS:
        raise ValueError(f"task must be one of {TASKS} or None, got {task!r}.")
    classes = None
    if task == "classification":
        if len(targets) != 1:
            raise ValueError(
                f"Data set {name!r}: classification takes one target column, got "
                f"{list(targets)}. Pass task='regression' for several numeric targets."
            )
        classes = _classes(frame[targets[0]], name)
    else:
        for t in targets:
            _check_regression_target(frame[t], name)
    features = [c for c in frame.columns if c not in targets]
    declared = dict(kinds or {})
    unknown = sorted(set(declared) - set(features))
    if unknown:
        raise ValueError(f"Data set {name!r}: kinds names {unknown}, which are not feature "
                         f"columns. Feature columns: {names(features)}.")
    column_kinds: dict[str, Kind] = {}
    for c in features:
        column_kinds[c], typed = typed_column(frame[c], name, declared.get(c), non_numeric)
        if typed is not frame[c]:
            frame[c] = typed
    stored_target = targets[0] if isinstance(target, str) else targets
    return Table(frame, stored_target, task, name, classes, column_kinds)


def from_arrays(
    X: Any,
    y: Any,
    *,
    task: Task | None = None,
    feature_names: Sequence[str] | None = None,
    name: str = "arrays",
) -> Table:
    """Wrap feature and target arrays as a `Table`.

    Parameters
    ----------
    X : array-like of shape (N, F)
        Features (numpy array, torch tensor, nested lists, or a DataFrame).
    y : array-like of shape (N,) or (N, T)
        Labels (any type) or numeric targets; (N, T) means multi-output regression.
    task : {"classification", "regression"} or None
        None infers it: float targets with a non-integer value, and 2-D targets,
        mean regression; integers, strings and integral floats classification.
    feature_names : sequence of str, optional
        Default: the DataFrame's columns, else ``x0, x1, ...``.
    name : str, default="arrays"
    """
    if isinstance(X, pd.DataFrame):
        features = X.reset_index(drop=True)
    else:
        values = np.asarray(X)
        if values.ndim != 2:
            hint = " Use X.reshape(-1, 1) for a single feature." if values.ndim == 1 else ""
            raise ValueError(f"X must be 2-D (N, F), got shape {values.shape}.{hint}")
        features = pd.DataFrame(values, columns=[f"x{j}" for j in range(values.shape[1])])
    if feature_names is not None:
        if len(feature_names) != features.shape[1]:
            raise ValueError(f"{len(feature_names)} feature_names for {features.shape[1]} "
                             f"columns of X.")
        features.columns = [str(c) for c in feature_names]
    targets = np.asarray(y)
    if targets.ndim == 2 and targets.shape[1] == 1:
        targets = targets[:, 0]
    if targets.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D (N,) or 2-D (N, T), got shape {targets.shape}.")
    if len(targets) != len(features):
        raise ValueError(f"X and y have different lengths: X has {len(features)} rows, "
                         f"y has {len(targets)}. Pass one target per row of X.")
    if targets.ndim == 2:
        if task == "classification":
            raise ValueError("Classification needs 1-D labels y of shape (N,), got shape "
                             f"{targets.shape}.")
        columns = [f"target{k}" for k in range(targets.shape[1])]
        task = "regression"
    else:
        columns = ["target"]
    clash = [c for c in columns if c in features.columns]
    if clash:
        raise ValueError(f"Feature name {clash[0]!r} is reserved for the target; rename it.")
    target_frame = pd.DataFrame(targets.reshape(len(targets), -1), columns=columns)
    frame = pd.concat([features, target_frame], axis=1)
    target = columns[0] if targets.ndim == 1 else tuple(columns)
    return from_frame(frame, target, task=task, name=name)


def _check_target_present(column: pd.Series, name: str) -> None:
    missing = column.isna().to_numpy()
    if missing.any():
        raise ValueError(
            f"Data set {name!r}: target column {column.name!r} is missing in "
            f"{int(missing.sum())} rows (rows {rows(missing)}). Drop those rows first."
        )


def _check_regression_target(column: pd.Series, name: str) -> None:
    if not ptypes.is_numeric_dtype(column) or ptypes.is_bool_dtype(column):
        raise TypeError(f"Data set {name!r}: regression target {column.name!r} must be "
                        f"numeric, got dtype {column.dtype}.")
    values = column.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(f"Data set {name!r}: target column {column.name!r} is infinite in "
                         f"{int(bad.sum())} rows (rows {rows(bad)}).")


def _infer_task(frame: pd.DataFrame, targets: tuple[str, ...], name: str) -> Task:
    if len(targets) > 1:
        return "regression"
    column = frame[targets[0]]
    if ptypes.is_float_dtype(column):
        values = column.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            return "regression"
    n_labels = column.nunique()
    if n_labels > 20 and n_labels > len(column) / 4:
        warnings.warn(
            f"Data set {name!r}: target {targets[0]!r} has {n_labels} distinct values in "
            f"{len(column)} rows and was taken as class labels. Pass task='regression' if "
            f"it is a continuous quantity, or task='classification' to silence this warning.",
            stacklevel=3,
        )
    return "classification"


def _classes(column: pd.Series, name: str) -> np.ndarray:
    labels = column.to_numpy()
    try:
        classes = np.unique(labels)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in labels})
        raise TypeError(
            f"Data set {name!r}: target column {column.name!r} mixes label types "
            f"({', '.join(kinds)}); convert it to one type, e.g. df[{column.name!r}]"
            f".astype(str)."
        ) from None
    if len(classes) < 2:
        raise ValueError(
            f"Data set {name!r}: target column {column.name!r} has a single class "
            f"({label(classes[0])}) in all {len(labels)} rows; classification needs at least 2 "
            f"classes."
        )
    return classes
