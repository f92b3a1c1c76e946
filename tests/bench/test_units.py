"""Units of work of the comparison harness (``fnnlab.bench.units``): stacked training."""

import numpy as np
import pandas as pd
import pytest

import fnnlab.bench.units as units
from fnnlab.bench import ResultStore, compare
from fnnlab.bench.jobs import Job, make_jobs
from fnnlab.data import Source

# Two shapes (depth 1, 2) x two learning rates: each unit trains two stacks of 2.
GRID = {"fnn": {"depth": [1, 2], "width": [16], "lr": [0.01, 0.1], "dropout": [0.0],
                "epochs": [3], "batch_size": [32]}}
SMALL = dict(methods=["snn", "msra"], datasets=["iris", "wine"], grid=GRID, seeds=2,
             jobs=1, progress=False)
N_JOBS = 2 * 2 * 4 * 2  # methods x data sets x grid points x seeds
# Wall-clock columns of the leaderboard: they differ between two runs of the same jobs.
TIMES = ["train_s_per_1k", "predict_s_per_1k"]


def _by_key(result):
    return result.results.set_index("key").sort_index()


def test_stacked_comparison_equals_one_fit_per_job(monkeypatch):
    fit_many = units.fit_many
    sizes = []

    def spy(specs, *args, **kwargs):
        sizes.append(len(specs))
        return fit_many(specs, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(units, "fit_many", spy)
        stacked = compare(**SMALL, stacked=True)
        assert sizes and min(sizes) > 1, "stacked=True trained a network job alone"
        sizes.clear()
        single = compare(**SMALL, stacked=False)
        assert sizes == [1] * N_JOBS  # every job a stack of one
    a, b = _by_key(stacked), _by_key(single)
    assert len(a) == N_JOBS and (a.status == "ok").all()
    assert a.index.equals(b.index)
    # Without dropout every stacked member ends with its single fit's weights up to float32
    # rounding, so class decisions agree and probability-based AUC differs by rounding only.
    for key in a.index:
        sa, sb = a.loc[key, "scores"], b.loc[key, "scores"]
        assert sa.keys() == sb.keys()
        for name in sa:
            assert sa[name] == pytest.approx(sb[name], abs=1e-6), (key, name)
    assert (a.epochs_run == b.epochs_run).all()
    pd.testing.assert_frame_equal(stacked.table.drop(columns=TIMES),
                                  single.table.drop(columns=TIMES), atol=1e-6)
    pd.testing.assert_frame_equal(stacked.scores, single.scores, atol=1e-6)
    # A row's seconds are its share of its unit's wall time.
    assert (a.seconds > 0).all()


def test_stacked_rerun_after_a_partial_run_trains_only_unfinished_jobs(tmp_path):
    store = tmp_path / "r.sqlite"
    first = compare(**SMALL, store=store)
    with ResultStore(store) as db:
        rows = db.results()
        # A unit with some finished jobs: drop half of (snn, iris, seed 0), and one other job.
        unit = rows[(rows.method == "snn") & (rows.dataset == "iris") & (rows.seed == 0)]
        dropped = [*unit.key.iloc[:2], rows.key.iloc[-1]]
        db.delete(dropped)
        assert len(db) == N_JOBS - 3
    again = compare(**SMALL, store=store)
    assert again.ran == 3 and again.skipped == N_JOBS - 3
    with ResultStore(store) as db:
        frame = db.results()
    assert len(frame) == N_JOBS and frame.key.is_unique
    pd.testing.assert_frame_equal(again.table.drop(columns=TIMES),
                                  first.table.drop(columns=TIMES), atol=1e-6)


def test_a_failing_grid_point_fails_alone_inside_a_unit():
    # lr=-1 makes fit raise: the unit falls back to one job at a time, and only the
    # lr=-1 jobs fail. (compare rejects lr=-1 before any job starts, so the units are
    # run here directly, as a worker runs them.)
    points = [{"depth": 1, "width": 8, "lr": lr, "epochs": 2} for lr in (-1.0, 0.1)]
    jobs = make_jobs({"snn": points, "msra": points}, {"snn": "fnn", "msra": "fnn"},
                     [Source("iris"), Source("wine")], [0], "random")
    rows = pd.DataFrame([row for unit in units.group_jobs(jobs)
                         for row in units.run_unit(unit)])
    assert len(units.group_jobs(jobs)) == 4  # (snn, msra) x (iris, wine), 2 jobs each
    failed = rows[rows.status == "failed"]
    assert len(failed) == 4  # lr=-1 x 2 methods x 2 data sets
    assert failed.params.map(lambda p: p["lr"]).eq(-1.0).all()
    assert failed.error.str.contains("lr must be a positive number").all()
    ok = rows[rows.status == "ok"]
    assert (ok.params.map(lambda p: p["lr"]) == 0.1).all()
    assert np.isfinite([s["test_accuracy"] for s in ok.scores]).all()


def test_group_jobs_keeps_one_split_and_method_per_unit():
    def job(method, kind, dataset, seed, lr):
        return Job(method, kind, dataset, None, (("lr", lr),), seed, "random")

    jobs = [job("snn", "fnn", "iris", 0, 0.1), job("snn", "fnn", "iris", 0, 0.01),
            job("snn", "fnn", "iris", 1, 0.1), job("msra", "fnn", "iris", 0, 0.1),
            job("knn", "baseline", "iris", 0, 0.1), job("knn", "baseline", "iris", 0, 0.2),
            job("snn", "fnn", "wine", 0, 0.1)]
    groups = units.group_jobs(jobs)
    assert groups == [tuple(jobs[:2]), (jobs[2],), (jobs[3],), (jobs[4],), (jobs[5],),
                     (jobs[6],)]
