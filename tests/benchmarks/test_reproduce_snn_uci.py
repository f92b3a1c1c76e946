"""benchmarks/reproduce_snn_uci.py: the capped training split of the largest UCI sets."""

import gzip
import json

import numpy as np

SCRIPT = "reproduce_snn_uci"


def _split_file(path, train, test):
    with gzip.open(path, "wt") as f:
        json.dump({"kfold": [{"train": train, "test": test}]}, f)


def test_capped_split_keeps_the_cap_no_lone_class_and_the_same_bytes(script, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setattr(script, "ROW_CAP", 40)
    # 400 training rows: class 0 is common, classes 1 and 2 are rare (3 rows each),
    # so a random draw of 40 often leaves one of them with a single row.
    y = np.zeros(420, dtype=int)
    y[[5, 50, 300]] = 1
    y[[7, 70, 390]] = 2
    source, target = tmp_path / "s.json.gz", tmp_path / "t.json.gz"
    _split_file(source, list(range(400)), list(range(400, 420)))
    script._write_capped_split(source, target, y)
    with gzip.open(target, "rt") as f:
        part = json.load(f)["kfold"][0]
    train = np.asarray(part["train"])
    assert len(train) == 40 and len(set(train)) == 40 and set(train) <= set(range(400))
    assert part["test"] == list(range(400, 420))  # the test part is the paper's
    counts = np.bincount(y[train], minlength=3)
    assert (counts != 1).all()
    first = target.read_bytes()
    script._write_capped_split(source, target, y)
    assert target.read_bytes() == first  # a rerun writes the same bytes: same job keys


def test_two_per_class_gives_a_lone_class_a_second_row(script):
    y = np.array([0] * 10 + [1, 1])
    train = np.arange(12)
    keep = np.array([0, 1, 2, 3, 10])  # class 1 has one row
    out = script._two_per_class(keep, train, y, np.random.default_rng(0))
    assert len(out) == len(keep) and set(out) >= {10, 11}
    assert np.bincount(y[out]).tolist() == [3, 2]
