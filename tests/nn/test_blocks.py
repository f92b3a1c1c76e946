import math

import pytest
import torch
from torch import nn

from fnnlab.nn import BLOCKS, Dense, Highway, Residual, highway_gate_bias


@pytest.mark.parametrize("name", BLOCKS.names())
def test_every_block_maps_width_to_width_and_backpropagates(name):
    block = BLOCKS.create(name, 6, 6, activation="tanh")
    x = torch.randn(5, 6, requires_grad=True)
    y = block(x)
    assert y.shape == (5, 6)
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize(
    "block",
    [
        lambda: Dense(4, 3, activation="tanh", norm="layer"),
        lambda: Dense(4, 3, activation="maxout", order="linear_act_norm_drop", norm="layer"),
        lambda: Residual(4, 4, activation="tanh", norm="layer", branch_scale=0.3),
        lambda: Residual(4, 4, activation="tanh", norm="layer", hidden_features=2),
        lambda: Highway(4, 4, activation="tanh", gate_bias=-1.0),
    ],
    ids=["dense", "dense_maxout", "residual", "residual_diavolo", "highway"],
)
def test_blocks_pass_gradcheck_in_float64(block):
    module = block().double()
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(module, (x,), eps=1e-6, atol=1e-5)


def test_dense_applies_its_steps_in_the_configured_order():
    block = Dense(3, 3, activation="relu", norm="layer", order="linear_act_norm_drop")
    x = torch.randn(8, 3)
    expected = block.norm(torch.relu(block.linear(x)))
    torch.testing.assert_close(block(x), expected)
    default = Dense(3, 3, activation="relu", norm="layer")
    torch.testing.assert_close(default(x), torch.relu(default.norm(default.linear(x))))


def test_dense_with_maxout_widens_its_linear_map_by_the_pieces():
    block = Dense(5, 4, activation="maxout")
    assert block.linear.out_features == 4 * block.act.pieces
    assert block(torch.randn(2, 5)).shape == (2, 4)


def test_bad_order_is_rejected_with_the_allowed_form():
    with pytest.raises(ValueError, match="'linear' followed by 'norm', 'act' and 'drop'"):
        Dense(3, 3, order="norm_linear_act_drop")


def test_highway_with_closed_gate_carries_input():
    block = Highway(16, 16, activation="relu", gate_bias=-20.0)
    x = torch.randn(32, 16)
    torch.testing.assert_close(block(x), x, atol=1e-6, rtol=0)


def test_highway_gate_bias_starts_mostly_closed():
    block = Highway(64, 64, gate_bias=-2.0)
    t = block.transform_gate(torch.randn(256, 64))
    # sigmoid(-2) = 0.119; the random gate weights spread it but keep it well below 1/2.
    assert 0.05 < t.mean().item() < 0.25


@pytest.mark.parametrize(("blocks", "expected"),
                         [(1, -1.0), (2, -1.0), (8, -math.log(8)), (49, -math.log(49))])
def test_highway_gate_bias_grows_with_depth_as_minus_log_blocks(blocks, expected):
    assert highway_gate_bias(blocks) == pytest.approx(expected)


def test_highway_gate_bias_keeps_a_1_over_e_carry_share_at_any_depth():
    for blocks in (3, 10, 49, 200):
        transform = 1.0 / (1.0 + math.exp(-highway_gate_bias(blocks)))
        # (L / (L + 1))^L falls from 1/2 towards 1/e as L grows.
        assert math.exp(-1) <= (1.0 - transform) ** blocks <= 0.5


@pytest.mark.parametrize("blocks", [0, -3, 2.5, True])
def test_highway_gate_bias_rejects_a_non_positive_or_non_int_count(blocks):
    with pytest.raises(ValueError, match=f"number of blocks >= 1, got {blocks!r}"):
        highway_gate_bias(blocks)


def test_diavolo_residual_branch_narrows_to_hidden_features_and_widens_back():
    block = Residual(8, 8, activation="relu", norm="batch", hidden_features=2)
    assert block.linear1.weight.shape == (2, 8) and block.linear2.weight.shape == (8, 2)
    assert block.norm2.num_features == 2
    assert sum(p.numel() for p in block.parameters()) == 16 + (16 + 2) + 4 + (16 + 8)
    assert block(torch.randn(5, 8)).shape == (5, 8)
    assert "hidden_features=2" in repr(block)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"hidden_features": 9}, "hidden_features must be an int from 1 to features=8, got 9"),
    ({"hidden_features": 0}, "hidden_features must be an int from 1 to features=8, got 0"),
    ({"hidden_features": 4, "branch_layers": 1}, "hidden_features=4 needs branch_layers=2"),
])
def test_bad_hidden_features_are_rejected_with_the_allowed_range(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Residual(8, 8, **kwargs)


def test_residual_branch_scale_multiplies_the_branch():
    torch.manual_seed(1)
    full = Residual(8, 8, activation="tanh", norm="none", branch_scale=1.0)
    scaled = Residual(8, 8, activation="tanh", norm="none", branch_scale=0.25)
    scaled.load_state_dict(full.state_dict())
    x = torch.randn(4, 8)
    torch.testing.assert_close(scaled(x) - x, 0.25 * (full(x) - x))


def test_one_layer_residual_branch_is_x_plus_w_act_norm_x():
    block = Residual(6, 6, activation="relu", norm="layer", branch_layers=1, branch_scale=0.5)
    x = torch.randn(4, 6)
    expected = x + 0.5 * block.linear1(torch.relu(block.norm1(x)))
    torch.testing.assert_close(block(x), expected)
    assert not hasattr(block, "linear2")
    with pytest.raises(ValueError, match="branch_layers must be 1 or 2, got 3"):
        Residual(6, 6, branch_layers=3)


@pytest.mark.parametrize("cls", [Residual, Highway])
def test_width_changing_skip_blocks_are_rejected(cls):
    with pytest.raises(ValueError, match="keeps the width"):
        cls(4, 5)


def test_alpha_dropout_in_a_block_uses_the_blocks_selu_parameters():
    block = Dense(4, 4, activation=lambda: __import__("fnnlab").nn.SELU(alpha=2.0, scale=1.2),
                  dropout=0.1, dropout_kind="alpha_dropout")
    assert block.drop.alpha == pytest.approx(2.0) and block.drop.scale == pytest.approx(1.2)


def test_dropout_rate_outside_unit_interval_is_rejected():
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 1.5"):
        Dense(3, 3, dropout=1.5)
    assert isinstance(Dense(3, 3, dropout=0.0).drop, nn.Identity)
