"""The HTRU2 reproduction script on a tiny synthetic slice (never the real experiment)."""

import json

import numpy as np
import pandas as pd
import pytest

SCRIPT = "reproduce_htru2"  # loaded by the script fixture of conftest.py
TINY = {"fnn": {"width": [4], "depth": [1], "lr": [0.01, 0.1], "epochs": [1],
                "batch_size": [32], "early_stopping": [1]}}


@pytest.fixture
def folder(tmp_path):
    # 90 rows, 8 raw features on different scales, 20 % positives that depend on two of them.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 8)) * np.array([1, 10, 100, 1, 1, 5, 1, 1000])
    y = np.zeros(90, dtype=int)
    y[np.argsort(X[:, 0] + X[:, 1] / 10)[-18:]] = 1
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)]).assign(target=y)
    frame.to_csv(tmp_path / "htru2.csv.gz", index=False)
    names = ["SNN", "MSRAinit", "WeightNorm", "Highway", "LayerNorm", "BatchNorm", "ResNet"]
    pd.DataFrame({"method": names, "auc": np.linspace(0.98, 0.975, 7)}).to_csv(
        tmp_path / "snn_paper_htru2_auc.csv", index=False)
    return tmp_path


def test_plan_gives_every_method_the_same_stratified_folds(script, folder):
    units = script.plan(folder / "htru2.csv.gz", TINY, ["snn", "resnet"], n_folds=3)
    assert len(units) == 6 and units[0].method == "resnet"  # costly methods first
    y = pd.read_csv(folder / "htru2.csv.gz")["target"].to_numpy()
    tests = {}
    for unit in units:
        assert np.intersect1d(unit.train, unit.test).size == 0
        assert len(unit.train) + len(unit.test) == 90
        assert y[unit.test].sum() == 6  # 18 positives, 6 per fold
        tests.setdefault(unit.method, []).append(unit.test)
    np.testing.assert_array_equal(np.sort(np.concatenate(tests["snn"])), np.arange(90))
    for a, b in zip(tests["snn"], tests["resnet"], strict=True):
        np.testing.assert_array_equal(a, b)
    assert [json.loads(p)["lr"] for p in units[0].points] == [0.01, 0.1]


def test_selection_uses_validation_auc_not_test_auc(script, folder):
    units = script.plan(folder / "htru2.csv.gz", TINY, ["snn", "msra"], n_folds=3)
    rows = []
    for unit in units:
        for point in unit.points:
            lr = json.loads(point)["lr"]
            # lr=0.1 is better on validation, lr=0.01 on test: selection must take 0.1.
            valid, test = (0.9, 0.7) if lr == 0.1 else (0.8, 0.95)
            test += 0.01 * unit.fold + (0.05 if unit.method == "snn" else 0.0)
            rows.append({"method": unit.method, "kind": "fnn", "dataset": "htru2",
                         "fold": unit.fold, "seed": 0, "params": json.loads(point),
                         "status": "ok", "stop_reason": "completed", "epochs": 1,
                         "scores": {"valid_roc_auc": valid, "test_roc_auc": test}})
    table, per_fold, chosen = script.summarize(rows, units, script.paper_auc(folder))
    assert (chosen["params"].map(lambda p: p["lr"]) == 0.1).all()
    np.testing.assert_allclose(per_fold["snn"], [0.75, 0.76, 0.77])
    np.testing.assert_allclose(per_fold["msra"], [0.70, 0.71, 0.72])
    snn = table.set_index("method").loc["snn"]
    assert table["method"].iloc[0] == "snn" and snn["mean_rank"] == 1.0
    assert snn["auc"] == pytest.approx(0.76) and snn["paper"] == pytest.approx(0.98)
    # Three folds, SNN ahead on all: the smallest two-sided p of an exact Wilcoxon, 2/2^3.
    assert table.set_index("method").loc["msra", "p_snn"] == pytest.approx(0.25)


def test_run_stores_rows_and_a_rerun_trains_nothing(script, folder, tmp_path):
    units = script.plan(folder / "htru2.csv.gz", TINY, ["snn"], n_folds=2)
    store = tmp_path / "store.jsonl"
    script.run(units, store, jobs=1, progress=False)
    rows = script.read_store(store)
    assert len(rows) == 4  # 2 folds x 2 grid points
    assert {r["fold"] for r in rows} == {0, 1}
    assert all(0.0 <= r["scores"]["test_roc_auc"] <= 1.0 for r in rows)
    assert script.pending(units, rows) == []
    script.run(units, store, jobs=1, progress=False)
    assert len(script.read_store(store)) == 4


def test_main_writes_a_page_beside_the_paper(script, folder, tmp_path):
    out = tmp_path / "htru2.md"
    script.main(["--quick", "--jobs", "1", "--no-progress", "--data", str(folder),
                 "--store", str(tmp_path / "s.jsonl"), "--out", str(out)])
    text = out.read_text()
    assert text.startswith("# HTRU2: 3-fold cross-validated AUC")
    for name in ("SNN", "MSRAinit", "WeightNorm", "Highway", "LayerNorm", "BatchNorm",
                 "ResNet"):
        assert f"| {name} |" in text
    assert "| 0.9800 |" in text  # the paper's SNN number from the CSV
    assert "p (SNN vs method)" in text and "## Agreement with the paper" in text
    assert text.count("\n| 2 | ") == 1  # one row per fold in the per-fold table
