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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from fnnlab.data.dataset import TASKS, Task

Kind = Literal["numeric", "categorical"]


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

    Raises
    ------
    ValueError
        Missing target column, no rows, no feature columns, missing/infinite
        targets, a single class, duplicate column names.
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
            f"{_shorten(list(frame.columns))}. Pass target=<the label column's name>."
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
    kinds = {c: _column_kind(frame[c], name) for c in frame.columns if c not in targets}
    stored_target = targets[0] if isinstance(target, str) else targets
    return Table(frame, stored_target, task, name, classes, kinds)


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


def _shorten(items: list[str], limit: int = 20) -> str:
    if len(items) <= limit:
        return ", ".join(map(repr, items))
    return ", ".join(map(repr, items[:limit])) + f", ... ({len(items)} in all)"


def _rows(mask: np.ndarray, limit: int = 5) -> str:
    where = np.flatnonzero(mask)
    more = f" (and {len(where) - limit} more)" if len(where) > limit else ""
    return ", ".join(map(str, where[:limit])) + more


def _label(value: Any) -> str:
    """repr of a class label, without numpy's type wrapper (``2``, not ``np.int64(2)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _check_target_present(column: pd.Series, name: str) -> None:
    missing = column.isna().to_numpy()
    if missing.any():
        raise ValueError(
            f"Data set {name!r}: target column {column.name!r} is missing in "
            f"{int(missing.sum())} rows (rows {_rows(missing)}). Drop those rows first."
        )


def _check_regression_target(column: pd.Series, name: str) -> None:
    if not ptypes.is_numeric_dtype(column) or ptypes.is_bool_dtype(column):
        raise TypeError(f"Data set {name!r}: regression target {column.name!r} must be "
                        f"numeric, got dtype {column.dtype}.")
    values = column.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(f"Data set {name!r}: target column {column.name!r} is infinite in "
                         f"{int(bad.sum())} rows (rows {_rows(bad)}).")


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
            f"({_label(classes[0])}) in all {len(labels)} rows; classification needs at least 2 "
            f"classes."
        )
    return classes


def _column_kind(column: pd.Series, name: str) -> Kind:
    where = f"Data set {name!r}, feature column {column.name!r}"
    if ptypes.is_complex_dtype(column):
        raise TypeError(f"{where} holds complex numbers, which cannot be encoded; split it "
                        f"into real and imaginary columns.")
    if ptypes.is_bool_dtype(column) or ptypes.is_numeric_dtype(column):
        return "numeric"
    if isinstance(column.dtype, pd.CategoricalDtype) or ptypes.is_string_dtype(column):
        if column.dtype == object:
            return _object_kind(column, where)
        return "categorical"
    if column.dtype == object:
        return _object_kind(column, where)
    raise TypeError(f"{where} has dtype {column.dtype}, which cannot be encoded as features. "
                    f"Convert it to numbers (e.g. a timestamp) or to strings, or drop it.")


def _object_kind(column: pd.Series, where: str) -> Kind:
    values = column.dropna()
    if values.map(lambda v: isinstance(v, str)).all():
        return "categorical"
    # Python numbers (bool included) stored as objects are still numbers.
    is_number = values.map(lambda v: isinstance(v, (int, float, np.number, np.bool_)))
    if is_number.all():
        return "numeric"
    types = values.map(lambda v: type(v).__name__)
    first = values.index[~is_number.to_numpy()][0]
    raise TypeError(
        f"{where} mixes value types ({', '.join(sorted(set(types)))}; e.g. row {first}: "
        f"{column[first]!r}) and cannot be encoded. Convert it to numbers or to strings "
        f"(df[{column.name!r}].astype(str)), or drop it."
    )
