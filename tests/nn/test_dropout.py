"""Tests for fnnlab.nn.dropout: the registry, alpha dropout for any fixed point, Gaussian."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from fnnlab.nn import DROPOUTS, SELU, AlphaDropout, GaussianDropout
from fnnlab.theory import alpha_dropout_affine, selu_parameters


@pytest.mark.parametrize("name", DROPOUTS.names())
def test_every_dropout_is_identity_in_eval_and_at_rate_zero(name):
    x = torch.randn(4, 6)
    layer = DROPOUTS.create(name, 0.3)
    assert not torch.equal(layer(x), x)  # training mode: something changes
    layer.eval()
    assert torch.equal(layer(x), x)
    assert torch.equal(DROPOUTS.create(name, 0.0)(x), x)


def test_registry_names_and_unknown_name():
    assert DROPOUTS.names() == ["alpha_dropout", "dropout", "gaussian"]
    assert DROPOUTS.get("dropout") is torch.nn.Dropout
    with pytest.raises(ValueError, match="Known dropouts"):
        DROPOUTS.create("alpha", 0.1)


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
def test_alpha_dropout_keeps_mean_and_std_of_standard_normal_input(rate):
    # PyTorch's own test: 5000 standard-normal inputs, |change| < 0.1 in mean and std.
    x = torch.randn(5000)
    y = AlphaDropout(rate)(x)
    assert abs(y.mean().item() - x.mean().item()) < 0.1
    assert abs(y.std().item() - x.std().item()) < 0.1


@pytest.mark.parametrize("rate", [0.05, 0.2, 0.5])
def test_alpha_dropout_keeps_the_var4_fixed_point(rate):
    # SELU outputs at the (0, 4) fixed point: z ~ N(0, 4) through the matching SELU.
    alpha, scale = selu_parameters(0.0, 4.0)
    x = SELU(alpha=alpha, scale=scale)(2.0 * torch.randn(200_000, dtype=torch.float64))
    y = AlphaDropout(rate, alpha=alpha, scale=scale, mean=0.0, var=4.0)(x)
    # Standard errors at n = 2e5: about 0.0045 (mean) and 0.016 (variance); allow > 5.
    assert abs(x.mean().item()) < 0.025 and abs(x.var().item() - 4.0) < 0.1
    assert abs(y.mean().item()) < 0.025
    assert abs(y.var().item() - 4.0) < 0.1
    # Dropped units sit at a * saturation + b, the rest at a * x + b.
    layer = AlphaDropout(rate, alpha=alpha, scale=scale, var=4.0)
    a, b = alpha_dropout_affine(rate, alpha, scale, 0.0, 4.0)
    dropped = torch.isclose(y, torch.tensor(a * -scale * alpha + b, dtype=y.dtype))
    assert dropped.double().mean().item() == pytest.approx(rate, abs=0.005)
    assert (layer.a, layer.b) == (a, b)


def test_alpha_dropout_with_default_parameters_matches_torch_exactly():
    # Both draw empty_like(x).bernoulli_(1 - p), so the same seed gives the same mask.
    x = torch.randn(64, 32)
    for rate in (0.05, 0.1, 0.5):
        torch.manual_seed(1)
        ours = AlphaDropout(rate)(x)
        torch.manual_seed(1)
        theirs = F.alpha_dropout(x, rate, training=True)
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)


def test_alpha_dropout_gradcheck_float64_with_fixed_mask():
    layer = AlphaDropout(0.3, alpha=2.0, scale=1.1, mean=0.1, var=2.0)
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)

    def fixed_mask(inp):
        torch.manual_seed(3)
        return layer(inp)

    assert gradcheck(fixed_mask, (x,))


def test_gaussian_dropout_noise_has_mean_one_and_dropout_variance():
    rate = 0.3
    y = GaussianDropout(rate)(torch.ones(200_000))
    # Standard errors: sqrt(p/(1-p)/n) = 0.0015 (mean), ~0.002 (variance); allow > 5 of them.
    assert y.mean().item() == pytest.approx(1.0, abs=0.01)
    assert y.var().item() == pytest.approx(rate / (1 - rate), abs=0.015)


def test_gaussian_dropout_gradcheck_float64_with_fixed_noise():
    layer = GaussianDropout(0.4)
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)

    def fixed_noise(inp):
        torch.manual_seed(3)
        return layer(inp)

    assert gradcheck(fixed_noise, (x,))


@pytest.mark.parametrize("cls", [AlphaDropout, GaussianDropout])
def test_bad_rate_raises(cls):
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\), got 1.0"):
        cls(1.0)
    with pytest.raises(TypeError, match="p must be a float"):
        cls("0.1")


def test_extra_repr_shows_the_hyperparameters():
    text = repr(AlphaDropout(0.1, mean=0.0, var=4.0))
    assert "p=0.1" in text and "var=4.0" in text
    assert repr(GaussianDropout(0.2)) == "GaussianDropout(p=0.2)"
    assert math.isclose(AlphaDropout(0.05).a, 0.954844, abs_tol=1e-6)
