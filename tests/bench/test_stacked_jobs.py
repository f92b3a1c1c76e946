"""Stacked training in the comparison harness (``fnnlab.bench.protocol.run_group``)."""

import numpy as np
import pandas as pd
import pytest

import fnnlab.bench.protocol as protocol
from fnnlab.bench import ResultStore, compare

# Two shapes (depth 1, 2) x two learning rates: each unit trains two stacks of 2.
GRID = {"fnn": {"depth": [1, 2], "width": [16], "lr": [0.01, 0.1], "dropout": [0.0],
                "epochs": [3], "batch_size": [32]}}
SMALL = dict(methods=["snn", "msra"], datasets=["iris", "wine"], grid=GRID, seeds=2,
             jobs=1, progress=False)
N_JOBS = 2 * 2 * 4 * 2  # methods x data sets x grid points x seeds


def _by_key(result):
    return result.results.set_index("key").sort_index()


def test_stacked_comparison_equals_one_fit_per_job(monkeypatch):
    def no_single_fit(*args, **kwargs):
        raise AssertionError("stacked=True trained a network job with its own fit call")

    with monkeypatch.context() as patch:
        patch.setattr(protocol, "_run_fnn", no_single_fit)
        stacked = compare(**SMALL, stacked=True)
    single = compare(**SMALL, stacked=False)
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
    pd.testing.assert_frame_equal(stacked.table, single.table, atol=1e-6)
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
    pd.testing.assert_frame_equal(again.table, first.table, atol=1e-6)


def test_a_failing_grid_point_fails_alone_inside_a_unit():
    # lr=-1 makes fit raise: the unit falls back to one job at a time, and only the
    # lr=-1 jobs fail.
    grid = {"fnn": {"depth": [1], "width": [8], "lr": [-1.0, 0.1], "epochs": [2]}}
    result = compare(**{**SMALL, "grid": grid, "seeds": 1}, stacked=True)
    rows = result.results
    failed = rows[rows.status == "failed"]
    assert len(failed) == 4  # lr=-1 x 2 methods x 2 data sets
    assert failed.params.map(lambda p: p["lr"]).eq(-1.0).all()
    assert failed.error.str.contains("lr must be a positive number").all()
    assert (rows[rows.status == "ok"].params.map(lambda p: p["lr"]) == 0.1).all()
    assert np.isfinite(result.scores.to_numpy()).all()


def test_group_jobs_keeps_one_split_and_method_per_unit():
    from fnnlab.bench.protocol import Job

    def job(method, kind, dataset, seed, lr):
        return Job(method, kind, dataset, None, (("lr", lr),), seed, "random")

    jobs = [job("snn", "fnn", "iris", 0, 0.1), job("snn", "fnn", "iris", 0, 0.01),
            job("snn", "fnn", "iris", 1, 0.1), job("msra", "fnn", "iris", 0, 0.1),
            job("knn", "baseline", "iris", 0, 0.1), job("knn", "baseline", "iris", 0, 0.2),
            job("snn", "fnn", "wine", 0, 0.1)]
    units = protocol.group_jobs(jobs)
    assert units == [tuple(jobs[:2]), (jobs[2],), (jobs[3],), (jobs[4],), (jobs[5],),
                     (jobs[6],)]
