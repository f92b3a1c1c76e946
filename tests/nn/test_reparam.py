"""Tests for fnnlab.nn.reparam: weight norm, its data-dependent init, spectral norm."""

import pytest
import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils import parametrizations
from torch.testing import assert_close

from fnnlab.nn import REPARAMS, MeanOnlyBatchNorm, WeightNormLinear, data_dependent_init_


@pytest.mark.parametrize("name", REPARAMS.names())
def test_every_reparam_builds_a_linear_layer_with_weight_and_bias(name):
    layer = REPARAMS.create(name, 5, 3)
    assert layer.weight.shape == (3, 5)
    assert layer.bias.shape == (3,)
    x = torch.randn(4, 5)
    assert_close(layer(x), x @ layer.weight.T + layer.bias, atol=1e-6, rtol=0)
    assert REPARAMS.create(name, 5, 3, bias=False).bias is None


def test_unknown_reparam_lists_known_reparams():
    with pytest.raises(ValueError, match="Known reparams"):
        REPARAMS.create("weight_normal", 5, 3)


def test_weight_norm_weight_is_g_times_unit_rows():
    layer = WeightNormLinear(5, 3)
    with torch.no_grad():
        layer.g.copy_(torch.tensor([0.5, 2.0, 3.0]))
    assert_close(layer.weight.norm(dim=1), torch.tensor([0.5, 2.0, 3.0]))
    assert_close(layer.weight / layer.g[:, None], layer.v / layer.v.norm(dim=1, keepdim=True))


def test_weight_norm_reset_draws_v_with_std_005_and_g_one():
    layer = WeightNormLinear(400, 300)
    assert abs(layer.v.std().item() - 0.05) < 0.05 * 0.01
    assert_close(layer.g, torch.ones(300))
    assert_close(layer.bias, torch.zeros(300))


def test_weight_norm_matches_torch_weight_norm_parametrization():
    ours = WeightNormLinear(6, 4)
    ref = parametrizations.weight_norm(nn.Linear(6, 4), dim=0)
    with torch.no_grad():
        ours.g.copy_(torch.rand(4) + 0.5)
        ours.bias.normal_()
        ref.parametrizations.weight.original0.copy_(ours.g[:, None])  # g, shape (out, 1)
        ref.parametrizations.weight.original1.copy_(ours.v)  # v
        ref.bias.copy_(ours.bias)
    x = torch.randn(8, 6)
    assert_close(ours(x), ref(x), atol=1e-6, rtol=0)


def test_weight_norm_gradcheck_float64():
    layer = WeightNormLinear(4, 3).double()
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    params = {k: p.detach().clone().requires_grad_(True) for k, p in layer.named_parameters()}

    def f(x, v, g, bias):
        return functional_call(layer, {"v": v, "g": g, "bias": bias}, (x,))

    assert torch.autograd.gradcheck(f, (x, params["v"], params["g"], params["bias"]))


def test_weight_norm_weight_assignment_sets_v_and_g():
    layer = WeightNormLinear(5, 3)
    w = torch.randn(3, 5)
    layer.weight = w
    assert_close(layer.weight, w)
    x = torch.randn(2, 5)
    assert_close(layer(x), x @ w.T + layer.bias)
    with pytest.raises(ValueError, match="shape"):
        layer.weight = torch.randn(5, 3)


def test_torch_weight_norm_ignores_writes_to_weight_data_ours_does_not():
    torch_wn = parametrizations.weight_norm(nn.Linear(5, 3), dim=0)
    x = torch.randn(4, 5)
    before = torch_wn(x)
    with torch.no_grad():
        torch_wn.weight.data.mul_(10.0)  # the trap: a fresh tensor, discarded
        nn.init.zeros_(torch_wn.weight)
    assert_close(torch_wn(x), before)  # silently unchanged

    ours = WeightNormLinear(5, 3)
    before = ours(x)
    with torch.no_grad():
        ours.g.data.mul_(10.0)  # g is a real leaf parameter: the write sticks
    assert_close(ours(x), before * 10.0)


def _stack() -> nn.Sequential:
    return nn.Sequential(
        WeightNormLinear(5, 16),
        nn.ReLU(),
        WeightNormLinear(16, 16),
        nn.ReLU(),
        WeightNormLinear(16, 3),
    )


def _pre_activations(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    outs: list[torch.Tensor] = []
    handles = [
        m.register_forward_hook(lambda _m, _a, o: outs.append(o.detach()))
        for m in model.modules()
        if isinstance(m, WeightNormLinear)
    ]
    model(x)
    for h in handles:
        h.remove()
    return outs


def test_data_dependent_init_gives_unit_pre_activations_in_every_layer():
    model = _stack()
    x = torch.randn(256, 5) * 4 + 3
    returned = data_dependent_init_(model, x)
    assert returned is model
    outs = _pre_activations(model, x)  # a fresh pass: the init must have stuck
    assert len(outs) == 3
    for out in outs:
        assert_close(out.mean(0), torch.zeros(out.shape[1]), atol=1e-5, rtol=0)
        assert_close(out.var(0, unbiased=False), torch.ones(out.shape[1]), atol=1e-4, rtol=0)


def test_data_dependent_init_sets_g_and_b_from_batch_statistics():
    layer = WeightNormLinear(5, 4)
    x = torch.randn(100, 5) * 2 + 1
    t = x @ (layer.v / layer.v.norm(dim=1, keepdim=True)).T
    sigma = torch.sqrt(t.var(0, unbiased=False) + 1e-10)
    data_dependent_init_(layer, x)
    assert_close(layer.g, 1 / sigma, atol=1e-5, rtol=1e-5)
    assert_close(layer.bias, -t.mean(0) / sigma, atol=1e-5, rtol=1e-5)
    state = layer.state_dict()
    assert_close(state["g"], 1 / sigma, atol=1e-5, rtol=1e-5)


def test_data_dependent_init_with_mean_only_batch_norm():
    model = nn.Sequential(
        WeightNormLinear(5, 16, bias=False),
        MeanOnlyBatchNorm(16),
        nn.ReLU(),
        WeightNormLinear(16, 8, bias=False),
        MeanOnlyBatchNorm(8),
    )
    x = torch.randn(128, 5) * 3 - 2
    data_dependent_init_(model, x)
    h = model[:2](x)
    assert_close(h.var(0, unbiased=False), torch.ones(16), atol=1e-4, rtol=0)
    assert_close(h.mean(0), torch.zeros(16), atol=1e-5, rtol=0)
    y = model(x)
    assert_close(y.var(0, unbiased=False), torch.ones(8), atol=1e-4, rtol=0)
    assert_close(y.mean(0), torch.zeros(8), atol=1e-5, rtol=0)


def test_data_dependent_init_warns_without_weight_norm_layers():
    with pytest.warns(UserWarning, match="no WeightNormLinear") as record:
        data_dependent_init_(nn.Linear(3, 2), torch.randn(4, 3))
    assert record[0].filename == __file__  # points at the caller, not at torch's wrapper


def test_data_dependent_init_rejects_a_single_sample():
    with pytest.raises(ValueError, match="at least 2 samples"):
        data_dependent_init_(WeightNormLinear(3, 2), torch.randn(1, 3))


def test_spectral_norm_weight_has_unit_largest_singular_value():
    layer = REPARAMS.create("spectral_norm", 8, 6)
    x = torch.randn(4, 8)
    for _ in range(20):  # one power-iteration step per training forward
        layer(x)
    layer.eval()
    sigma = torch.linalg.matrix_norm(layer.weight.detach(), ord=2)
    assert abs(sigma.item() - 1.0) < 1e-3


def test_extra_repr_shows_shape():
    assert "in_features=5, out_features=3, bias=True" in repr(WeightNormLinear(5, 3))
