"""FNNClassifier(ensemble=k) / FNNRegressor(ensemble=k): k members, probabilities averaged."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.preprocessing import StandardScaler

from fnnlab.models import FNN
from fnnlab.sklearn import FNNClassifier, FNNRegressor
from fnnlab.training.bagging import Ensemble

SMALL = dict(depth=2, width=16, epochs=5, batch_size=32, optimizer="adam", lr=0.01,
             random_state=0)


@pytest.fixture
def binary():
    X, y = make_classification(n_samples=160, n_features=6, n_informative=4, random_state=0)
    return StandardScaler().fit_transform(X).astype(np.float32), y


def _members_mean(model: Ensemble, X: np.ndarray, proba: bool) -> np.ndarray:
    x = torch.from_numpy(X).double()
    with torch.no_grad():
        outs = [m.double().eval()(x) for m in model.members]
    return torch.stack([o.softmax(1) if proba else o for o in outs]).mean(0).numpy()


def test_classifier_predict_proba_averages_the_members(binary):
    X, y = binary
    clf = FNNClassifier(ensemble=3, **SMALL).fit(X, y)
    assert isinstance(clf.model_, Ensemble) and len(clf.model_.members) == 3
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba, _members_mean(clf.model_, X, True), atol=1e-6)
    assert np.array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])
    assert len(clf.history_) == 5 and clf.n_iter_ == 5


def test_regressor_predicts_the_members_mean():
    X, y = make_regression(n_samples=120, n_features=5, noise=0.1, random_state=0)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    y = (y - y.mean()) / y.std()
    reg = FNNRegressor(ensemble=2, **SMALL).fit(X, y)
    np.testing.assert_allclose(reg.predict(X), _members_mean(reg.model_, X, False)[:, 0],
                               atol=1e-6)


def test_ensemble_with_early_stopping_stops_the_members_together(binary):
    X, y = binary
    clf = FNNClassifier(ensemble=2, early_stopping=2, validation_fraction=0.2,
                        **{**SMALL, "epochs": 40}).fit(X, y)
    assert "valid_loss" in clf.history_
    assert clf.n_iter_ == len(clf.history_) < 40


def test_ensemble_one_is_the_single_network_estimator(binary, monkeypatch):
    import fnnlab.sklearn as sklearn_module

    def no_ensemble(*args, **kwargs):
        raise AssertionError("ensemble=1 must not go through fit_ensemble")

    monkeypatch.setattr(sklearn_module, "fit_ensemble", no_ensemble)
    X, y = binary
    one = FNNClassifier(ensemble=1, **SMALL).fit(X, y)
    assert isinstance(one.model_, FNN) and not isinstance(one.model_, Ensemble)
    assert one.predict_proba(X).shape == (len(X), 2)


def test_same_random_state_gives_the_same_ensemble_and_clone_keeps_the_parameter(binary):
    X, y = binary
    a = FNNClassifier(ensemble=2, **SMALL).fit(X, y)
    b = clone(a).fit(X, y)
    assert b.get_params()["ensemble"] == 2
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_bad_ensemble_and_incremental_training_raise(binary):
    X, y = binary
    with pytest.raises(ValueError, match="ensemble must be >= 1"):
        FNNClassifier(ensemble=0, **SMALL).fit(X, y)
    with pytest.raises(ValueError, match="partial_fit and warm_start need ensemble=1"):
        FNNClassifier(ensemble=2, **SMALL).partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="partial_fit and warm_start need ensemble=1"):
        FNNClassifier(ensemble=2, warm_start=True, **SMALL).fit(X, y)
