"""Tests for fnnlab.data.splits: split, from_indices, paper_split."""

import gzip
import json

import numpy as np
import pandas as pd
import pytest
import torch

from fnnlab.data import from_arrays, from_frame, from_indices, load_csv, paper_split, split


def _imbalanced(n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.repeat([0, 1, 2], [int(0.6 * n), int(0.3 * n), n - int(0.9 * n)]))
    return from_arrays(rng.normal(size=(n, 3)), y)


def test_parts_are_disjoint_cover_all_rows_and_have_the_stated_sizes():
    parts = split(_imbalanced(), valid=0.15, test=0.2)
    everything = np.concatenate([parts.train_index, parts.valid_index, parts.test_index])
    assert np.array_equal(np.sort(everything), np.arange(400))
    assert (len(parts.train), len(parts.valid), len(parts.test)) == (260, 60, 80)


def test_stratification_preserves_class_proportions():
    parts = split(_imbalanced(), valid=0.15, test=0.2, seed=3)
    overall = np.array([0.6, 0.3, 0.1])
    for ds in (parts.train, parts.valid, parts.test):
        share = np.bincount(ds.y.numpy(), minlength=3) / len(ds)
        # Stratified rounding moves at most one row per class.
        np.testing.assert_allclose(share, overall, atol=1.0 / len(ds) + 1e-9)


def test_same_seed_same_split_and_other_seed_other_split():
    table = _imbalanced()
    a, b, c = split(table, seed=7), split(table, seed=7), split(table, seed=8)
    assert np.array_equal(a.test_index, b.test_index) and torch.equal(a.train.X, b.train.X)
    assert not np.array_equal(a.test_index, c.test_index)


def test_split_leaves_global_random_state_alone():
    np.random.seed(1)
    expected = np.random.rand()
    np.random.seed(1)
    split(_imbalanced(), seed=5)
    assert np.random.rand() == expected


def test_preprocessing_is_fitted_on_train_only_shifted_test_set_does_not_leak():
    rng = np.random.default_rng(0)
    X = rng.normal(0.0, 1.0, size=(100, 2))
    X[80:] += 50.0  # a test set far from the training distribution
    table = from_arrays(X, rng.normal(size=100))
    parts = from_indices(table, np.arange(80), np.arange(80, 100), valid=0.0)
    train_X, test_X = parts.train.X.numpy(), parts.test.X.numpy()
    np.testing.assert_allclose(train_X.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(train_X.std(0), 1.0, atol=1e-4)
    scale = X[:80].std(0)
    # Standardized with the training mean/std, the test part sits ~50/std away from 0;
    # had test rows entered the statistics, it would be pulled towards 0.
    np.testing.assert_allclose(test_X.mean(0), (X[80:].mean(0) - X[:80].mean(0)) / scale,
                               rtol=1e-4)
    assert (test_X.mean(0) > 40).all()


def test_split_statistics_come_from_training_rows():
    table = _imbalanced()
    parts = split(table, seed=2)
    mean = np.array(list(parts.preprocessor.mean_.values()))
    raw = table.X.to_numpy()
    np.testing.assert_allclose(mean, raw[parts.train_index].mean(0))
    assert not np.allclose(mean, raw.mean(0), atol=1e-4)


def test_unseen_test_category_is_handled():
    df = pd.DataFrame({"color": ["r", "g"] * 10 + ["b"], "x": np.arange(21.0),
                       "target": np.arange(21.0) * 0.5})
    parts = from_indices(from_frame(df), np.arange(20), [20], valid=0.0)
    assert parts.train.feature_names == ("x", "color_g", "color_r")
    np.testing.assert_array_equal(parts.test.X[0, 1:].numpy(), [0.0, 0.0])


def test_constant_column_stays_finite_through_split():
    X = np.column_stack([np.ones(30), np.arange(30.0)])
    parts = split(from_arrays(X, np.arange(30) % 2), seed=0)
    for ds in (parts.train, parts.valid, parts.test):
        assert torch.isfinite(ds.X).all() and (ds.X[:, 0] == 0).all()


def test_missing_features_error_counts_every_row_not_only_train():
    X = np.arange(40.0).reshape(20, 2)
    X[[3, 17], 1] = np.nan
    with pytest.raises(ValueError, match=r"'x1' \(2 rows\)\. Pass impute="):
        split(from_arrays(X, np.arange(20) % 2))
    parts = split(from_arrays(X, np.arange(20) % 2), impute="mean")
    assert torch.isfinite(parts.train.X).all() and torch.isfinite(parts.test.X).all()


def test_too_few_rows_says_how_many_are_needed():
    with pytest.raises(ValueError, match="has 2 rows.*at least 3 rows are needed"):
        split(from_arrays(np.zeros((2, 1)), [0.5, 1.5]))
    table = from_arrays(np.zeros((9, 1)), np.arange(9) % 3)
    with pytest.raises(ValueError, match="has 9 rows.*one per class.*at least 14 rows"):
        split(table)


def test_class_too_small_for_stratification_is_named():
    y = np.array([0] * 10 + [1] * 10 + [2])
    with pytest.raises(ValueError, match=r"class 2 \(1 row\) has too few rows.*stratify=False"):
        split(from_arrays(np.zeros((21, 1)), y))


@pytest.mark.parametrize(("valid", "test", "match"), [
    (0.5, 0.5, "must be below 1"), (-0.1, 0.2, r"valid must be a fraction in \[0, 1\)"),
])
def test_bad_fractions(valid, test, match):
    with pytest.raises(ValueError, match=match):
        split(_imbalanced(), valid=valid, test=test)


def test_zero_fractions_give_no_part():
    parts = split(_imbalanced(), valid=0.0, test=0.0)
    assert parts.valid is None and parts.test is None and len(parts.train) == 400


def test_from_indices_rejects_overlapping_parts():
    with pytest.raises(ValueError, match="train and test parts share 1 rows"):
        from_indices(_imbalanced(), np.arange(10), np.arange(9, 20))


def test_from_indices_carves_a_stratified_validation_part():
    table = _imbalanced()
    parts = from_indices(table, np.arange(200), np.arange(300, 400), valid=0.15, seed=1)
    assert len(parts.valid) == 30 and len(parts.train) == 170
    assert set(parts.valid_index) < set(range(200))
    expected = np.bincount(table.y[:200], minlength=3) * 30 / 200
    assert np.abs(np.bincount(parts.valid.y.numpy(), minlength=3) - expected).max() <= 1


def _write_table(folder, name="toy", n=40):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"f1": rng.normal(size=n), "target": np.arange(n) % 2})
    df.to_csv(folder / f"{name}.csv", index=False)
    return folder / f"{name}.csv"


def test_paper_split_without_split_file_is_a_clear_error(tmp_path):
    path = _write_table(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"No split file for data set 'toy'.*split\(\)"):
        paper_split(path)


def test_paper_split_reads_the_split_file_beside_the_csv(tmp_path):
    path = _write_table(tmp_path)
    (tmp_path / "splits").mkdir()
    spec = {"dataset": "toy", "n_rows": 40, "n_train_file_rows": None,
            "kfold": [{"train": list(range(30)), "test": list(range(30, 40))}]}
    with gzip.open(tmp_path / "splits" / "toy.splits.json.gz", "wt") as f:
        json.dump(spec, f)
    parts = paper_split(path)
    assert parts.test_index.tolist() == list(range(30, 40))
    assert len(parts.valid) == 5 and len(parts.train) == 25
    with pytest.raises(ValueError, match=r"fold must be an integer in 0..0"):
        paper_split(path, fold=2)


def test_paper_split_of_iris_matches_the_published_test_size(shared_data):
    parts = paper_split(shared_data / "iris.csv.gz")
    with gzip.open(shared_data / "splits" / "iris.splits.json.gz", "rt") as f:
        fold = json.load(f)["kfold"][0]
    # README: iris 0.9730 = 36/37, and the kfold test parts have 37 rows.
    assert len(parts.test) == 37 and parts.test_index.tolist() == sorted(fold["test"])
    assert len(parts.train) + len(parts.valid) == 113 and len(parts.valid) == 17
    assert parts.n_classes == 3 and parts.n_features == 4


def test_paper_split_uses_the_original_test_file_when_there_is_one(shared_data):
    parts = paper_split(shared_data / "annealing.csv.gz")
    table = load_csv(shared_data / "annealing.csv.gz")
    assert len(table) == 898
    assert parts.test_index.tolist() == list(range(798, 898))  # the source's test file
    assert parts.train_index.max() < 798 and parts.valid_index.max() < 798
