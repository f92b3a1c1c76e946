import warnings

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from fnnlab.bench.scoring import CLASSIFICATION_METRICS, scores


def test_auc_of_probabilities_equals_sklearns_one_vs_rest_macro_mean():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    proba = rng.dirichlet(np.ones(3), size=60)
    out = scores(y, proba.argmax(1), proba, 3)
    assert set(out) == set(CLASSIFICATION_METRICS)
    assert out["roc_auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"), abs=1e-12)
    assert out["accuracy"] == pytest.approx((proba.argmax(1) == y).mean(), abs=1e-12)


def test_auc_of_a_binary_decision_function_ranks_by_its_sign():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=40)
    s = y + rng.normal(size=40)  # decision values, positive means class 1
    out = scores(y, (s > 0).astype(int), s, 2)
    assert out["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_auc_is_nan_when_only_one_class_is_present_and_nothing_warns():
    y = np.zeros(5, dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = scores(y, np.array([0, 0, 0, 0, 1]), np.tile([0.9, 0.1], (5, 1)), 2)
    assert np.isnan(out["roc_auc"]) and out["accuracy"] == 0.8 and out["balanced_accuracy"] == 0.8
