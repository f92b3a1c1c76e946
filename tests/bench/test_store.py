import sqlite3

import pytest

from fnnlab.bench.store import SCHEMA_VERSION, ResultStore


def _row(key, status="ok", **kw):
    return {"key": key, "method": "svm", "kind": "baseline", "dataset": "iris",
            "params": {"C": 1.0}, "seed": 0, "protocol": "random", "status": status,
            "scores": {"valid_accuracy": 0.9, "test_accuracy": 0.8}, "seconds": 0.1, **kw}


def test_store_writes_one_row_per_job_and_survives_reopen(tmp_path):
    path = tmp_path / "r.sqlite"
    with ResultStore(path) as store:
        store.write(_row("a"))
        store.write(_row("b", status="failed", error="ValueError: boom", scores=None))
        store.write(_row("a"))  # rewriting a job replaces its row, never duplicates it
        store.set_config({"metric": "accuracy"})
    with ResultStore(path) as store:
        assert store.finished() == {"a", "b"}
        assert len(store) == 2
        frame = store.results()
        assert frame.loc[frame.key == "a", "scores"].iloc[0]["test_accuracy"] == 0.8
        assert frame.loc[frame.key == "b", "error"].iloc[0] == "ValueError: boom"
        assert frame.loc[frame.key == "a", "params"].iloc[0] == {"C": 1.0}
        assert store.config() == {"metric": "accuracy"}
        store.delete(["b"])
        assert store.finished() == {"a"}
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_store_rejects_incomplete_rows():
    with ResultStore() as store, pytest.raises(ValueError, match="lacks status"):
        store.write({**_row("a"), "status": None})
    with ResultStore() as store, pytest.raises(sqlite3.IntegrityError):
        store.write(_row("a", status="exploded"))


def test_incompatible_schema_version_is_a_clear_error(tmp_path):
    path = tmp_path / "old.sqlite"
    ResultStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(ValueError, match=f"schema version 0.*reads version {SCHEMA_VERSION}"):
        ResultStore(path)


def test_foreign_files_are_a_clear_error(tmp_path):
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE stuff (x)")
    db.commit()
    db.close()
    with pytest.raises(ValueError, match="not a fnnlab result store"):
        ResultStore(other)
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a database at all" * 50)
    with pytest.raises(ValueError, match="not a fnnlab result store"):
        ResultStore(text)


def test_store_lists_failed_jobs_and_data_fingerprints_per_protocol():
    with ResultStore() as store:
        store.write(_row("a", data_hash="h1"))
        store.write(_row("b", status="failed", error="ValueError: boom", data_hash="h1"))
        store.write(_row("c", data_hash="h2", protocol="paper"))
        assert store.failed() == {"b"}
        assert store.data_hashes("random") == {"iris": {"h1"}}
        assert store.data_hashes("paper") == {"iris": {"h2"}}
