"""Metrics against hand-computed values."""

import numpy as np
import pytest

from fnnlab.training import METRICS

Y = np.array([0, 0, 1, 1, 2, 2])
PROBA = np.array([[0.8, 0.1, 0.1], [0.4, 0.5, 0.1], [0.2, 0.7, 0.1],
                  [0.1, 0.2, 0.7], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
PRED = PROBA.argmax(1)


def m(name, *args):
    return METRICS.get(name)(*args)


def test_classification_metrics():
    assert m("accuracy", Y, PRED, PROBA) == pytest.approx(4 / 6)
    # recalls: class 0: 1/2, class 1: 1/2, class 2: 2/2.
    assert m("balanced_accuracy", Y, PRED, PROBA) == pytest.approx((0.5 + 0.5 + 1) / 3)
    expected = -np.mean(np.log(PROBA[np.arange(6), Y]))
    assert m("log_loss", Y, PRED, PROBA) == pytest.approx(expected)


def test_binary_roc_auc_counts_ordered_pairs():
    y = np.array([0, 0, 1, 1])
    p1 = np.array([0.1, 0.6, 0.4, 0.9])
    # Pairs (neg, pos) ranked correctly: (0.1,0.4) (0.1,0.9) (0.6,0.9); wrong: (0.6,0.4).
    proba = np.stack([1 - p1, p1], 1)
    assert m("roc_auc", y, None, proba) == pytest.approx(3 / 4)


def test_ovr_roc_auc_is_macro_average_and_tolerates_missing_classes():
    value = m("roc_auc", Y, PRED, PROBA)
    assert 0.5 < value <= 1.0
    assert np.isnan(m("roc_auc", np.zeros(3, int), None, PROBA[:3]))
    assert 0 <= m("roc_auc", Y[:4], None, PROBA[:4]) <= 1


def test_regression_metrics():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.5, 2.0, 2.0, 5.0])
    assert m("mse", y, p, None) == pytest.approx((0.25 + 0 + 1 + 1) / 4)
    assert m("mae", y, p, None) == pytest.approx((0.5 + 0 + 1 + 1) / 4)
    assert m("r2", y, p, None) == pytest.approx(1 - 2.25 / 5.0)


def test_probability_metrics_need_probabilities():
    with pytest.raises(ValueError, match="needs class probabilities"):
        m("log_loss", Y, PRED, None)


def test_roc_auc_takes_decision_values_and_auc_is_its_alias():
    from sklearn.metrics import roc_auc_score

    y = np.array([0, 1, 1, 0, 1, 0])
    decision = np.array([-2.0, 0.5, 3.0, 0.1, -0.2, -1.0])  # (N,) binary decision function
    assert m("auc", y, None, decision) == pytest.approx(roc_auc_score(y, decision))
    assert METRICS.canonical("auc") == "roc_auc"
    # Three score columns that do not sum to one, class 2 absent: the mean of the
    # present classes' one-vs-rest AUCs, each ranking the rows by its own column.
    scores = np.array([[3.0, -1, 0], [0, 2, 5], [1, 1, -4], [-1, 0, 2], [2, -2, 1]])
    y3 = np.array([0, 1, 0, 1, 0])
    want = np.mean([roc_auc_score(y3 == k, scores[:, k]) for k in (0, 1)])
    assert m("roc_auc", y3, None, scores) == pytest.approx(want)
    assert np.isnan(m("roc_auc", y3, None, np.full((5, 3), np.nan)))


def test_regression_metrics_match_scikit_learn():
    from sklearn import metrics as skm

    rng = np.random.default_rng(0)
    y = rng.normal(size=50)
    p = y + rng.normal(scale=0.5, size=50)
    assert m("rmse", y, p, None) == pytest.approx(skm.root_mean_squared_error(y, p), rel=1e-12)
    assert m("mae", y, p, None) == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-12)
    assert m("r2", y, p, None) == pytest.approx(skm.r2_score(y, p), rel=1e-12)
    assert m("rmse", y, p, None) ** 2 == pytest.approx(m("mse", y, p, None), rel=1e-12)


def test_task_metrics_are_tabarenas_and_to_error_flips_scores():
    from fnnlab.training.metrics import task_metrics, to_error

    assert task_metrics("classification", 2)[0] == "roc_auc"
    assert task_metrics("classification", 5) == ("log_loss", "accuracy")
    assert task_metrics("regression")[0] == "rmse"
    for name in task_metrics("regression") + task_metrics("classification", 3):
        assert METRICS.canonical(name) == name
    with pytest.raises(ValueError, match="n_classes >= 2"):
        task_metrics("classification")
    assert to_error("auc", 0.75) == pytest.approx(0.25)
    assert to_error("rmse", 2.5) == 2.5 and to_error("log_loss", 0.3) == 0.3
    np.testing.assert_allclose(to_error("r2", np.array([1.0, 0.2])), [0.0, 0.8])


def test_task_metrics_score_each_task_on_its_observed_rows_and_average():
    from sklearn.metrics import roc_auc_score

    from fnnlab.training.metrics import per_task

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(40, 3)).astype(float)
    y[rng.random((40, 3)) < 0.3] = np.nan
    p = np.clip(0.5 * y + rng.random((40, 3)) * 0.8, 0, 1)
    p[np.isnan(p)] = 0.5
    want = [roc_auc_score(y[~np.isnan(y[:, t]), t], p[~np.isnan(y[:, t]), t]) for t in range(3)]
    np.testing.assert_allclose(per_task("roc_auc", y, None, p), want, rtol=1e-12)
    assert METRICS.get("auc")(y, (p > 0.5).astype(int), p) == pytest.approx(np.mean(want))
    acc = [np.mean((p[:, t] > 0.5)[~np.isnan(y[:, t])] == y[~np.isnan(y[:, t]), t])
           for t in range(3)]
    np.testing.assert_allclose(per_task("accuracy", y, (p > 0.5).astype(int), p), acc)
    # A task with one class among its observed rows has no AUC; the mean skips it.
    y[:, 1] = np.where(np.isnan(y[:, 1]), np.nan, 1.0)
    assert np.isnan(per_task("roc_auc", y, None, p)[1])
    assert METRICS.get("roc_auc")(y, p > 0.5, p) == pytest.approx(np.mean([want[0], want[2]]))
