import json

import pytest
from sklearn.base import is_classifier

from fnnlab.bench.baselines import (
    BASELINE_GRIDS,
    BASELINES,
    baseline_extra,
    baseline_parameters,
    check_baselines,
)
from fnnlab.bench.grids import (
    FIT_PARAMETERS,
    PAPER,
    QUICK,
    check_grid,
    grid_points,
    load_grid,
    method_grid,
)


def test_grid_points_enumerate_the_product_in_fixed_order():
    points = grid_points({"lr": [0.1, 0.01], "depth": [2, 4, 8]})
    assert len(points) == 6
    assert points[0] == {"depth": 2, "lr": 0.1} and points[1] == {"depth": 2, "lr": 0.01}
    assert points[-1] == {"depth": 8, "lr": 0.01}


def test_method_entry_overrides_shared_fnn_entry():
    grid = load_grid(PAPER)
    snn = method_grid(grid, "snn", baseline=False)
    assert snn["dropout"] == [0.0, 0.05] and snn["depth"] == [2, 3, 4, 8, 16, 32]
    assert method_grid(grid, "resnet", baseline=False)["depth"] == [2, 3, 4, 8, 16]
    assert len(grid_points(snn)) == 3 * 6 * 3 * 2 * 2  # widths, depths, lr, dropout, form
    assert method_grid(grid, "svm", baseline=True) == BASELINE_GRIDS["svm"]


def test_builtin_grids_are_valid_for_every_method_and_baseline():
    methods = ["snn", "msra", "batchnorm", "layernorm", "weightnorm", "highway", "resnet"]
    for grid in (QUICK, PAPER):
        check_grid(load_grid(grid), methods, BASELINES.names())
    for name in BASELINES.names():
        if baseline_extra(name) is None:  # optional ones: tests/bench/test_baselines.py
            assert set(BASELINE_GRIDS[name]) <= baseline_parameters(name)
    assert "lr" in FIT_PARAMETERS


def test_load_grid_from_json_file_and_scalars_become_lists(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"fnn": {"depth": 3, "lr": [0.1]}, "svm": {"C": [1, 10]}}))
    assert load_grid(path) == {"fnn": {"depth": [3], "lr": [0.1]}, "svm": {"C": [1, 10]}}
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_grid(bad)
    with pytest.raises(FileNotFoundError, match="neither a built-in grid"):
        load_grid(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="has no values"):
        load_grid({"fnn": {"depth": []}})


def test_misspelled_or_misplaced_grid_entries_are_rejected():
    with pytest.raises(ValueError, match="fnn.widht .*Did you mean 'width'"):
        check_grid(load_grid({"fnn": {"widht": 8}}), ["snn"], [])
    with pytest.raises(ValueError, match="knn.C is not a parameter of baseline 'knn'"):
        check_grid(load_grid({"knn": {"C": 1.0}}), [], ["knn"])
    with pytest.raises(ValueError, match="neither 'fnn', a method nor a baseline.*'snn'"):
        check_grid(load_grid({"snnn": {"depth": 2}}), ["snn"], [])


@pytest.mark.parametrize("name", BASELINES.names())
def test_every_baseline_is_a_fresh_seeded_classifier(name):
    try:
        check_baselines([name])
    except ImportError as missing:  # an optional extra (gbdt, pytabkit) not installed
        pytest.skip(str(missing))
    a, b = BASELINES.create(name, seed=3), BASELINES.create(name, seed=3)
    assert a is not b and is_classifier(a)
    params = a.get_params()
    seeds = [v for k, v in params.items() if k.endswith("random_state")]
    assert all(s == 3 for s in seeds)
