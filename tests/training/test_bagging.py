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


def _sequential_bagging(make, x, y, valid, n, seed, **kw):
    """Bagging as fit(bagging=n) trained before it became a route to fit_ensemble: member
    k is fit on its bootstrap sample, one after another."""
    from fnnlab.training.bagging import bootstrap_indices

    gen = torch.Generator().manual_seed(seed)
    out = []
    for k in range(n):
        rows = bootstrap_indices(len(x), gen)
        out.append(fit(make(seed + k), (x[rows], y[rows]), valid, seed=seed + k, **kw).model)
    return out


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_bagged_fnn_members_are_the_sequential_bootstrap_fits(cancer, optimizer):
    models = pytest.importorskip("fnnlab.models")
    X, y = (torch.as_tensor(a) for a in cancer)
    spec = models.FNNSpec(in_features=30, out_features=2, depth=2, width=16, dropout=0.0)
    valid = (X[400:], y[400:])
    kw = dict(epochs=2, lr=0.01, optimizer=optimizer, batch_size=64, progress=False)
    result = fit(models.build(spec, seed=7), (X[:400], y[:400]), valid, bagging=3, seed=4,
                 **kw)
    want = _sequential_bagging(lambda s: models.build(spec, seed=s), X[:400], y[:400], valid,
                               3, 4, **kw)
    # Members now train as one stack: float32 rounding of the batched products (and of
    # the stacked Adam) differs from one fit at a time.
    for got, ref in zip((r.model for r in result.members), want, strict=True):
        for key, value in ref.state_dict().items():
            torch.testing.assert_close(got.state_dict()[key], value, rtol=1e-4, atol=1e-5)
    expected = torch.stack([predict_proba(m, X[400:], "categorical") for m in want]).mean(0)
    torch.testing.assert_close(predict_proba(result.model, X[400:]), expected, rtol=0,
                               atol=1e-5)


def test_bagged_plain_modules_are_the_sequential_bootstrap_fits_exactly(cancer, mlp):
    X, y = (torch.as_tensor(a) for a in cancer)
    kw = dict(epochs=2, lr=0.01, optimizer="adam", progress=False)
    model = mlp()
    result = fit(model, (X[:400], y[:400]), bagging=2, seed=1, **kw)
    want = _sequential_bagging(lambda s: mlp(), X[:400], y[:400], None, 2, 1, **kw)
    for got, ref in zip((r.model for r in result.members), want, strict=True):
        for key, value in ref.state_dict().items():
            assert torch.equal(got.state_dict()[key], value), key
    assert torch.equal(model[0].weight, mlp()[0].weight)  # the model given stays untouched


def test_bagging_is_fit_ensemble_with_bootstrap_and_member_stopping(cancer):
    models = pytest.importorskip("fnnlab.models")
    from fnnlab.training import fit_ensemble

    X, y = (torch.as_tensor(a) for a in cancer)
    spec = models.FNNSpec(in_features=30, out_features=2, depth=1, width=8, dropout=0.0)
    train, valid = (X[:400], y[:400]), (X[400:], y[400:])
    kw = dict(epochs=3, lr=0.05, early_stopping=1, seed=2, progress=False)
    bagged = fit(models.build(spec), train, valid, bagging=2, **kw)
    ensemble = fit_ensemble(spec, train, valid, k=2, bootstrap=True, stop_on="member", **kw)
    for a, b in zip(bagged.members, ensemble.members, strict=True):
        assert a.stop_reason == b.stop_reason and a.best_epoch == b.best_epoch
        for key, value in a.model.state_dict().items():
            assert torch.equal(b.model.state_dict()[key], value), key
    assert bagged.best_epoch is None and list(bagged.history["member"].unique()) == [0, 1]
