"""Loaders: scikit-learn's bundled data sets, CSV / Parquet / npz files, folders.

Every loader returns a raw, validated `Table` (see `fnnlab.data.table`); pass
it to `fnnlab.data.split` for model-ready `Dataset`s. Loaders only read: they
never write, cache or download anything.

A CSV file has a header row and a ``target`` column (another name via
``target=``); ``.csv.gz`` is read transparently. This is the format of the UCI
collection in ``../shared/data`` (Fernández-Delgado et al. 2014).
"""

from __future__ import annotations

import difflib
import gzip
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets as skdatasets

from fnnlab.data.columns import Kind, NonNumeric
from fnnlab.data.dataset import Task
from fnnlab.data.messages import names
from fnnlab.data.table import Table, from_arrays, from_frame
from fnnlab.registry import Registry

BUNDLED: Registry[Callable[[], Table]] = Registry("dataset")
SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".parquet", ".pq", ".npz")


def _bundled(name: str, loader: Callable, task: Task) -> Callable[[], Table]:
    def load_bundled() -> Table:
        X, y = loader(return_X_y=True, as_frame=True)
        frame = pd.concat([X, y], axis=1)
        target = y.name if isinstance(y, pd.Series) else tuple(y.columns)
        return from_frame(frame, target, task=task, name=name)

    load_bundled.__doc__ = f"scikit-learn's bundled {name!r} data set ({task})."
    return load_bundled


# Only the sklearn.datasets.load_* sets that ship with scikit-learn (no download).
for _name, _loader, _task in (
    ("iris", skdatasets.load_iris, "classification"),
    ("wine", skdatasets.load_wine, "classification"),
    ("breast_cancer", skdatasets.load_breast_cancer, "classification"),
    ("digits", skdatasets.load_digits, "classification"),
    ("diabetes", skdatasets.load_diabetes, "regression"),
    ("linnerud", skdatasets.load_linnerud, "regression"),
):
    BUNDLED.register(_name)(_bundled(_name, _loader, _task))


def load(
    name: str | Path,
    *,
    target: str | Sequence[str] = "target",
    task: Task | None = None,
    kinds: Mapping[str, Kind] | None = None,
    non_numeric: NonNumeric = "error",
) -> Table:
    """Load a bundled data set by name, or a data file by path.

    Parameters
    ----------
    name : str or Path
        A bundled name (``BUNDLED.names()``: breast_cancer, diabetes, digits, iris,
        linnerud, wine) or a path to a ``.csv``, ``.csv.gz``, ``.parquet`` or
        ``.npz`` file (see `load_file`).
    target, task, kinds, non_numeric
        For files only (see `load_file`).

    Examples
    --------
    >>> table = load("iris")
    >>> table
    Table(name='iris', task='classification', n_rows=150, n_columns=4, target='target', n_classes=3)
    """
    if isinstance(name, str) and name in BUNDLED:
        return BUNDLED.create(name)
    path = Path(name)
    if path.exists() or dataset_name(path) != path.name or len(path.parts) > 1:
        return load_file(path, target=target, task=task, kinds=kinds, non_numeric=non_numeric)
    raise _unknown_dataset(str(name))


def load_file(
    path: str | Path,
    target: str | Sequence[str] = "target",
    *,
    task: Task | None = None,
    name: str | None = None,
    kinds: Mapping[str, Kind] | None = None,
    non_numeric: NonNumeric = "error",
) -> Table:
    """Load a data file, choosing the reader by suffix (.csv, .csv.gz, .parquet, .pq, .npz).

    ``target``, ``kinds`` and ``non_numeric`` are ignored for ``.npz`` files, whose
    targets are the ``y`` array and whose features are numbers.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; use load_dir or suite for a folder of CSV files.")
    suffix = _suffix(path)
    if suffix == ".npz":
        return load_npz(path, task=task, name=name)
    reader = load_csv if suffix in (".csv", ".csv.gz") else load_parquet
    return reader(path, target, task=task, name=name, kinds=kinds, non_numeric=non_numeric)


def load_csv(
    path: str | Path,
    target: str | Sequence[str] = "target",
    *,
    task: Task | None = None,
    name: str | None = None,
    kinds: Mapping[str, Kind] | None = None,
    non_numeric: NonNumeric = "error",
) -> Table:
    """Read a CSV file (``.csv`` or gzip-compressed ``.csv.gz``) with a header row.

    Parameters
    ----------
    path : str or Path
    target : str or sequence of str, default="target"
        The label column(s).
    task : {"classification", "regression"} or None
        None infers it from the target (see `from_frame`).
    name : str, optional
        Default: the file name without its suffixes.
    kinds : mapping of str to {"numeric", "categorical"}, optional
        Declared kinds of feature columns (see `fnnlab.data.columns`).
    non_numeric : {"error", "missing"}, default="error"
        Values that are not numbers in a numeric column: an error, or missing.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Empty file, binary or unparseable content, duplicate column names, missing
        target column, text in a numeric column, ...
    """
    path = _existing_file(path)
    frame = _read_csv(path)
    return _with_path(path, lambda: from_frame(frame, target, task=task,
                                               name=name or dataset_name(path), kinds=kinds,
                                               non_numeric=non_numeric))


def load_parquet(
    path: str | Path,
    target: str | Sequence[str] = "target",
    *,
    task: Task | None = None,
    name: str | None = None,
    kinds: Mapping[str, Kind] | None = None,
    non_numeric: NonNumeric = "error",
) -> Table:
    """Read a Parquet file (needs pyarrow or fastparquet); arguments as in `load_csv`."""
    path = _existing_file(path)
    frame = _read_parquet(path)
    return _with_path(path, lambda: from_frame(frame, target, task=task,
                                               name=name or dataset_name(path), kinds=kinds,
                                               non_numeric=non_numeric))


def load_npz(
    path: str | Path,
    *,
    task: Task | None = None,
    name: str | None = None,
) -> Table:
    """Read a NumPy ``.npz`` archive with arrays ``X`` (N, F) and ``y`` (N,) or (N, T).

    An optional array ``feature_names`` names the columns. Pickled (object)
    arrays are refused: loading them could run code.
    """
    path = _existing_file(path)
    arrays = _read_npz(path)
    if "y" not in arrays:
        raise ValueError(f"{path} has no array 'y'; its arrays are {sorted(arrays)}. Save it "
                         f"with np.savez(path, X=X, y=y).")
    names = arrays.get("feature_names")
    return _with_path(path, lambda: from_arrays(
        arrays["X"], arrays["y"], task=task, name=name or dataset_name(path),
        feature_names=None if names is None else [str(n) for n in names],
    ))


def read_rows(path: str | Path) -> pd.DataFrame:
    """The rows of a data file as they are: every column, no target or kind checks.

    For rows to score (``fnnlab predict``), which need the feature columns only: a
    target column may be absent, blank or single-class. An ``.npz`` archive gives
    the columns `load_npz` would (``feature_names`` or ``x0, x1, ...``, then
    ``target`` or ``target0, target1, ...`` when it has a ``y``).

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        An unreadable file, or one with a header and no rows.
    """
    path = _existing_file(path)
    suffix = _suffix(path)
    if suffix in (".csv", ".csv.gz"):
        frame = _read_csv(path)
    elif suffix in (".parquet", ".pq"):
        frame = _read_parquet(path)
    elif suffix == ".npz":
        frame = _npz_frame(path, _read_npz(path))
    else:
        raise _unknown_format(path, suffix)
    if len(frame) == 0:
        raise ValueError(f"{path} has a header but no rows; add the rows below the header.")
    return frame


def _suffix(path: Path) -> str:
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".csv.gz") else path.suffix
    if suffix not in SUFFIXES:
        raise _unknown_format(path, suffix)
    return suffix


def _unknown_format(path: Path, suffix: str) -> ValueError:
    return ValueError(f"Cannot tell the format of {path}: its suffix {suffix!r} is not one "
                      f"of {', '.join(SUFFIXES)}. Rename it or call load_csv / load_parquet "
                      f"/ load_npz.")


def _read_csv(path: Path) -> pd.DataFrame:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            head = f.read(8192)
    except (OSError, EOFError) as error:
        raise ValueError(f"{path} is not a readable gzip file: {error}.") from None
    if not head.strip():
        raise ValueError(f"{path} is empty: expected a header row and data rows.")
    if b"\x00" in head:
        raise ValueError(f"{path} is not a CSV text file: it contains binary data.")
    try:
        # pandas renames a repeated column 'a' to 'a.1'; read the header row as values
        # to see the names as written.
        header = [str(c) for c in pd.read_csv(path, header=None, nrows=1).iloc[0]
                  if not pd.isna(c)]
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty: expected a header row and data rows.") from None
    except pd.errors.ParserError as error:
        raise ValueError(f"{path} cannot be parsed as CSV: {error}".strip()) from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text, so not a CSV file we can read: "
                         f"{error}.") from None
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise ValueError(f"{path} has duplicate column names {duplicated} in its header row; "
                         f"rename them so each column is unique.")
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} cannot be read as Parquet: {error}") from None


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"{path} cannot be read as a NumPy .npz archive without pickle: "
                         f"{error}") from None
    if "X" not in arrays:
        raise ValueError(f"{path} has no array 'X'; its arrays are {sorted(arrays)}. Save it "
                         f"with np.savez(path, X=X, y=y).")
    return arrays


def _npz_frame(path: Path, arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    X = arrays["X"]
    if X.ndim != 2:
        raise ValueError(f"{path}: array 'X' must be 2-D (N, F), got shape {X.shape}.")
    names = arrays.get("feature_names")
    columns = ([str(n) for n in names] if names is not None
               else [f"x{j}" for j in range(X.shape[1])])
    if len(columns) != X.shape[1]:
        raise ValueError(f"{path}: {len(columns)} feature_names for {X.shape[1]} columns of X.")
    frame = pd.DataFrame(X, columns=columns)
    if "y" in arrays:
        y = arrays["y"].reshape(len(arrays["y"]), -1)
        targets = ["target"] if y.shape[1] == 1 else [f"target{k}" for k in range(y.shape[1])]
        if len(y) == len(frame):
            frame[targets] = y
    return frame


def load_dir(path: str | Path, target: str = "target") -> dict[str, Table]:
    """Load every CSV file (``.csv``, ``.csv.gz``) in a folder: name -> `Table`, sorted.

    ``MANIFEST.csv`` is metadata, not a data set, and is skipped (see `csv_files`).
    """
    return {dataset_name(file): load_csv(file, target) for file in csv_files(path, target)}


def csv_files(path: str | Path, target: str = "target") -> list[Path]:
    """The data CSV files (``.csv``, ``.csv.gz``) directly in folder ``path``, sorted by name.

    A file named ``MANIFEST.csv`` (any case) describes the folder, as in the UCI
    collection's layout, and is skipped. Every other CSV file must have a
    ``target`` column in its header row; that is checked here, before anything
    is loaded, so a sweep over the folder fails before its first job.

    Raises
    ------
    FileNotFoundError
        ``path`` is not an existing folder.
    ValueError
        The folder holds no data CSV file, or one lacks the target column.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"No such data folder: {folder}.")
    files = sorted(
        (f for f in folder.iterdir()
         if f.is_file() and f.name.lower() != "manifest.csv"
         and (f.name.endswith(".csv") or f.name.endswith(".csv.gz"))),
        key=dataset_name,
    )
    if not files:
        raise ValueError(f"Folder {folder} holds no CSV files (.csv or .csv.gz); put one "
                         f"file per data set there, each with a header and a target column.")
    for file in files:
        columns = _header(file)
        if target not in columns:
            raise ValueError(
                f"{file} has no target column {target!r} (columns: {names(columns)}). "
                f"Every CSV file in a data folder is a data set: rename its label column, "
                f"pass target=..., or move the file out of the folder."
            )
    return files


def dataset_name(path: str | Path) -> str:
    """The data set name of a file: its name without a known data suffix."""
    name = Path(path).name
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _header(path: Path) -> list[str]:
    """The column names in the header row of a CSV file (empty if unreadable)."""
    try:
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except (OSError, EOFError, ValueError, UnicodeDecodeError):
        return []


def _unknown_dataset(name: str) -> ValueError:
    close = difflib.get_close_matches(name.lower(), BUNDLED.names(), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ValueError(
        f"Unknown dataset {name!r}.{hint} Known datasets: {', '.join(BUNDLED.names())}. "
        f"Pass one of these or a path to a data file ({', '.join(SUFFIXES)})."
    )


def _existing_file(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; use load_dir for a folder of CSV files.")
    if not path.is_file():
        raise FileNotFoundError(f"No such data file: {path}.")
    return path


def _with_path(path: Path, build: Callable[[], Table]) -> Table:
    """Run ``build``; prefix its ValueError/TypeError with the file, so errors say where."""
    try:
        return build()
    except (ValueError, TypeError) as error:
        raise type(error)(f"{path}: {error}") from None
