"""The result store: one SQLite row per finished job, written as the job finishes.

Nothing is lost and nothing is repeated: each result (or each unit of stacked
jobs, :meth:`ResultStore.write_many`) is inserted in its own transaction
(SQLite's journal makes it all-or-nothing, so a run killed with
SIGKILL leaves only complete rows), the job's key is the primary key (so a job
has at most one row), and a rerun asks :meth:`ResultStore.finished` which jobs
to skip. The database runs in WAL mode, so a reader (``fnnlab compare --table``)
can look at a store while a sweep is writing to it.

Every row records what is needed to trace a number back: the job (method,
dataset and the fingerprint of its content, parameters, seed, protocol), its
validation and test scores for every metric, its status and error, its timings
(of the whole job, of fitting and of predicting the test part),
and the fnnlab / torch / scikit-learn versions and host that produced it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

# Bump when the tables change in a way an older fnnlab could not read.
SCHEMA_VERSION = 2

_COLUMNS = (
    "key", "method", "kind", "dataset", "data_hash", "params", "seed", "protocol", "status",
    "error", "scores", "n_train", "n_valid", "n_test", "epochs_run", "seconds", "finished_at",
    "host", "pid", "fnnlab_version", "torch_version", "sklearn_version",
    "fold", "train_seconds", "predict_seconds",
)

# Columns added after schema version 2 was released: nullable, so a store written
# before them gains them on open (NULL in its old rows) and stays readable.
_ADDED = {"fold": "INTEGER", "train_seconds": "REAL", "predict_seconds": "REAL"}

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,      -- JSON of (method, dataset, data_hash, params, seed, protocol)
    method TEXT NOT NULL, kind TEXT NOT NULL, dataset TEXT NOT NULL,
    data_hash TEXT,            -- content fingerprint of the data set (bench.datasets)
    params TEXT NOT NULL,      -- JSON dict, keys sorted
    seed INTEGER NOT NULL, protocol TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error TEXT,                -- "ExceptionType: message" for failed jobs
    scores TEXT,               -- JSON {{"valid_accuracy": ..., "test_accuracy": ..., ...}}
    n_train INTEGER, n_valid INTEGER, n_test INTEGER, epochs_run INTEGER,
    seconds REAL, finished_at TEXT, host TEXT, pid INTEGER,
    fnnlab_version TEXT, torch_version TEXT, sklearn_version TEXT,
    fold INTEGER,              -- outer fold under the cv protocol, else NULL
    train_seconds REAL,        -- fitting alone (a stacked net: its share of the stack)
    predict_seconds REAL       -- predicting the test part
);
INSERT OR IGNORE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');
"""


class ResultStore:
    """A SQLite file of job results (``path=None``: an in-memory store).

    Parameters
    ----------
    path : str or Path or None
        Created when missing. An existing file must be a store of the same
        schema version, otherwise a ``ValueError`` says what to do.

    Examples
    --------
    >>> with ResultStore("results.sqlite") as store:   # doctest: +SKIP
    ...     todo = [job for job in jobs if job.key not in store.finished()]
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        target = ":memory:" if self.path is None else str(self.path)
        if self.path is not None and self.path.is_dir():
            raise ValueError(f"Store path {target!r} is a directory; pass a file name.")
        # isolation_level=None: we open transactions explicitly (BEGIN IMMEDIATE).
        self._db = sqlite3.connect(target, isolation_level=None, timeout=30.0)
        try:
            self._open()
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise ValueError(
                f"{target!r} is not a fnnlab result store ({error}). Pass a new file name "
                f"with --store, or move this file away."
            ) from None

    def _open(self) -> None:
        tables = {r[0] for r in self._db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise ValueError(
                f"{str(self.path)!r} is a SQLite file but not a fnnlab result store (tables: "
                f"{', '.join(sorted(tables))}). Pass a new file name with --store."
            )
        if "meta" in tables:
            row = self._db.execute(
                "SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = None if row is None else row[0]
            if version != str(SCHEMA_VERSION):
                raise ValueError(
                    f"Result store {str(self.path)!r} has schema version {version}, but this "
                    f"fnnlab reads version {SCHEMA_VERSION}. Use the fnnlab version that "
                    f"wrote it, or start a new store with another --store file name."
                )
        if self.path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        present = {r[1] for r in self._db.execute("PRAGMA table_info(jobs)")}
        for column, kind in _ADDED.items():
            if column not in present:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")

    def finished(self) -> set[str]:
        """Keys of the jobs that have a row (finished, successfully or not)."""
        return {r[0] for r in self._db.execute("SELECT key FROM jobs")}

    def failed(self) -> set[str]:
        """Keys of the jobs whose row records a failure (to run them again)."""
        return {r[0] for r in self._db.execute("SELECT key FROM jobs WHERE status = 'failed'")}

    def data_hashes(self, protocol: str) -> dict[str, set[str]]:
        """Each data set name with the content fingerprints its rows of ``protocol`` used."""
        out: dict[str, set[str]] = {}
        for name, data in self._db.execute(
                "SELECT DISTINCT dataset, data_hash FROM jobs WHERE protocol = ?", [protocol]):
            out.setdefault(name, set()).add(data)
        return out

    def write(self, result: Mapping[str, Any]) -> None:
        """Insert one job result in its own transaction (replacing an older row of that job)."""
        self.write_many([result])

    def write_many(self, results: Iterable[Mapping[str, Any]]) -> None:
        """Insert several job results in one transaction: all rows are written, or none."""
        rows = [_row(result) for result in results]
        placeholders = ", ".join("?" for _ in _COLUMNS)
        with self._transaction():
            self._db.executemany(
                f"INSERT OR REPLACE INTO jobs ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                rows,
            )

    def results(self) -> pd.DataFrame:
        """All rows as a DataFrame; ``params`` and ``scores`` decoded to dicts."""
        frame = pd.read_sql_query(
            f"SELECT {', '.join(_COLUMNS)} FROM jobs ORDER BY rowid", self._db)
        frame["params"] = frame["params"].map(json.loads)
        frame["scores"] = frame["scores"].map(lambda s: json.loads(s) if s else {})
        return frame

    def set_config(self, config: Mapping[str, Any]) -> None:
        """Remember the settings of the latest comparison (to re-print its table)."""
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('config', ?)",
                             [json.dumps(dict(config), sort_keys=True)])

    def config(self) -> dict[str, Any] | None:
        """The settings stored by :meth:`set_config`, or None."""
        row = self._db.execute("SELECT value FROM meta WHERE key='config'").fetchone()
        return None if row is None else json.loads(row[0])

    def delete(self, keys: Iterable[str]) -> None:
        """Remove the rows of ``keys`` (to rerun failed jobs)."""
        with self._transaction():
            self._db.executemany("DELETE FROM jobs WHERE key = ?", [[k] for k in keys])

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]


def _row(result: Mapping[str, Any]) -> list[Any]:
    row = {c: result.get(c) for c in _COLUMNS}
    row["params"] = json.dumps(row["params"] or {}, sort_keys=True)
    row["scores"] = json.dumps(row["scores"] or {}, sort_keys=True)
    row["finished_at"] = row["finished_at"] or datetime.now(timezone.utc).isoformat()
    missing = [c for c in ("key", "method", "kind", "dataset", "seed", "protocol", "status")
               if row[c] is None]
    if missing:
        raise ValueError(f"Job result lacks {', '.join(missing)}: {dict(result)!r}.")
    return [row[c] for c in _COLUMNS]


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
