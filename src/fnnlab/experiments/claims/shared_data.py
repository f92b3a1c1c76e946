"""Where the claims find the shared UCI data (``../shared/data``), and what happens
when it is not there.

Some claims (6 and 15) run on the UCI collection of the SNN paper, which lives
outside the package. The folder is looked up, first match wins:

1. the folder given to :func:`fnnlab.experiments.claims.reproduce` (``data_dir``, or
   ``fnnlab reproduce --data DIR``), installed for the run by :func:`use_data_dir`;
2. the environment variable ``FNNLAB_SHARED_DATA``;
3. ``shared/data`` in the parent folder of the repository this package was
   installed from, or in one of that folder's two parents (``../shared/data`` is
   the layout of the development checkout and of CI; a git worktree one level
   deeper finds ``../../shared/data``);
4. ``../shared/data`` relative to the working directory.

A claim that needs the data calls :func:`require`; without the folder it raises
:class:`DataUnavailable`, which ``reproduce`` reports as a skipped claim with the
reason, never as a failure.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["ENV_VAR", "DataUnavailable", "locate", "require", "use_data_dir"]

ENV_VAR = "FNNLAB_SHARED_DATA"
_override: list[Path] = []


class DataUnavailable(RuntimeError):
    """The shared UCI data folder (or a file in it) is not there."""


def _candidates() -> list[Path]:
    found = list(_override)
    if os.environ.get(ENV_VAR):
        found.append(Path(os.environ[ENV_VAR]))
    # src/fnnlab/experiments/claims/shared_data.py -> the repository is parents[4].
    repo = Path(__file__).resolve().parents[4]
    found += [folder / "shared" / "data" for folder in list(repo.parents)[:3]]
    found.append(Path.cwd().parent / "shared" / "data")
    return found


def locate() -> Path | None:
    """The shared data folder (one holding ``MANIFEST.csv``), or None."""
    for folder in _candidates():
        if (folder / "MANIFEST.csv").is_file():
            return folder
    return None


def require(*names: str) -> list[Path]:
    """Paths of the data sets ``names`` (``"letter"`` -> ``.../letter.csv.gz``).

    Raises
    ------
    DataUnavailable
        When the folder or one of the files is missing; the message says where it
        looked and how to point at the folder.
    """
    folder = locate()
    if folder is None:
        looked = ", ".join(str(p) for p in _candidates())
        raise DataUnavailable(
            f"needs the shared UCI data folder (../shared/data with MANIFEST.csv), not found "
            f"in {looked}; pass --data DIR or set {ENV_VAR}.")
    paths = [folder / f"{name}.csv.gz" for name in names]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise DataUnavailable(f"the shared data folder {folder} lacks {', '.join(missing)}.")
    return paths


@contextlib.contextmanager
def use_data_dir(folder: str | Path | None) -> Iterator[None]:
    """Look in ``folder`` first while the block runs (None: change nothing)."""
    if folder is None:
        yield
        return
    folder = Path(folder)
    if not (folder / "MANIFEST.csv").is_file():
        raise FileNotFoundError(f"data_dir: {folder} has no MANIFEST.csv; give the shared UCI "
                                f"data folder (the one with MANIFEST.csv and the .csv.gz files).")
    _override.insert(0, folder)
    try:
        yield
    finally:
        _override.remove(folder)
