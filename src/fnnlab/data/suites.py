"""Suites: named lists of data sets for the method comparison (`fnnlab compare`).

A suite is a list of `Source`s: light, picklable references (a name and
maybe a path) that a worker process loads when it needs the data, so a sweep
over a folder of large CSV files never holds them all in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fnnlab.data.loaders import (
    BUNDLED,
    _unknown_dataset,
    csv_files,
    dataset_name,
    load,
    load_file,
)
from fnnlab.data.splits import Splits, paper_split, paper_splits_file
from fnnlab.data.table import Table

# "quick": scikit-learn's small bundled classification sets, for 2 cores.
SUITES: dict[str, tuple[str, ...]] = {
    "quick": ("iris", "wine", "breast_cancer", "digits"),
}


@dataclass(frozen=True)
class Source:
    """A loadable data set: a bundled name, or a name and a data file.

    Parameters
    ----------
    name : str
        The name results are stored under.
    path : Path or None
        The data file; None means the bundled data set ``name``.
    """

    name: str
    path: Path | None = None

    def load(self) -> Table:
        """Read the data set."""
        return load(self.name) if self.path is None else load_file(self.path, name=self.name)

    @property
    def has_paper_splits(self) -> bool:
        """Whether the collection's split file sits beside the data file (see `paper_split`)."""
        return self.path is not None and paper_splits_file(self.path).is_file()

    def paper_split(self, fold: int = 0, *, valid: float = 0.15, seed: int = 0,
                    scaling: str = "standard") -> Splits:
        """The SNN paper's split of this data set (see `fnnlab.data.paper_split`)."""
        if self.path is None:
            raise ValueError(f"Data set {self.name!r} is bundled with scikit-learn and has no "
                             f"paper split file; use fnnlab.data.split for a random split.")
        return paper_split(self.path, fold, valid=valid, seed=seed, scaling=scaling)


def suite(spec: str | Path | Sequence[str | Path]) -> list[Source]:
    """Resolve a suite to its data sets.

    Parameters
    ----------
    spec : str, Path or sequence
        A suite name (``SUITES``: "quick"), a folder (every ``.csv`` / ``.csv.gz``
        in it, sorted by name), or a list of bundled names and file paths.

    Raises
    ------
    ValueError
        Unknown suite name, a folder without CSV files, duplicate names.
    FileNotFoundError
        A path that does not exist.
    """
    if isinstance(spec, (str, Path)):
        if isinstance(spec, str) and spec in SUITES:
            return [Source(name) for name in SUITES[spec]]
        path = Path(spec)
        if path.is_dir():
            return [Source(dataset_name(f), f) for f in csv_files(path)]
        if isinstance(spec, str) and len(path.parts) == 1 and not path.exists():
            raise ValueError(
                f"Unknown suite {spec!r}. Known suites: {', '.join(sorted(SUITES))}. Pass a "
                f"suite name, a folder of CSV files, or a list of data set names and files."
            )
        raise FileNotFoundError(f"No such data folder: {path}. A suite is a suite name "
                                f"({', '.join(sorted(SUITES))}), a folder of CSV files, "
                                f"or a list of data sets.")
    sources = [_source(item) for item in spec]
    names = [s.name for s in sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"The suite names data set(s) {duplicates} more than once.")
    if not sources:
        raise ValueError("The suite is an empty list; name at least one data set.")
    return sources


def _source(item: str | Path) -> Source:
    if isinstance(item, str) and item in BUNDLED:
        return Source(BUNDLED.canonical(item))
    path = Path(item)
    if path.is_file():
        return Source(dataset_name(path), path)
    if isinstance(item, str) and len(path.parts) == 1 and dataset_name(path) == path.name:
        raise _unknown_dataset(item)
    raise FileNotFoundError(f"No such data file: {path}.")
