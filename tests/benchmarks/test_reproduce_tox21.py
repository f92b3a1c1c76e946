"""The Tox21 reproduction script on a tiny synthetic slice (never the real experiment)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

SCRIPT = "reproduce_tox21"  # loaded by the script fixture of conftest.py
TINY = {"width": 4, "lr": [0.01, 0.1], "epochs": 1, "batch_size": 32, "early_stopping": 1}


@pytest.fixture
def folder(tmp_path):
    # 80 compounds, 5 heavy-tailed descriptors and 3 bits, 3 assays with missing labels.
    rng = np.random.default_rng(0)
    desc = np.exp(rng.normal(size=(80, 5)) * 2)
    bits = rng.integers(0, 2, size=(80, 3))
    frame = pd.DataFrame(desc, columns=[f"desc_{i}" for i in range(5)])
    frame[[f"ecfp4_{i}" for i in range(3)]] = bits
    for t in range(3):
        label = (np.log(desc[:, t]) + rng.normal(size=80) > 0.5).astype(float)
        if t:  # every compound has a T0 label, as every Tox21 compound has some label
            label[rng.random(80) < 0.3] = np.nan  # not measured
        frame[f"target_T{t}"] = label
    frame.to_csv(tmp_path / "tox21.csv.gz", index=False)
    depths = ["2", "3", "4", "6", "8", "16", "32"]
    paper = pd.DataFrame({"method": ["SNN", "Batchnorm", "WeightNorm", "LayerNorm", "Highway",
                                     "MSRAinit", "ResNet"]})
    for i, d in enumerate(depths):
        paper[d] = [f"{80 + i}.0 ± 0.5"] * 6 + ([" na"] if d == "32" else ["79.0 ± 1.0"])
    paper.to_csv(tmp_path / "snn_paper_tox21_auc_by_depth.csv", index=False)
    return tmp_path


def test_split_is_a_seeded_80_10_10_partition(script):
    parts = script.split_rows(1001, seed=0)
    assert [len(parts[p]) for p in ("train", "valid", "test")] == [799, 101, 101]
    np.testing.assert_array_equal(np.sort(np.concatenate(list(parts.values()))),
                                  np.arange(1001))
    again, other = script.split_rows(1001, seed=0), script.split_rows(1001, seed=1)
    np.testing.assert_array_equal(parts["test"], again["test"])
    assert not np.array_equal(parts["test"], other["test"])


def test_prepare_scales_with_training_rows_only_and_keeps_missing_labels(script, folder,
                                                                          tmp_path):
    from fnnlab.data import SCALINGS

    file = script.prepare(folder / "tox21.csv.gz", tmp_path / "cache", seed=0,
                          scaling="quantile")
    data = np.load(file)
    X, Y, _ = script.read_table(folder / "tox21.csv.gz")
    expected = SCALINGS.create("quantile").fit(X[data["train"]]).transform(X)
    np.testing.assert_allclose(data["X"], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.isnan(data["Y"]), np.isnan(Y))
    assert list(data["tasks"]) == ["T0", "T1", "T2"]
    # Fitted on all rows instead, the scaling would differ: the check above can fail.
    assert not np.allclose(SCALINGS.create("quantile").fit(X).transform(X), expected)


def test_run_unit_scores_every_assay_on_its_observed_labels(script, folder, tmp_path):
    file = script.prepare(folder / "tox21.csv.gz", tmp_path, seed=0, scaling="quantile")
    (unit,) = script.plan(file, TINY, ["snn"], [2])
    rows = script.run_unit(unit)
    assert [r["lr"] for r in rows] == [0.01, 0.1]
    for row in rows:
        assert len(row["test_task_auc"]) == 3
        assert row["test_auc"] == pytest.approx(np.nanmean(row["test_task_auc"]))
        assert 0.0 <= row["valid_auc"] <= 1.0


def test_selection_takes_the_best_validation_auc_not_the_best_test_auc(script, tmp_path):
    units = script.plan(tmp_path / "x.npz", TINY, ["snn", "msra"], [2, 32])
    assert [(u.method, u.depth) for u in units][0] == ("snn", 32)  # deepest first
    rows = []
    for u in units:
        for lr, valid, test in ((0.01, 0.70, 0.90), (0.1, 0.80, 0.60)):
            rows.append({"method": u.method, "depth": u.depth, "lr": lr, "seed": 0,
                         "settings": u.settings, "valid_auc": valid, "test_auc": test,
                         "stop_reason": "completed", "best_epoch": 1,
                         "test_task_auc": [test]})
    # A diverged learning rate of the last unit (msra, depth 2) never wins.
    rows.append({**rows[-1], "lr": 1.0, "valid_auc": np.nan, "stop_reason": "diverged"})
    chosen = script.select(rows, units)
    assert (chosen["lr"] == 0.1).all() and (chosen["test_auc"] == 0.60).all()
    assert chosen.set_index(["method", "depth"])["diverged"].to_dict() == {
        ("msra", 2): 1, ("msra", 32): 0, ("snn", 2): 0, ("snn", 32): 0}


def test_main_writes_the_page_and_figure_and_a_rerun_trains_nothing(script, folder, tmp_path):
    out, store = tmp_path / "tox21.md", tmp_path / "s.jsonl"
    argv = ["--quick", "--jobs", "1", "--no-progress", "--data", str(folder), "--store",
            str(store), "--out", str(out)]
    script.main(argv)
    text = out.read_text()
    assert (tmp_path / "tox21_depth.png").stat().st_size > 1000
    for name in ("SNN", "Batchnorm", "WeightNorm", "LayerNorm", "Highway", "MSRAinit",
                 "ResNet"):
        assert f"| {name} |" in text
    assert "| 80.0 ± 0.5 | 81.0 ± 0.5 |" in text  # the paper's row beside ours
    assert "## Per-assay test AUC" in text and "| T2 |" in text
    n_rows = len(script.read_store(store))
    assert n_rows == 14  # 7 methods x depths {2, 3} x 1 learning rate
    script.main(argv)
    assert len(script.read_store(store)) == n_rows
    assert "for 14 units, 1 process(es)" in out.read_text()
    assert json.loads(Path(str(store) + ".runs").read_text().splitlines()[0])["units"] == 14


def test_rows_of_another_scaling_do_not_count_as_done(script, tmp_path):
    quantile = script.plan(tmp_path / "tox21-prepared-seed0-quantile.npz", TINY, ["snn"], [2])
    robust = script.plan(tmp_path / "tox21-prepared-seed0-robust.npz", TINY, ["snn"], [2])
    rows = [{"method": u.method, "depth": u.depth, "seed": u.seed, "settings": u.settings}
            for u in quantile]
    assert script.pending(quantile, rows) == []
    assert script.pending(robust, rows) == robust
