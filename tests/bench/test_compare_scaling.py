"""``compare(scaling=...)``: every job's split carries the scaling, fitted on its training part."""

import json
from dataclasses import replace

import numpy as np
import pytest

from fnnlab.bench import ResultStore, compare, table_from_store
from fnnlab.bench.datasets import job_splits
from fnnlab.bench.jobs import Job, key_scaling
from fnnlab.cli import main
from fnnlab.data import SCALINGS, load

FAST = dict(methods=[], baselines=["logreg", "knn"],
            grid={"logreg": {"C": [1.0]}, "knn": {"n_neighbors": [5]}},
            datasets=["wine"], seeds=1, jobs=1, progress=False)


def test_standard_keys_stay_as_they_were_and_others_name_their_scaling():
    job = Job("snn", "fnn", "iris", None, (("lr", 0.1),), 0, "random", "abc")
    assert job.key == json.dumps(["snn", "iris", "abc", {"lr": 0.1}, 0, "random"],
                                 sort_keys=True)
    quantile = replace(job, scaling="quantile")
    assert json.loads(quantile.key)[-1] == {"scaling": "quantile"}
    assert key_scaling(job.key) == "standard" and key_scaling(quantile.key) == "quantile"


@pytest.mark.parametrize("name", ["robust", "quantile"])
def test_each_jobs_features_are_scaled_on_its_training_part_only(name):
    result = compare(**FAST, scaling=name)
    assert result.config["scaling"] == name
    assert set(result.results["key"].map(key_scaling)) == {name}
    job = Job("logreg", "baseline", "wine", None, (("C", 1.0),), 0, "random", scaling=name)
    splits = job_splits(job)
    table = load("wine")
    train = table.X.iloc[splits.train_index].to_numpy(dtype=float)
    expected = SCALINGS.create(name).fit(train)
    np.testing.assert_array_equal(splits.test.X.numpy(), expected.transform(
        table.X.iloc[splits.test_index].to_numpy(dtype=float)).astype(np.float32))


def test_a_store_keeps_the_results_of_each_scaling_apart(tmp_path):
    store = tmp_path / "r.sqlite"
    standard = compare(**FAST, store=store)
    robust = compare(**FAST, store=store, scaling="robust")
    assert standard.ran == robust.ran == 2
    with ResultStore(store) as db:
        assert len(db.results()) == 4
    again = table_from_store(store)  # the latest comparison's rows only: robust
    assert list(again.results["key"].map(key_scaling)) == ["robust", "robust"]


def test_cli_passes_the_scaling_to_compare(monkeypatch):
    import fnnlab.cli.compare as cli

    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(cli, "compare", fake)
    with pytest.raises(SystemExit):
        main(["compare", "--suite", "wine", "--scaling", "quantile"])
    assert seen["scaling"] == "quantile"
