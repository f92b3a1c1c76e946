"""Bagging: bootstrap members, predictions averaged in probability space."""

import pytest
import torch

from fnnlab.training import Ensemble, fit, predict_proba


def test_bagging_returns_an_ensemble_averaging_member_probabilities(cancer, mlp):
    X, y = cancer
    result = fit(mlp(), (X[:400], y[:400]), (X[400:], y[400:]), bagging=3, epochs=2,
                 lr=0.05, progress=False)
    assert isinstance(result.model, Ensemble) and len(result.members) == 3
    assert sorted(result.history["member"].unique()) == [0, 1, 2]
    members = [m.model for m in result.members]
    assert not torch.equal(members[0][0].weight, members[1][0].weight)
    proba = predict_proba(result.model, X[400:])
    expected = torch.stack([predict_proba(m, X[400:], "categorical") for m in members]).mean(0)
    torch.testing.assert_close(proba, expected)
    assert (result.predict(X[400:]).numpy() == y[400:]).mean() > 0.9


def test_bagged_fnn_members_get_different_initial_weights(cancer):
    models = pytest.importorskip("fnnlab.models")
    spec = models.FNNSpec(in_features=30, out_features=2, depth=1, width=8)
    torch.manual_seed(0)
    result = fit(models.build(spec), cancer, bagging=2, epochs=1, progress=False)
    a, b = (m.model for m in result.members)
    assert not torch.equal(a.head.weight, b.head.weight)


def test_bagging_refuses_checkpoints(cancer, mlp, tmp_path):
    with pytest.raises(ValueError, match="not supported together with bagging"):
        fit(mlp(), cancer, bagging=2, checkpoint=tmp_path / "c.pt", progress=False)
