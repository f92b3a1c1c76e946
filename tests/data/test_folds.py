import numpy as np
import pytest

from fnnlab.data.folds import cv_folds, tabarena_repeats


def _labels(n=300, seed=0):
    # Imbalanced three classes: 60%, 30%, 10%.
    rng = np.random.default_rng(seed)
    return rng.permutation(np.repeat([0, 1, 2], [int(0.6 * n), int(0.3 * n), n - int(0.9 * n)]))


def test_tabarena_repeats_switch_at_2500_rows():
    assert tabarena_repeats(100) == 10
    assert tabarena_repeats(2499) == 10
    assert tabarena_repeats(2500) == 3
    assert tabarena_repeats(100_000) == 3
    with pytest.raises(ValueError, match="positive integer"):
        tabarena_repeats(0)


def test_folds_count_and_partition_the_rows_in_each_repeat():
    y = _labels(300)
    folds = cv_folds(y, "classification")
    assert len(folds) == 30  # 3 folds x 10 repeats below 2,500 rows
    assert [(f.repeat, f.fold) for f in folds[:4]] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    for repeat in range(10):
        parts = [f for f in folds if f.repeat == repeat]
        tests = np.concatenate([f.test for f in parts])
        np.testing.assert_array_equal(np.sort(tests), np.arange(300))  # a partition
        for f in parts:
            assert np.intersect1d(f.train, f.test).size == 0
            assert len(f.train) + len(f.test) == 300
    # Repeats are different shuffles.
    assert not np.array_equal(folds[0].test, folds[3].test)
    assert len(cv_folds(np.zeros(2500), "regression")) == 9


def test_folds_are_deterministic_given_the_seed():
    y = _labels(200)
    a, b = cv_folds(y, "classification", seed=7), cv_folds(y, "classification", seed=7)
    c = cv_folds(y, "classification", seed=8)
    for fa, fb in zip(a, b, strict=True):
        np.testing.assert_array_equal(fa.test, fb.test)
        np.testing.assert_array_equal(fa.train, fb.train)
    assert any(not np.array_equal(fa.test, fc.test) for fa, fc in zip(a, c, strict=True))


def test_classification_folds_are_stratified():
    y = _labels(300)
    overall = np.bincount(y) / len(y)
    def drift(task):
        return [np.abs(np.bincount(y[f.test], minlength=3) - overall * len(f.test)).max()
                for f in cv_folds(y, task, n_repeats=3, seed=1)]

    # Each test fold holds 100 rows; stratification keeps every class count within one
    # row of its share (60, 30, 10), where the same folds unstratified drift by several.
    assert max(drift("classification")) <= 1
    assert max(drift("regression")) >= 3


def test_regression_folds_and_bad_arguments():
    y = np.linspace(0, 1, 50)
    folds = cv_folds(y, "regression", n_folds=5, n_repeats=2, seed=0)
    assert len(folds) == 10 and all(len(f.test) == 10 for f in folds)
    with pytest.raises(ValueError, match=r"Classes \[2\] have fewer than n_folds=3"):
        cv_folds(np.array([0] * 10 + [1] * 10 + [2] * 2), "classification")
    with pytest.raises(ValueError, match="task must be"):
        cv_folds(y, "ranking")
    with pytest.raises(ValueError, match="n_folds must be"):
        cv_folds(y, "regression", n_folds=1)
    with pytest.raises(ValueError, match="1-d targets"):
        cv_folds(y[:, None], "regression")
