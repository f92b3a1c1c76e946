"""Data in: loaders with clear errors, preprocessing fitted on train only, splits, suites.

The flow is ``load* -> Table -> split -> Splits(train, valid, test of Dataset)``::

    from fnnlab import data
    table = data.load("breast_cancer")            # or load_csv(path), from_frame(df), ...
    parts = data.split(table, valid=0.15, test=0.2, seed=0)
    parts.train.X, parts.train.y                  # float32 features, int64 class codes
    data.paper_split("../shared/data/iris.csv.gz")  # the SNN paper's UCI protocol
    for source in data.suite("quick"):            # named data sets for `fnnlab compare`
        table = source.load()

Files: `dataset.py` (Dataset), `table.py` (Table, from_frame, from_arrays,
target_columns),
`columns.py` (numeric or categorical: how each feature column's kind is inferred or
declared), `preprocess.py` (Preprocessor, TargetScaler), `scaling.py` (SCALINGS: how
numeric columns are scaled, by name), `splits.py` (Splits, split,
from_indices, paper_split), `loaders.py` (load, load_file, load_csv, load_parquet,
load_npz, load_dir, read_rows), `suites.py` (Source, suite), `labels.py` (labelled_rows:
which rows and target columns of multi-task data have labels), `messages.py` (how
errors name columns, rows and values).
"""

from fnnlab.data.columns import KINDS, MAX_CATEGORIES, NON_NUMERIC
from fnnlab.data.dataset import TASKS, Dataset, Task
from fnnlab.data.labels import labelled_rows
from fnnlab.data.loaders import (
    BUNDLED,
    SUFFIXES,
    csv_files,
    dataset_name,
    load,
    load_csv,
    load_dir,
    load_file,
    load_npz,
    load_parquet,
    read_rows,
)
from fnnlab.data.preprocess import IMPUTE_STRATEGIES, Preprocessor, TargetScaler
from fnnlab.data.scaling import SCALINGS, Scaling
from fnnlab.data.splits import Splits, from_indices, paper_split, paper_splits_file, split
from fnnlab.data.suites import SUITES, Source, suite
from fnnlab.data.table import Table, from_arrays, from_frame, target_columns

__all__ = [
    "BUNDLED",
    "IMPUTE_STRATEGIES",
    "KINDS",
    "MAX_CATEGORIES",
    "NON_NUMERIC",
    "SCALINGS",
    "SUFFIXES",
    "SUITES",
    "TASKS",
    "Dataset",
    "Preprocessor",
    "Scaling",
    "Source",
    "Splits",
    "Table",
    "TargetScaler",
    "Task",
    "csv_files",
    "dataset_name",
    "from_arrays",
    "from_frame",
    "from_indices",
    "labelled_rows",
    "load",
    "load_csv",
    "load_dir",
    "load_file",
    "load_npz",
    "load_parquet",
    "paper_split",
    "paper_splits_file",
    "read_rows",
    "split",
    "suite",
    "target_columns",
]
