"""Tests for fnnlab.nn.activations: the registry, SELU for any parameters, Maxout."""

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from fnnlab.nn import ACTIVATIONS, SELU, Maxout
from fnnlab.theory import selu_parameters

CONTRACT_NAMES = {"sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "selu", "gelu",
                  "swish", "mish", "softplus", "maxout", "identity"}


def test_registry_holds_the_contract_names_and_aliases():
    assert set(ACTIVATIONS.names()) == CONTRACT_NAMES
    assert ACTIVATIONS.canonical("silu") == "swish"
    assert ACTIVATIONS.canonical("linear") == "identity"


@pytest.mark.parametrize("name", ACTIVATIONS.names())
def test_every_activation_creates_fresh_and_runs_forward(name):
    x = torch.randn(4, 6)
    act = ACTIVATIONS.create(name)
    assert act is not ACTIVATIONS.create(name)
    y = act(x)
    assert y.shape == ((4, 3) if name == "maxout" else (4, 6))
    assert torch.isfinite(y).all()


def test_torch_classes_are_registered_as_is():
    assert ACTIVATIONS.get("relu") is torch.nn.ReLU
    assert ACTIVATIONS.get("silu") is torch.nn.SiLU
    act = ACTIVATIONS.create("leaky_relu", negative_slope=0.2)
    assert act.negative_slope == 0.2


def test_unknown_activation_lists_the_known_ones():
    with pytest.raises(ValueError, match="Known activations"):
        ACTIVATIONS.create("selu2")


def test_selu_defaults_match_torch_selu():
    x = torch.linspace(-8, 8, 401)
    torch.testing.assert_close(SELU()(x), F.selu(x), rtol=1e-6, atol=1e-6)


def test_selu_with_other_parameters_follows_the_formula():
    alpha, scale = selu_parameters(0.0, 4.0)
    act = ACTIVATIONS.create("selu", alpha=alpha, scale=scale)
    x = torch.tensor([-50.0, -1.0, 0.0, 2.0], dtype=torch.float64)
    expected = torch.tensor([-scale * alpha, scale * alpha * (torch.e**-1 - 1), 0.0, 2 * scale],
                            dtype=torch.float64)
    torch.testing.assert_close(act(x), expected, rtol=1e-12, atol=1e-12)
    assert (act.alpha, act.scale) == (alpha, scale)
    assert f"alpha={alpha!r}" in repr(act)


def test_selu_gradcheck_float64():
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    assert gradcheck(SELU(alpha=2.0, scale=1.2), (x,))


def test_selu_gradient_is_finite_for_large_inputs():
    x = torch.tensor([1000.0, -1000.0], requires_grad=True)
    SELU()(x).sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"alpha": -1.0}, ValueError, "alpha must be > 0"),
    ({"scale": 0.0}, ValueError, "scale must be > 0"),
    ({"alpha": "1"}, TypeError, "alpha must be a float"),
])
def test_selu_rejects_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        SELU(**kwargs)


def test_maxout_takes_the_max_over_consecutive_groups():
    x = torch.tensor([[1.0, 5.0, 3.0, -2.0, 0.0, 4.0]])
    torch.testing.assert_close(Maxout(pieces=3)(x), torch.tensor([[5.0, 4.0]]))
    torch.testing.assert_close(Maxout(pieces=2)(x), torch.tensor([[5.0, 3.0, 4.0]]))
    assert repr(Maxout(pieces=3)) == "Maxout(pieces=3)"


def test_maxout_gradcheck_float64():
    x = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    assert gradcheck(Maxout(pieces=4), (x,))


def test_maxout_rejects_indivisible_features_and_bad_pieces():
    with pytest.raises(ValueError, match="divisible by 4"):
        Maxout(pieces=4)(torch.randn(2, 6))
    with pytest.raises(ValueError, match="pieces must be >= 1"):
        Maxout(pieces=0)
    with pytest.raises(TypeError, match="pieces must be an int"):
        Maxout(pieces=2.0)
