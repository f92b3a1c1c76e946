"""Tests for fnnlab.nn.init: variances, LSUV, and the SELU initialization trap."""

import math
import warnings

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from fnnlab.nn import (
    INITIALIZERS,
    REPARAMS,
    SELUInitWarning,
    WeightNormLinear,
    check_selu_init,
    initialize_,
    lecun_normal_,
    lsuv_,
)

FAN_IN = 1000


@pytest.mark.parametrize("name", INITIALIZERS.names())
def test_every_initializer_fills_in_place_and_returns_the_weight(name):
    weight = nn.Parameter(torch.zeros(30, 20))
    out = INITIALIZERS.get(name)(weight)
    assert out is weight
    assert weight.grad_fn is None and weight.abs().sum() > 0
    assert abs(weight.mean().item()) < 0.05


@pytest.mark.parametrize("name", INITIALIZERS.names())
def test_every_initializer_rejects_a_vector(name):
    with pytest.raises(ValueError, match="out_features, in_features"):
        INITIALIZERS.get(name)(torch.zeros(5))


def test_unknown_initializer_lists_known_initializers():
    with pytest.raises(ValueError, match="Known initializers"):
        INITIALIZERS.get("lecun_norm")


@pytest.mark.parametrize(
    ("name", "variance"),
    [
        ("lecun_normal", 1 / FAN_IN),
        ("he_normal", 2 / FAN_IN),
        ("he_uniform", 2 / FAN_IN),
        ("glorot_normal", 2 / (FAN_IN + 500)),
        ("glorot_uniform", 2 / (FAN_IN + 500)),
        ("orthogonal", 1 / FAN_IN),
        ("default", 1 / (3 * FAN_IN)),
    ],
)
def test_initializer_variance_matches_its_formula_within_3_percent(name, variance):
    weight = INITIALIZERS.get(name)(torch.empty(500, FAN_IN))  # 5e5 draws: sd of var < 0.5%
    assert weight.var().item() == pytest.approx(variance, rel=0.03)


def test_lecun_normal_is_truncated_at_two_sd_with_variance_exactly_one_over_fan_in():
    weight = lecun_normal_(torch.empty(1000, FAN_IN))
    assert weight.var().item() == pytest.approx(1 / FAN_IN, rel=0.03)
    sd = math.sqrt(1 / FAN_IN) / 0.87962566103423978
    assert weight.abs().max().item() <= 2 * sd + 1e-7
    # Without the correction torch's trunc_normal_ loses ~23% of the variance.
    plain = nn.init.trunc_normal_(
        torch.empty(1000, FAN_IN), 0, FAN_IN**-0.5, -2 * FAN_IN**-0.5, 2 * FAN_IN**-0.5
    )
    assert plain.var().item() * FAN_IN == pytest.approx(0.774, abs=0.01)


def test_lecun_normal_draws_the_values_of_redrawing_over_the_whole_matrix():
    # The fast path redraws only the positions outside +-2 sd; the values must be those
    # of the plain rejection loop (same seed, same draws), contiguous or not.
    def whole_matrix(weight, std):
        weight.normal_()
        outside = weight.abs() > 2.0
        while outside.any():
            weight[outside] = torch.randn(int(outside.sum()))
            outside = weight.abs() > 2.0
        return weight.mul_(std)

    for shape in ((64, FAN_IN), (300, 7)):
        std = math.sqrt(1 / shape[1]) / 0.87962566103423978
        torch.manual_seed(5)
        want = whole_matrix(torch.empty(shape), std)
        torch.manual_seed(5)
        assert torch.equal(lecun_normal_(torch.empty(shape)), want)
    torch.manual_seed(5)
    transposed = lecun_normal_(torch.full((FAN_IN, 64), math.nan).T)  # non-contiguous
    assert transposed.abs().max().item() <= 2 * math.sqrt(1 / FAN_IN) / 0.8796256 + 1e-7


def test_aliases_point_to_the_same_initializer():
    assert INITIALIZERS.get("kaiming") is INITIALIZERS.get("he_normal")
    assert INITIALIZERS.get("xavier") is INITIALIZERS.get("glorot_uniform")
    assert INITIALIZERS.get("kaiming_uniform") is INITIALIZERS.get("he_uniform")


def test_initialize_sets_linear_weights_zeros_biases_and_skips_weight_norm():
    model = nn.Sequential(
        nn.Linear(50, 40), nn.LayerNorm(40), WeightNormLinear(40, 30), nn.Linear(30, 2)
    )
    wn_state = {k: v.clone() for k, v in model[2].state_dict().items()}
    torch.manual_seed(3)
    initialize_(model, "orthogonal")
    assert_close(model[0].weight @ model[0].weight.T, torch.eye(40), atol=1e-5, rtol=0)
    assert_close(model[0].bias, torch.zeros(40))
    assert_close(model[3].bias, torch.zeros(2))
    assert_close(model[1].weight, torch.ones(40))  # 1-D weights are not linear-like
    for key, value in model[2].state_dict().items():
        assert_close(value, wn_state[key])


def test_initialize_reaches_a_parametrized_weight():
    layer = REPARAMS.create("spectral_norm", 6, 4)
    original = layer.parametrizations.weight.original
    initialize_(layer, lambda w: w.fill_(0.5))
    assert_close(original, torch.full((4, 6), 0.5))


def test_initialize_accepts_a_callable():
    layer = nn.Linear(3, 2)
    initialize_(layer, nn.init.ones_)
    assert_close(layer.weight, torch.ones(2, 3))


def _relu_stack(widths=(20, 64, 64, 64, 10)) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _linear_outputs(model: nn.Module, x: torch.Tensor, kinds=(nn.Linear,)) -> list[torch.Tensor]:
    outs: list[torch.Tensor] = []
    handles = [
        m.register_forward_hook(lambda _m, _a, o: outs.append(o.detach()))
        for m in model.modules()
        if isinstance(m, kinds)
    ]
    model(x)
    for h in handles:
        h.remove()
    return outs


def test_lsuv_gives_unit_output_variance_in_every_layer():
    model = _relu_stack()
    x = torch.randn(256, 20) * 5 + 1
    lsuv_(model, x, tol=0.01)
    outs = _linear_outputs(model, x)
    assert len(outs) == 4
    for out in outs:
        assert abs(out.var(unbiased=False).item() - 1.0) < 0.01


def test_lsuv_rescales_g_of_weight_norm_layers():
    model = nn.Sequential(
        nn.Linear(10, 32), nn.Tanh(), WeightNormLinear(32, 32), nn.Tanh(), nn.Linear(32, 4)
    )
    x = torch.randn(128, 10) * 3
    lsuv_(model, x, tol=0.01)
    for out in _linear_outputs(model, x, kinds=(nn.Linear, WeightNormLinear)):
        assert abs(out.var(unbiased=False).item() - 1.0) < 0.01


def test_lsuv_warns_when_a_layer_cannot_reach_the_tolerance():
    model = nn.Sequential(REPARAMS.create("spectral_norm", 10, 10))  # scale-invariant
    with pytest.warns(UserWarning, match="not 1 \\+- 0.01") as record:
        lsuv_(model, torch.randn(64, 10) * 10, tol=0.01, max_iter=2)
    assert record[0].filename == __file__


def _selu_net_moments(init, depth: int = 64, width: int = 256) -> list[tuple[float, float]]:
    """(mean, variance) of each layer's activations of a SELU net on N(0, 1) inputs."""
    torch.manual_seed(0)
    x = torch.randn(256, width)
    moments = []
    with torch.no_grad():
        for _ in range(depth):
            x = torch.selu(x @ init(torch.empty(width, width)).T)
            moments.append((x.mean().item(), x.var().item()))
    return moments


def test_deep_selu_net_keeps_unit_variance_with_lecun_normal_but_not_with_gain_3_4():
    assert nn.init.calculate_gain("selu") == 0.75  # the trap documented in fnnlab.nn.init
    # Measured (seed 0): variance stays in [0.95, 1.04], |mean| < 0.03, over 64 layers.
    for mean, var in _selu_net_moments(lecun_normal_):
        assert abs(mean) < 0.1 and abs(var - 1.0) < 0.15, (mean, var)

    torch_selu = _selu_net_moments(lambda w: nn.init.kaiming_normal_(w, nonlinearity="selu"))
    # Measured: variance 0.64 after one layer, ~0.03 after 64 (the fixed point moved).
    assert torch_selu[-1][1] < 0.2
    assert all(var < 0.7 for _, var in torch_selu)


def test_check_selu_init_warns_for_anything_but_lecun_normal():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_selu_init("lecun_normal")
        check_selu_init("lecun")
        check_selu_init(lecun_normal_)
    for init in ("he_normal", "default", nn.init.xavier_normal_):
        with pytest.warns(SELUInitWarning, match="calculate_gain\\('selu'\\) = 3/4"):
            check_selu_init(init)


def test_check_selu_init_points_at_the_caller():
    def build():
        check_selu_init("he", stacklevel=3)

    with pytest.warns(SELUInitWarning) as record:
        build()
    assert record[0].filename == __file__
    assert record[0].lineno == test_check_selu_init_points_at_the_caller.__code__.co_firstlineno + 5


def test_check_selu_init_rejects_unknown_names():
    with pytest.raises(ValueError, match="Known initializers"):
        check_selu_init("lecun_uniform")
