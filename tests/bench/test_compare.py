import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from fnnlab.bench import ResultStore, compare, table_from_store
from fnnlab.bench.compare import summarize
from fnnlab.bench.store import SCHEMA_VERSION

# Fast baselines only: the protocol, store and statistics do not depend on the model.
# Accuracy (not the tasks' default log-loss) also exercises the metric override.
FAST = dict(methods=[], baselines=["knn", "logreg"], datasets=["iris", "wine"], seeds=2,
            jobs=1, progress=False, metric="accuracy")
# Wall-clock columns of the leaderboard: they differ between two runs of the same jobs.
TIMES = ["train_s_per_1k", "predict_s_per_1k"]


def test_grid_point_is_chosen_on_validation_and_kept():
    result = compare(**FAST)
    rows = result.results
    assert len(rows) == (3 + 4) * 2 * 2  # (knn + logreg grid points) x data sets x seeds
    for sel in result.selected.itertuples():
        group = rows[(rows.method == sel.method) & (rows.dataset == sel.dataset)
                     & (rows.seed == sel.seed)]
        valid = group.scores.map(lambda s: s["valid_accuracy"])
        assert sel.valid == valid.max()
        chosen = group[group.params == sel.params]
        assert sel.test == chosen.scores.iloc[0]["test_accuracy"]
    expected = result.selected.groupby(["dataset", "method"])["test"].mean().unstack()
    pd.testing.assert_frame_equal(result.scores, expected.loc[result.scores.index,
                                                              result.scores.columns],
                                  check_names=False)
    assert abs(result.table["avg_rank_diff"].sum()) < 1e-12


def test_rerun_with_store_skips_finished_jobs(tmp_path):
    store = tmp_path / "r.sqlite"
    first = compare(**FAST, store=store)
    again = compare(**FAST, store=store)
    assert first.ran == 28 and first.skipped == 0
    assert again.ran == 0 and again.skipped == 28
    pd.testing.assert_frame_equal(first.table, again.table)
    with ResultStore(store) as db:
        frame = db.results()
    assert len(frame) == 28 and frame.key.is_unique
    assert set(frame.sklearn_version) == {__import__("sklearn").__version__}
    assert (frame.seconds > 0).all()
    stored = table_from_store(store)
    pd.testing.assert_frame_equal(stored.table, first.table)


def test_failed_jobs_are_recorded_and_the_sweep_goes_on(tmp_path):
    # C=-1 is invalid for LogisticRegression: those jobs fail, C=1 still runs.
    grid = {"logreg": {"C": [-1.0, 1.0]}}
    result = compare(**{**FAST, "grid": grid}, store=tmp_path / "f.sqlite")
    failed = result.results[result.results.status == "failed"]
    assert len(failed) == 4  # one grid point x 2 data sets x 2 seeds
    assert failed.error.str.contains("InvalidParameterError|C").all()
    assert (result.selected.query("method == 'logreg'").n_failed == 1).all()
    assert result.scores["logreg"].notna().all()
    row = result.table.set_index("method").loc["logreg"]
    assert row.failed_jobs == 4
    assert "Failed jobs: 4 (logreg/iris: 2, logreg/wine: 2)" in result.format()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"methods": ["snn", "snnn"]}, "Unknown method 'snnn'"),
        ({"baselines": ["svm", "xgbost"]}, "Unknown baseline 'xgbost'"),
        ({"datasets": "quik"}, "Unknown suite 'quik'"),
        ({"backend": "spark"}, "Unknown backend 'spark'"),
        ({"grid": {"fnn": {"dpeth": [2]}}}, "fnn.dpeth.*Did you mean 'depth'"),
        ({"grid": {"svm": {"c": [1.0]}}}, "svm.c .*Did you mean 'C'"),
        ({"metric": "f1"}, "Unknown metric 'f1'"),
        ({"protocol": "paper"}, "protocol='paper' needs the UCI split file"),
        ({"methods": [], "baselines": ["svm"]}, "at least 2 methods"),
    ],
)
def test_bad_input_is_rejected_before_any_job(tmp_path, kwargs, match):
    store = tmp_path / "never.sqlite"
    args = {"methods": ["snn"], "baselines": ["svm"], "datasets": ["iris"], "seeds": 1,
            "jobs": 1, "progress": False, "store": store, **kwargs}
    with pytest.raises(ValueError, match=match):
        compare(**args)
    assert not store.exists()


def test_folder_without_csv_files_is_rejected(tmp_path):
    (tmp_path / "notes.txt").write_text("no data here")
    with pytest.raises(ValueError, match="(?i)no .*csv"):
        compare(**{**FAST, "datasets": tmp_path})


def test_incompatible_store_is_rejected_before_any_job(tmp_path):
    path = tmp_path / "old.sqlite"
    ResultStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(ValueError, match=f"schema version 999.*reads version {SCHEMA_VERSION}"):
        compare(**FAST, store=path)


_KILL_KWARGS = dict(methods=[], baselines=["knn", "logreg"], datasets=["iris", "wine"],
                    seeds=3, jobs=1, progress=False)
_KILL_SCRIPT = f"""
import sys
from fnnlab.bench import compare
compare(**{_KILL_KWARGS!r}, store=sys.argv[1])
"""


def test_sigkill_midway_then_restart_gives_one_row_per_job_and_same_table(tmp_path):
    store = tmp_path / "killed.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(store)])
    rows = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if store.exists():
                try:
                    with sqlite3.connect(store, timeout=1) as db:
                        rows = db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
                except sqlite3.OperationalError:
                    rows = 0
                if rows >= 5:
                    break
            time.sleep(0.01)
        assert proc.poll() is None, "the comparison finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    n_jobs = (3 + 4) * 2 * 3
    with ResultStore(store) as db:
        before = len(db)
    assert 5 <= before < n_jobs
    resumed = compare(**_KILL_KWARGS, store=store)
    assert resumed.skipped == before and resumed.ran == n_jobs - before
    with ResultStore(store) as db:
        frame = db.results()
    assert len(frame) == n_jobs and frame.key.is_unique
    fresh = compare(**_KILL_KWARGS)
    pd.testing.assert_frame_equal(resumed.table.drop(columns=TIMES),
                                  fresh.table.drop(columns=TIMES))
    pd.testing.assert_frame_equal(resumed.scores, fresh.scores)


def test_dask_local_cluster_matches_local_backend():
    # Thread workers (processes=False) start in a second, not the ten a fresh process
    # needs to import torch; the baselines are deterministic given their seed.
    distributed = pytest.importorskip("distributed")
    kwargs = dict(methods=[], baselines=["knn", "logreg"], datasets=["iris"], seeds=2,
                  progress=False)
    local = compare(**kwargs, jobs=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            remote = compare(**kwargs, backend="dask", scheduler=client)
    a = local.results.sort_values("key").reset_index(drop=True)
    b = remote.results.sort_values("key").reset_index(drop=True)
    assert a.key.tolist() == b.key.tolist() and (b.status == "ok").all()
    assert a.scores.tolist() == b.scores.tolist()
    pd.testing.assert_frame_equal(local.table.drop(columns=TIMES),
                                  remote.table.drop(columns=TIMES))


def test_reference_puts_published_accuracy_beside_ours(tmp_path):
    ref = tmp_path / "ref.csv"
    ref.write_text("name,n_rows,SNN,MS\niris,150,0.9730,0.9189\nwine,178,0.9773,\n")
    grid = {"fnn": {"depth": 2, "width": 8, "lr": 0.1, "epochs": 1}}
    result = compare(methods=["snn", "msra"], datasets=["iris"], grid=grid, seeds=1, jobs=1,
                     progress=False, reference=ref)
    per = result.per_dataset.set_index("method")
    assert per.loc["snn", "published"] == 0.9730 and per.loc["msra", "published"] == 0.9189
    np.testing.assert_allclose(per["difference"], per["score"] - per["published"])
    assert "Published accuracies" in result.format()
    out = result.save(tmp_path / "report")
    for name in ("table.txt", "table.csv", "table.md", "table.tex", "comparison.json",
                 "per_dataset.csv", "critical_difference.png", "scores_heatmap.png"):
        assert (out / name).stat().st_size > 0


def _write_classification_csv(path, rows=60, shift=0.0):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 2))
    y = (x[:, 0] + 0.3 * rng.normal(size=rows) > 0).astype(int)
    frame = pd.DataFrame({"a": x[:, 0] + shift, "b": x[:, 1], "target": y})
    frame.to_csv(path, index=False)


def test_changed_data_file_is_a_new_data_set(tmp_path):
    data, store = tmp_path / "toy.csv", tmp_path / "r.sqlite"
    _write_classification_csv(data)
    kwargs = {**FAST, "datasets": [data], "store": store}
    first = compare(**kwargs)
    assert first.ran == 7 * 2 and first.changed == []
    assert compare(**kwargs).ran == 0  # same content: every result is reused
    _write_classification_csv(data, shift=100.0)  # same name, other content
    changed = compare(**kwargs)
    assert changed.ran == 7 * 2 and changed.skipped == 0
    assert changed.changed == ["toy"]
    assert "Changed data: toy differ" in changed.format()
    assert len(changed.results) == 7 * 2  # only the new content's rows
    with ResultStore(store) as db:
        assert len(db) == 2 * 7 * 2  # the old rows stay, under the old fingerprint
    stored = table_from_store(store)
    assert stored.results.key.tolist() == changed.results.key.tolist()


def test_retry_failed_reruns_the_failed_jobs_only(tmp_path):
    grid = {"logreg": {"C": [-1.0, 1.0]}}
    kwargs = {**FAST, "grid": grid, "store": tmp_path / "f.sqlite"}
    first = compare(**kwargs)
    assert first.ran == 20 and (first.results.status == "failed").sum() == 4
    assert compare(**kwargs).ran == 0
    again = compare(**kwargs, retry_failed=True)
    assert again.ran == 4 and again.skipped == 16
    assert (again.results.status == "failed").sum() == 4 and len(again.results) == 20


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        ({"fnn": {"lr": ["x"]}}, r"Grid point \{'lr': 'x'\} of method 'snn' is invalid: lr must"),
        ({"fnn": {"lr": [0.1, -1.0]}}, "lr must be a positive number"),
        ({"snn": {"depth": [0]}}, "method 'snn' is invalid: FNNSpec.depth must be >= 1"),
        ({"fnn": {"epochs": [2.5]}}, "epochs must be an int >= 1"),
        ({"fnn": {"optimizer": "sgdd"}}, "Unknown optimizer 'sgdd'. Did you mean 'sgd'"),
    ],
)
def test_bad_grid_values_are_rejected_before_any_job(tmp_path, grid, match):
    store = tmp_path / "never.sqlite"
    with pytest.raises(ValueError, match=match):
        compare(methods=["snn"], baselines=["svm"], datasets=["iris"], grid=grid, seeds=1,
                jobs=1, progress=False, store=store)
    assert not store.exists()


def _prices(tmp_path):
    data = tmp_path / "prices.csv"
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    pd.DataFrame({"a": x, "target": 1000.5 * x + 50 * rng.normal(size=60)}).to_csv(data,
                                                                                 index=False)
    return data


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "Baseline 'logreg' does not do regression"),
        ({"baselines": ["knn", "rf"]}, "metric='accuracy' does not apply to 'prices'"),
    ],
)
def test_a_baseline_or_metric_unfit_for_regression_is_rejected_before_any_job(tmp_path, kwargs,
                                                                              match):
    store = tmp_path / "never.sqlite"
    with pytest.raises(ValueError, match=match):
        compare(**{**FAST, "datasets": ["iris", _prices(tmp_path)], **kwargs}, store=store)
    assert not store.exists()


def test_failed_jobs_print_their_first_distinct_errors():
    grid = {"logreg": {"C": [-1.0, 1.0]}, "knn": {"n_neighbors": [0, 3]}}
    text = compare(**{**FAST, "grid": grid}).format()
    assert "First errors (2 of 2 distinct):" in text
    assert "logreg on iris, seed 0, {'C': -1.0}" in text
    assert "n_neighbors" in text


def test_every_job_failing_raises_with_the_cause():
    grid = {"logreg": {"C": [-1.0]}, "knn": {"n_neighbors": [0]}}
    with pytest.raises(RuntimeError, match="Every job of the comparison failed .8 jobs.. "
                                           "First errors: .*InvalidParameterError"):
        compare(**{**FAST, "grid": grid})


def test_auc_and_roc_auc_are_one_metric_of_the_registry():
    result = compare(**{**FAST, "datasets": ["iris"], "seeds": 1, "metric": "auc"})
    assert result.metric == "roc_auc"
    assert all({"valid_roc_auc", "test_roc_auc"} <= set(s) for s in result.results.scores)
    assert result.selected.test.between(0.5, 1.0).all()


@pytest.fixture
def one_repeat(monkeypatch):
    # One repeat of TabArena's 3 folds instead of 10: the same code path, a tenth the jobs.
    monkeypatch.setattr("fnnlab.bench.datasets.tabarena_repeats", lambda n_rows: 1)


def test_cv_on_a_mixed_suite_stores_each_fold_and_builds_a_table_per_task(tmp_path,
                                                                         one_repeat):
    store = tmp_path / "cv.sqlite"
    kwargs = {**FAST, "baselines": ["knn", "rf"], "datasets": ["iris", _prices(tmp_path)],
              "grid": {"knn": {"n_neighbors": [3, 9]}, "rf": {"n_estimators": [10]}}, "seeds": 1,
              "protocol": "cv", "metric": None, "store": store}
    result = compare(**kwargs)
    rows = result.results
    assert len(rows) == 2 * 3 * 3 and (rows.status == "ok").all()  # data sets x folds x points
    assert sorted(rows.fold.unique()) == [0, 1, 2]
    # The test folds of a repeat partition the rows, and every method saw the same split.
    sizes = rows.groupby(["dataset", "fold"])[["n_train", "n_test"]].nunique()
    assert (sizes == 1).all().all()
    n_test = rows.drop_duplicates(["dataset", "fold"]).groupby("dataset").n_test.sum()
    assert n_test.to_dict() == {"iris": 150, "prices": 60}
    assert result.config["metrics"] == {"iris": "log_loss", "prices": "rmse"}
    assert list(result.tables) == ["classification", "regression"]
    for table in result.tables.values():
        assert {"elo", "elo_low", "elo_high", "win_rate", "improvability", "train_s_per_1k",
                "predict_s_per_1k", "avg_rank_diff", "p_value"} <= set(table.columns)
        assert table.win_rate.between(0, 1).all() and (table.train_s_per_1k > 0).all()
        assert table.set_index("method").elo["rf"] == 1000.0
    out = __import__("json").loads(result.format("json"))
    assert {"elo", "win_rate", "train_s_per_1k"} <= set(out["tables"]["regression"][0])
    text = result.format()
    assert "regression (1 data set: prices; error of rmse)" in text
    assert 'knn {"n_neighbors": [3, 9]}' in text and "rf pinned at 1000" in text
    again = compare(**kwargs)  # resumable: every fold's row is in the store
    assert again.ran == 0 and again.skipped == len(rows)


def test_regression_is_scored_in_the_targets_units(tmp_path, one_repeat):
    # k-NN regression commutes with the affine target scaling, so its RMSE equals that of
    # a k-NN fitted on the raw targets of the same split.
    from sklearn.neighbors import KNeighborsRegressor

    from fnnlab.bench.datasets import job_splits
    from fnnlab.bench.jobs import Job

    data = _prices(tmp_path)
    result = compare(**{**FAST, "baselines": ["knn", "svm"], "datasets": [data], "seeds": 1,
                        "grid": {"knn": {"n_neighbors": [5]}, "svm": {"C": [1.0]}},
                        "protocol": "cv", "metric": "rmse"})
    row = result.results.query("method == 'knn' and fold == 0").iloc[0]
    job = Job("knn", "baseline", "prices", str(data), (("n_neighbors", 5),), 0, "cv",
              row.data_hash, 0)
    splits = job_splits(job)
    model = KNeighborsRegressor(5).fit(splits.train.X.numpy(), splits.train.y.numpy())
    error = model.predict(splits.test.X.numpy()) - splits.test.y.numpy()
    assert row.scores["test_rmse"] == pytest.approx(np.sqrt(np.mean(error ** 2)), rel=1e-5)
    assert row.scores["test_rmse"] > 10  # target units (about 1000 per unit of a), not z-scores


def test_each_task_is_ranked_by_its_own_metric_and_a_loss_is_minimized_on_validation():
    result = compare(**{**FAST, "datasets": ["iris", "breast_cancer"], "seeds": 1,
                        "metric": None})
    assert result.config["metrics"] == {"iris": "log_loss", "breast_cancer": "roc_auc"}
    rows = result.results
    for sel in result.selected.itertuples():
        metric = result.config["metrics"][sel.dataset]
        group = rows[(rows.method == sel.method) & (rows.dataset == sel.dataset)]
        valid = group.scores.map(lambda s, m=metric: s[f"valid_{m}"])
        assert sel.valid == (valid.min() if metric == "log_loss" else valid.max())


def test_a_baseline_that_is_not_installed_fails_before_any_job(tmp_path, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "xgboost" else find_spec(name, *a))
    store = tmp_path / "never.sqlite"
    with pytest.raises(ImportError, match=r"pip install 'fnnlab\[gbdt\]'"):
        compare(**{**FAST, "baselines": ["knn", "xgboost"]}, store=store)
    assert not store.exists()


def test_networks_learn_standardized_targets_and_are_scored_in_target_units(tmp_path):
    # The target is 1000.5 * a + noise of sd 50: in target units a network that learned
    # anything beats predicting the training mean (RMSE about 1000), unscaled outputs of
    # order 1 could not.
    grid = {"fnn": {"depth": 1, "width": 16, "lr": 0.05, "epochs": 30, "batch_size": 16},
            "knn": {"n_neighbors": [5]}}
    result = compare(methods=["snn"], baselines=["knn"], datasets=[_prices(tmp_path)],
                     grid=grid, seeds=1, jobs=1, progress=False)
    scores = result.results.set_index("method").scores
    assert result.metric == "rmse" and 10 < scores["snn"]["test_rmse"] < 500
    assert scores["snn"]["test_r2"] > 0.8


def test_each_task_table_counts_the_failed_jobs_of_its_own_data_sets():
    def row(method, dataset, metric, score, status="ok"):
        return {"method": method, "kind": "fnn", "dataset": dataset, "seed": 0, "fold": None,
                "params": {"depth": 2}, "status": status,
                "scores": {f"valid_{metric}": score, f"test_{metric}": score}}

    rows = pd.DataFrame([row("snn", "a", "accuracy", 0.9), row("msra", "a", "accuracy", 0.8),
                         row("snn", "b", "rmse", 1.0), row("msra", "b", "rmse", 2.0),
                         row("snn", "b", "rmse", float("nan"), status="failed")])
    config = {"methods": ["snn", "msra"], "datasets": ["a", "b"], "metric": None,
              "metrics": {"a": "accuracy", "b": "rmse"}, "protocol": "random", "seeds": [0],
              "tasks": {"a": "classification", "b": "regression"}}
    result = summarize(rows, config)
    failed = {task: dict(zip(t["method"], t["failed_jobs"], strict=True))
              for task, t in result.tables.items()}
    assert failed == {"classification": {"snn": 0, "msra": 0},
                      "regression": {"snn": 1, "msra": 0}}
