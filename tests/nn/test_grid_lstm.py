"""Tests for fnnlab.nn.grid_lstm: the Grid LSTM block, its networks and the FNN block."""

import pytest
import torch

from fnnlab.nn import GridLSTM, GridLSTMBlock, GridLSTMNetwork, GridLSTMStack
from fnnlab.nn.blocks import BLOCKS


def _inputs(ndim, batch=5, d=4, dtype=torch.float32, requires_grad=False):
    h = [torch.randn(batch, d, dtype=dtype, requires_grad=requires_grad) for _ in range(ndim)]
    m = [torch.randn(batch, d, dtype=dtype, requires_grad=requires_grad) for _ in range(ndim)]
    return h, m


def _lstm_by_hand(block, i, hidden, memory):
    """The paper's Eq. 1 for dimension i, written out from the block's weights."""
    z = hidden @ block.linears[i].weight.T + block.bias[i]
    g_in, g_forget, g_out, cell = z.chunk(4, dim=-1)
    m = torch.sigmoid(g_forget) * memory + torch.sigmoid(g_in) * torch.tanh(cell)
    return torch.tanh(torch.sigmoid(g_out) * m), m


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_block_shapes_and_every_parameter_gets_a_gradient(ndim):
    block = GridLSTM(4, ndim)
    h, m = _inputs(ndim)
    h_new, m_new = block(h, m)
    assert len(h_new) == len(m_new) == ndim
    assert all(t.shape == (5, 4) for t in [*h_new, *m_new])
    sum(t.sum() for t in [*h_new, *m_new]).backward()
    for name, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_block_matches_the_paper_equations(ndim):
    block = GridLSTM(4, ndim)
    h, m = _inputs(ndim)
    h_new, m_new = block(h, m)
    hidden = torch.cat(h, dim=-1)
    for i in range(ndim):
        h_ref, m_ref = _lstm_by_hand(block, i, hidden, m[i])
        torch.testing.assert_close(h_new[i], h_ref, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(m_new[i], m_ref, rtol=1e-6, atol=1e-6)


def test_priority_dimension_sees_the_new_hidden_vectors_of_the_others():
    block = GridLSTM(4, 3, priority=(0,))
    h, m = _inputs(3)
    h_new, m_new = block(h, m)
    first = torch.cat(h, dim=-1)
    h1, _ = _lstm_by_hand(block, 1, first, m[1])
    h2, _ = _lstm_by_hand(block, 2, first, m[2])
    h0, m0 = _lstm_by_hand(block, 0, torch.cat([h[0], h1, h2], dim=-1), m[0])
    torch.testing.assert_close(h_new[0], h0, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(m_new[0], m0, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(h_new[1], h1, rtol=1e-6, atol=1e-6)
    # Without priority, dimension 0 is computed from the old H and comes out different.
    plain = GridLSTM(4, 3)
    plain.load_state_dict(block.state_dict())
    assert (plain(h, m)[0][0] - h_new[0]).abs().max() > 1e-3


def test_chained_priorities_are_computed_in_the_given_order():
    block = GridLSTM(4, 2, priority=(1, 0))
    h, m = _inputs(2)
    h_new, _ = block(h, m)
    h1, _ = _lstm_by_hand(block, 1, torch.cat(h, dim=-1), m[1])
    h0, _ = _lstm_by_hand(block, 0, torch.cat([h[0], h1], dim=-1), m[0])
    torch.testing.assert_close(h_new[1], h1, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(h_new[0], h0, rtol=1e-6, atol=1e-6)


def test_non_lstm_dimension_is_a_plain_layer_and_passes_its_memory_through():
    block = GridLSTM(4, 2, non_lstm=(1,), activation="relu")
    h, m = _inputs(2)
    h_new, m_new = block(h, m)
    hidden = torch.cat(h, dim=-1)
    expected = torch.relu(hidden @ block.linears[1].weight.T + block.bias[1])
    torch.testing.assert_close(h_new[1], expected)
    assert m_new[1] is m[1]
    assert block.linears[1].weight.shape == (4, 8)
    # The LSTM dimension still gets the relu as its cell input nonlinearity, and trains.
    sum(t.sum() for t in h_new).backward()
    assert block.linears[1].weight.grad.abs().sum() > 0


def test_missing_memory_means_zero_memory():
    block = GridLSTM(4, 2)
    h, m = _inputs(2)
    zeros = [torch.zeros_like(t) for t in m]
    for a, b in zip(block(h, [None, None])[0], block(h, zeros)[0], strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    "ndim, kwargs",
    [(1, {}), (2, {"priority": (1,)}), (3, {"non_lstm": (2,), "priority": (0,)})],
)
def test_block_passes_gradcheck_in_float64(ndim, kwargs):
    block = GridLSTM(3, ndim, forget_bias=1.0, **kwargs).double()
    h, m = _inputs(ndim, batch=2, d=3, dtype=torch.float64, requires_grad=True)

    def f(*tensors):
        out_h, out_m = block(list(tensors[:ndim]), list(tensors[ndim:]))
        return tuple(out_h) + tuple(out_m)

    assert torch.autograd.gradcheck(f, (*h, *m), eps=1e-6, atol=1e-5)


def test_stack_and_network_pass_gradcheck_in_float64():
    stack = GridLSTMStack(3, 2, 3, depth=3).double()
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(stack, (x,), eps=1e-6, atol=1e-5)
    net = GridLSTMNetwork(3, 2, 3, depth=2).double()
    xs = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(net, (xs,), eps=1e-6, atol=1e-5)


def test_tied_weights_count_one_block_untied_count_one_per_layer():
    d, depth = 6, 5
    block = 4 * d * d + 4 * d  # W: (4d, d), gate biases 4d
    ends = (3 * 2 * d + 2 * d) + (d * 2 + 2)  # input projection to (h, m), head

    def count(module):
        return sum(p.numel() for p in module.parameters())

    assert count(GridLSTM(d, 1)) == block
    assert count(GridLSTMStack(3, 2, d, depth, tied=False)) == ends + depth * block
    assert count(GridLSTMStack(3, 2, d, depth, tied=True)) == ends + block
    tied = GridLSTMStack(3, 2, d, depth, tied=True)
    assert all(b is tied.blocks[0] for b in tied.layers())

    block_2d = 2 * (4 * d * 2 * d + 4 * d)  # two dimensions, each sees H of 2d features
    assert count(GridLSTMNetwork(3, 2, d, depth)) == ends + depth * block_2d
    assert count(GridLSTMNetwork(3, 2, d, depth, tied_depth=True)) == ends + block_2d


def _layer_statistics(stack, x):
    """Per-layer weight-gradient norms and state spreads of a 1-D stack."""
    h, m = stack.input(x).chunk(2, dim=-1)
    spread = []
    for block in stack.layers():
        (h,), (m,) = block([h], [m])
        spread.append(torch.cat([h, m], dim=-1).std().item())
    stack.head(h).sum().backward()
    grads = torch.stack([b.linears[0].weight.grad.norm() for b in stack.layers()])
    return grads, torch.tensor(spread)


def test_depth_50_stack_keeps_gradients_and_signal_within_an_order_of_magnitude():
    # Measured at init, batch 256, d = 32: max/min per-layer gradient norm is ~2, state
    # spread 0.5 at every depth (Note [Grid LSTM initialization]); a factor 10 is the claim.
    stack = GridLSTMStack(16, 1, 32, depth=50)
    grads, spread = _layer_statistics(stack, torch.randn(256, 16))
    assert grads.max() / grads.min() < 10
    assert grads.min() > 1e-2  # not uniformly vanished either
    assert spread.max() / spread.min() < 10


def test_depth_50_stack_with_forget_bias_zero_loses_the_signal():
    # The counterpart: without the forget-gate bias the memory decays by ~1/2 per layer.
    stack = GridLSTMStack(16, 1, 32, depth=50, forget_bias=0.0)
    grads, spread = _layer_statistics(stack, torch.randn(256, 16))
    assert spread[-1] < 1e-3 * spread[0]


def test_network_is_causal_along_time():
    net = GridLSTMNetwork(3, 2, 5, depth=2)
    x = torch.randn(4, 6, 3)
    y = net(x)
    assert y.shape == (4, 6, 2)
    x2 = x.clone()
    x2[:, 4:] = torch.randn(4, 2, 3)
    y2 = net(x2)
    torch.testing.assert_close(y[:, :4], y2[:, :4])
    assert (y[:, 4:] - y2[:, 4:]).abs().max() > 1e-4


def test_grid_lstm_block_is_registered_and_carries_h_and_m_in_one_tensor():
    block = BLOCKS.create("grid_lstm", 8, 8, activation="tanh")
    assert isinstance(block, GridLSTMBlock)
    x = torch.randn(5, 8)
    h, m = x[:, :4], x[:, 4:]
    h_ref, m_ref = _lstm_by_hand(block.cell, 0, h, m)
    torch.testing.assert_close(block(x), torch.cat([h_ref, m_ref], dim=-1))
    assert sum(p.numel() for p in block.parameters()) == 8 * 8 + 2 * 8


def test_grid_lstm_block_reset_restores_its_documented_init_after_linear_resets():
    torch.manual_seed(0)
    block = GridLSTMBlock(256, 256)
    linear = block.cell.linears[0]
    torch.nn.init.zeros_(linear.weight)
    block.cell.bias[0].data.zero_()
    block.reset_parameters()
    assert block.initializes_itself
    assert linear.weight.std().item() == pytest.approx(3**0.5 / 128**0.5, rel=0.02)
    torch.testing.assert_close(block.cell.bias[0][128:256], torch.full((128,), 3.0))


def test_grid_lstm_block_takes_the_common_block_options():
    block = BLOCKS.create(
        "grid_lstm", 8, 8, activation="tanh", norm="layer", dropout=0.2, reparam="weight_norm"
    )
    block.train()
    out = block(torch.randn(16, 8))
    assert out.shape == (16, 8) and torch.isfinite(out).all()


@pytest.mark.parametrize("shape", [(8, 6), (7, 7)])
def test_grid_lstm_block_needs_an_even_constant_width(shape):
    with pytest.raises(ValueError, match="must be even"):
        BLOCKS.create("grid_lstm", *shape, activation="tanh")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ndim": 4}, "ndim must be 1, 2 or 3"),
        ({"ndim": 2, "non_lstm": (2,)}, r"non_lstm holds dimension indices in \[0, 2\)"),
        ({"ndim": 2, "priority": (1, 1)}, "lists a dimension twice"),
        ({"hidden_size": 0}, "hidden_size must be a positive int"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ],
)
def test_bad_arguments_raise_value_errors(kwargs, match):
    kwargs = {"hidden_size": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        GridLSTM(**kwargs)


def test_wrong_argument_types_and_inputs_raise():
    with pytest.raises(TypeError, match="sequence of dimension indices"):
        GridLSTM(4, 2, priority=1)
    h, m = _inputs(2)
    with pytest.raises(ValueError, match="takes 2 hidden and 2 memory vectors, got 1 and 2"):
        GridLSTM(4, 2)(h[:1], m)
    with pytest.raises(ValueError, match=r"takes \(batch, time, features\)"):
        GridLSTMNetwork(3, 2, 4, 1)(torch.randn(4, 3))
    with pytest.raises(ValueError, match="priority must be 'depth', 'time' or None"):
        GridLSTMNetwork(3, 2, 4, 1, priority="width")
