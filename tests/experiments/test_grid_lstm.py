"""Tests for fnnlab.experiments.grid_lstm: task data and the parameter-matched models.

The training runs themselves take minutes and live in examples/grid_lstm_parity.py.
"""

import pytest
import torch

from fnnlab.experiments.grid_lstm import (
    addition_data,
    parity_data,
    parity_experiment,
    parity_models,
)


def test_parity_data_codes_bits_as_signs_and_labels_their_parity():
    x, y = parity_data(500, 17, torch.Generator().manual_seed(0))
    assert x.shape == (500, 17) and set(x.unique().tolist()) == {-1.0, 1.0}
    torch.testing.assert_close(y, (x > 0).sum(dim=1).remainder(2))
    assert 0.4 < y.float().mean() < 0.6


def test_addition_data_digits_spell_the_sum():
    x, y = addition_data(200, 5, torch.Generator().manual_seed(0))
    assert x.shape == (200, 6, 20) and y.shape == (200, 6)
    powers = 10 ** torch.arange(5)
    a = (x[:, :5, :10].argmax(-1) * powers).sum(1)
    b = (x[:, :5, 10:].argmax(-1) * powers).sum(1)
    torch.testing.assert_close((y * 10 ** torch.arange(6)).sum(1), a + b)
    assert (x[:, 5] == 0).all()


def test_parity_baselines_have_the_same_depth_and_about_the_same_parameter_count():
    models = parity_models(k=16, depth=6, hidden_size=32)
    counts = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    for name in ("tanh", "highway"):
        assert len(models[name].hidden) == 6
        assert abs(counts[name] - counts["grid_lstm"]) < 0.1 * counts["grid_lstm"], counts


def test_parity_experiment_rejects_unknown_models():
    with pytest.raises(ValueError, match="Unknown parity models"):
        parity_experiment(16, models=("grid_lstm", "lstm"), steps=1)
