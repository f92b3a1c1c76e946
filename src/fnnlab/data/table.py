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

Several target columns that each hold 0/1 labels are binary tasks (multi-label
classification, as Tox21's 12 assays): there a missing value is a label that was
not measured, which the loss and the metrics skip. Rows without any label are
dropped with a warning and a column without any is an error (`fnnlab.data.labels`).
Target names may be glob patterns (``"target_*"``), expanded in column order.
"""

from __future__ import annotations

import fnmatch
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from fnnlab.data.columns import Kind, NonNumeric, typed_column
from fnnlab.data.dataset import TASKS, Task
from fnnlab.data.labels import labelled_rows
from fnnlab.data.messages import label, names, rows

# The labels of each binary task of a multi-label table (several 0/1 target columns).
BINARY = np.array([0, 1])


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
        regression, or several binary tasks: multi-label classification).
    task : {"classification", "regression"}
    name : str
        The data set's name (file stem, bundled name, ...).
    classes : numpy.ndarray or None
        Sorted distinct labels (classification); class code k means ``classes[k]``.
        ``[0, 1]`` for several binary tasks, each task's labels.
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
        extra = f", n_tasks={len(self.targets)}" if self.multi_label else extra
        return (
            f"Table(name={self.name!r}, task={self.task!r}, n_rows={len(self)}, "
            f"n_columns={len(self.kinds)}, target={self.target!r}{extra})"
        )

    @property
    def targets(self) -> tuple[str, ...]:
        """The target column names as a tuple."""
        return (self.target,) if isinstance(self.target, str) else self.target

    @property
    def multi_label(self) -> bool:
        """Several binary target columns (tasks), each 0/1 with missing labels allowed."""
        return self.task == "classification" and len(self.targets) > 1

    @property
    def X(self) -> pd.DataFrame:
        """The raw feature columns."""
        return self.frame.drop(columns=list(self.targets))

    @property
    def y(self) -> np.ndarray:
        """Targets: int64 class codes (classification) or float32, (N,) or (N, T).

        Several binary tasks: float32 (N, T) of 0/1, NaN where a label is missing.
        """
        if self.multi_label:
            return self.frame[list(self.targets)].to_numpy(dtype=np.float32)
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
        Target column, or several; each may be a glob pattern (``"target_*"``).
        Several columns that all hold 0/1 labels are binary tasks (multi-label
        classification; missing labels allowed), others multi-output regression.
    task : {"classification", "regression"} or None
        None infers it from the target: strings, booleans, integers and integral
        floats mean classification, other floats regression; several target
        columns mean classification when each holds 0/1 labels only.
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
        targets (except in binary tasks), a single class, a binary task without any
        label, duplicate column names, text in a numeric column, a text column with
        too many distinct values to one-hot encode.
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
    targets = target_columns(list(frame.columns), target, name)
    if len(frame) == 0:
        raise ValueError(f"Data set {name!r} has a header but no rows.")
    if len(frame.columns) == len(targets):
        raise ValueError(f"Data set {name!r} has no feature columns besides the target "
                         f"{list(targets)}.")
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS} or None, got {task!r}.")
    multi_label = len(targets) > 1 and task != "regression" and (
        task == "classification" or all(_binary(frame[t]) for t in targets))
    if multi_label:
        task, frame = "classification", _labelled_frame(frame, targets, name)
    else:
        for t in targets:
            _check_target_present(frame[t], name, several=len(targets) > 1)
    if task is None:
        task = _infer_task(frame, targets, name)
    classes = None
    if multi_label:
        classes = BINARY
    elif task == "classification":
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
    one = len(targets) == 1 and (isinstance(target, str) or task == "classification")
    stored_target = targets[0] if one else targets
    return Table(frame, stored_target, task, name, classes, column_kinds)


def target_columns(columns: Sequence[str], target: str | Sequence[str],
                   name: str = "data") -> tuple[str, ...]:
    """The target column names ``target`` stands for, glob patterns expanded.

    Parameters
    ----------
    columns : sequence of str
        The table's columns, in order.
    target : str or sequence of str
        Column names or glob patterns (``*``, ``?``, ``[...]``: ``"target_*"``); a
        pattern stands for the matching columns in table order.
    name : str, default="data"
        The data set's name, for the messages.

    Raises
    ------
    ValueError
        A name that is no column, a pattern that matches none, a column named twice.
    """
    items = [target] if isinstance(target, str) else [str(t) for t in target]
    if not items:
        raise ValueError(f"Data set {name!r}: target must name at least one column.")
    found: list[str] = []
    for item in items:
        if item in columns:
            found.append(item)
            continue
        pattern = any(ch in item for ch in "*?[")
        matched = [c for c in columns if fnmatch.fnmatchcase(c, item)] if pattern else []
        if not matched:
            what = f"no column matching {item!r}" if pattern else f"no target column {item!r}"
            raise ValueError(
                f"Data set {name!r} has {what}. Columns: {names(list(columns))}. Pass "
                f"target=<the label column's name>, several names, or a pattern such as "
                f"'target_*'."
            )
        found.extend(matched)
    twice = sorted({c for c in found if found.count(c) > 1})
    if twice:
        raise ValueError(f"Data set {name!r}: target names the column(s) {twice} twice.")
    return tuple(found)


def _binary(column: pd.Series) -> bool:
    """Whether every present value of ``column`` is 0 or 1 (numbers or booleans)."""
    if not (ptypes.is_numeric_dtype(column) or ptypes.is_bool_dtype(column)):
        return False
    values = column.dropna().to_numpy(dtype=np.float64)
    return bool(np.isin(values, (0.0, 1.0)).all())


def _labelled_frame(frame: pd.DataFrame, targets: tuple[str, ...], name: str
                    ) -> pd.DataFrame:
    """Check several binary target columns; drop the rows without any label (warned)."""
    bad = [t for t in targets if not _binary(frame[t])]
    if bad:
        values = frame[bad[0]].dropna().unique()[:5].tolist()
        raise ValueError(
            f"Data set {name!r}: several target columns are binary tasks, but {bad[0]!r} "
            f"holds values other than 0 and 1 (such as {values}). Encode each task as 0/1 "
            f"(missing where not measured), or pass task='regression'."
        )
    keep = labelled_rows(frame[list(targets)].notna().to_numpy(), targets,
                         f"Data set {name!r}", stacklevel=4)
    if keep.all():
        return frame
    return frame[keep].reset_index(drop=True)


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
        Labels (any type) or numeric targets; (N, T) means multi-output regression,
        or with ``task="classification"`` T binary tasks (0/1, NaN where a label is
        missing).
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
        columns = [f"target{k}" for k in range(targets.shape[1])]
        task = "regression" if task is None else task
    else:
        columns = ["target"]
    clash = [c for c in columns if c in features.columns]
    if clash:
        raise ValueError(f"Feature name {clash[0]!r} is reserved for the target; rename it.")
    target_frame = pd.DataFrame(targets.reshape(len(targets), -1), columns=columns)
    frame = pd.concat([features, target_frame], axis=1)
    target = columns[0] if targets.ndim == 1 else tuple(columns)
    return from_frame(frame, target, task=task, name=name)


def _check_target_present(column: pd.Series, name: str, several: bool = False) -> None:
    missing = column.isna().to_numpy()
    if missing.any():
        hint = (" Several target columns with 0/1 labels may miss labels: pass "
                "task='classification' for binary tasks." if several else "")
        raise ValueError(
            f"Data set {name!r}: target column {column.name!r} is missing in "
            f"{int(missing.sum())} rows (rows {rows(missing)}). Drop those rows first.{hint}"
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
