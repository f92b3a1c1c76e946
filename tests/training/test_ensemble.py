"""fit_ensemble: k members of one spec trained as one stack, their predictions averaged."""

import numpy as np
import pytest
import torch
from torch.testing import assert_close

import fnnlab
from fnnlab.training import Callback, fit_ensemble, member_predictions, uncertainty
from fnnlab.training.bagging import Ensemble, bootstrap_indices


def _data(n: int = 120, regression: bool = False, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=gen)
    score = x[:, 0] - 0.5 * x[:, 1] + 0.3 * torch.randn(n, generator=gen)
    y = score if regression else (score > 0).long()
    cut = int(0.75 * n)
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def _spec(out_features: int = 2) -> fnnlab.FNNSpec:
    return fnnlab.FNNSpec(in_features=5, out_features=out_features, depth=2, width=8,
                          dropout=0.0)


def test_ensemble_of_identical_members_equals_the_single_model():
    train, valid = _data()
    single = fnnlab.fit(fnnlab.build(_spec(), seed=3), train, valid, epochs=4, seed=3,
                        lr=0.05, progress=False)
    result = fit_ensemble(_spec(), train, valid, k=3, seeds=[3, 3, 3], epochs=4, lr=0.05,
                          progress=False)
    x = valid[0]
    # Stacked and single matrix multiplies round differently: float32 tolerance.
    assert_close(fnnlab.training.predict_proba(result.model, x), single.predict_proba(x),
                 rtol=0, atol=1e-5)
    assert result.history["valid_loss"].tolist() == pytest.approx(
        single.history["valid_loss"].tolist(), rel=1e-5)


def test_ensemble_prediction_is_the_exact_mean_of_the_members_probabilities():
    train, valid = _data()
    result = fit_ensemble(_spec(), train, k=4, epochs=2, progress=False)
    x = valid[0]
    members = member_predictions(result.model, x)  # (K, N, 2)
    assert members.shape == (4, len(x), 2)
    assert not torch.equal(members[0], members[1])  # different seeds, different members
    assert_close(fnnlab.training.predict_proba(result.model, x), members.mean(0),
                 rtol=0, atol=1e-6)
    assert_close(uncertainty(result.model, x), members.std(0, correction=0))


def test_regression_ensemble_predicts_the_mean_of_the_members_means():
    train, valid = _data(regression=True)
    result = fit_ensemble(_spec(1), train, k=3, epochs=2, lr=0.01, progress=False)
    x = valid[0]
    means = torch.stack([m.eval()(x) for m in result.model.members])
    assert_close(result.model.eval()(x), means.mean(0), rtol=0, atol=1e-6)
    assert_close(member_predictions(result.model, x), means, rtol=0, atol=1e-6)


def test_bootstrap_member_trains_as_fit_on_its_resample():
    train, _ = _data()
    result = fit_ensemble(_spec(), train, k=2, bootstrap=True, epochs=2, seed=5, lr=0.05,
                          progress=False)
    gen = torch.Generator().manual_seed(5)
    rows = [bootstrap_indices(len(train[0]), gen) for _ in range(2)]
    x = train[0]
    for i in range(2):
        alone = fnnlab.fit(fnnlab.build(_spec(), seed=5 + i), (x[rows[i]], train[1][rows[i]]),
                           epochs=2, seed=5 + i, lr=0.05, progress=False)
        assert_close(result.model.members[i].eval()(x), alone.model.eval()(x), rtol=0,
                     atol=1e-5)


def test_early_stopping_on_the_ensemble_restores_its_best_epoch():
    train, valid = _data()
    result = fit_ensemble(_spec(), train, valid, k=3, epochs=30, lr=0.5, early_stopping=2,
                          progress=False)
    history = result.history
    assert result.stop_reason == "early_stopping"
    assert len(history) < 30
    assert {len(m.history) for m in result.members} == {len(history)}  # stopped together
    best = int(history["valid_loss"].idxmin())
    assert result.best_epoch == history["epoch"][best]
    with torch.no_grad():
        loss = result.likelihood.loss(result.model.eval()(valid[0]), valid[1])
    assert float(loss) == pytest.approx(history["valid_loss"][best], rel=1e-5)


def test_early_stopping_per_member_leaves_each_member_its_own_stop():
    train, valid = _data()
    result = fit_ensemble(_spec(), train, valid, k=3, epochs=30, lr=0.5, early_stopping=2,
                          stop_on="member", progress=False)
    assert result.best_epoch is None
    assert all(m.stop_reason == "early_stopping" for m in result.members)
    assert len({m.best_epoch for m in result.members}) > 1


def test_save_and_load_round_trip_an_ensemble(tmp_path):
    train, valid = _data()
    result = fit_ensemble(_spec(), train, k=3, epochs=2, progress=False,
                          likelihood=fnnlab.likelihoods.Categorical(temperature=2.0))
    path = fnnlab.save_model(result.model, tmp_path / "ensemble.pt", task="classification")
    loaded = fnnlab.load_model(path)
    assert isinstance(loaded, Ensemble) and len(loaded.members) == 3
    assert loaded.likelihood.temperature == 2.0
    for key, value in result.model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    x = valid[0]
    assert torch.equal(loaded.eval()(x), result.model.eval()(x))


def test_options_no_stack_takes_train_members_one_by_one():
    train, valid = _data()

    class Count(Callback):
        epochs = 0

        def on_epoch_end(self, state, **kwargs):
            Count.epochs += 1

    result = fit_ensemble(_spec(), train, valid, k=2, epochs=2, callbacks=[Count()],
                          progress=False)
    assert Count.epochs == 4 and len(result.model.members) == 2
    with pytest.raises(ValueError, match="stop_on='member'"):
        fit_ensemble(_spec(), train, valid, k=2, epochs=2, callbacks=[Count()],
                     early_stopping=2, progress=False)


def test_bad_arguments_raise_clear_errors():
    train, valid = _data()
    with pytest.raises(ValueError, match="stop_on must be one of"):
        fit_ensemble(_spec(), train, k=2, stop_on="best")
    with pytest.raises(ValueError, match="needs valid data"):
        fit_ensemble(_spec(), train, k=2, early_stopping=3)
    with pytest.raises(ValueError, match="seeds has 1 values"):
        fit_ensemble(_spec(), train, k=2, seeds=[0])
    with pytest.raises(ValueError, match="bootstrap=True"):
        fit_ensemble(_spec(), train, k=2, bagging=2)


def test_smoothed_stopping_on_the_ensemble_keeps_its_best_smoothed_epoch():
    train, valid = _data()
    result = fit_ensemble(_spec(), train, valid, k=3, epochs=12, lr=0.5, stopping_window=3,
                          progress=False)
    history = result.history
    # The ensemble's validation loss smoothed over 3 epochs decides, not each member's.
    smoothed = history["valid_loss"].rolling(3, min_periods=1).mean()
    np.testing.assert_allclose(history["smoothed_valid_loss"], smoothed, rtol=1e-12)
    best = int(smoothed.idxmin())
    assert result.best_epoch == history["epoch"][best]
    with torch.no_grad():
        loss = result.likelihood.loss(result.model.eval()(valid[0]), valid[1])
    assert float(loss) == pytest.approx(history["valid_loss"][best], rel=1e-5)
