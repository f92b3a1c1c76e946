"""search: successive halving inside stacks; halved members leave the stack."""

import sys

import pytest
import torch

import fnnlab
from fnnlab.training import search as run_search
from fnnlab.training.search import rung_epochs

# The function fnnlab.training.search shadows its module's name on the package.
search_module = sys.modules["fnnlab.training.search"]


def _data(n: int = 160):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 5, generator=gen)
    y = (x[:, 0] - 0.5 * x[:, 1] > 0).long()
    return (x[:120], y[:120]), (x[120:], y[120:])


SPEC = fnnlab.FNNSpec(in_features=5, out_features=2, depth=2, width=8, dropout=0.0)


def test_rung_epochs_halve_down_from_the_budget():
    assert rung_epochs(64, 32, 2) == [1, 2, 4, 8, 16, 32]
    assert rung_epochs(4, 8, 2) == [2, 4, 8]
    assert rung_epochs(1, 5, 2) == [5]
    assert rung_epochs(9, 9, 3) == [1, 3, 9]


def test_halving_keeps_the_best_member_and_drops_the_others_from_the_stack(monkeypatch):
    train, valid = _data()
    sizes = []
    original = search_module.train_stack

    def counting(models, configs, *args, **kwargs):
        sizes.append(len(models))
        return original(models, configs, *args, **kwargs)

    monkeypatch.setattr(search_module, "train_stack", counting)
    # lr=0.2 learns this task in a few epochs; the others barely move from the start.
    result = run_search(SPEC, train, valid, space={"lr": [1e-5, 1e-4, 0.2, 1e-6]},
                               budget=8, eta=2, progress=False)
    assert sizes == [4, 2, 1]  # halved members are not computed on
    assert result.params == {"lr": 0.2}
    trials = result.trials.set_index("lr")
    assert trials.loc[0.2, "rank"] == 1 and trials.loc[0.2, "epochs"] == 8
    assert sorted(trials["epochs"].tolist()) == [2, 2, 4, 8]
    assert len(result.best.history) == 8
    assert result.best.history["epoch"].tolist() == list(range(1, 9))


def test_first_rung_equals_the_first_epochs_of_fit():
    train, valid = _data()
    result = run_search(SPEC, train, valid, space={"seed": [3, 4]}, budget=2,
                               eta=2, lr=0.05, progress=False)
    loser = result.trials.set_index("seed")["rank"].idxmax()
    alone = fnnlab.fit(fnnlab.build(SPEC, seed=int(loser)), train, valid, epochs=1,
                       seed=int(loser), lr=0.05, progress=False)
    row = result.trials.set_index("seed").loc[loser]
    assert row["epochs"] == 1
    assert row["valid_loss"] == pytest.approx(alone.history["valid_loss"].iloc[-1], rel=1e-5)


def test_dropout_and_weight_decay_are_searched_per_member(monkeypatch):
    train, valid = _data()
    first = []
    original = search_module.train_stack

    def recording(models, configs, *args, **kwargs):
        if not first:  # the first rung trains every configuration
            first.append(([m.spec.dropout for m in models], [c.weight_decay for c in configs]))
        return original(models, configs, *args, **kwargs)

    monkeypatch.setattr(search_module, "train_stack", recording)
    result = run_search(SPEC, train, valid, budget=2, progress=False, lr=0.05,
                               space={"dropout": [0.0, 0.1], "weight_decay": [0.0, 1e-3]})
    assert len(result.trials) == 4
    assert set(result.params) == {"dropout", "weight_decay"}
    dropouts, decays = first[0]
    assert sorted(zip(dropouts, decays, strict=True)) == [
        (0.0, 0.0), (0.0, 1e-3), (0.1, 0.0), (0.1, 1e-3)]


def test_bad_arguments_raise_clear_errors():
    train, valid = _data()
    with pytest.raises(ValueError, match="cannot differ inside a stack"):
        run_search(SPEC, train, valid, space={"batch_size": [32, 64]})
    with pytest.raises(ValueError, match="pass valid"):
        run_search(SPEC, train, None, space={"lr": [0.1]})
    with pytest.raises(ValueError, match="eta must be an int >= 2"):
        run_search(SPEC, train, valid, space={"lr": [0.1]}, eta=1)
    with pytest.raises(TypeError, match="non-empty list"):
        run_search(SPEC, train, valid, space={"lr": 0.1})
    with pytest.raises(ValueError, match="early_stopping"):
        run_search(SPEC, train, valid, space={"lr": [0.1]}, early_stopping=3)
