import pytest
import torch
from torch import nn

from fnnlab.diagnostics import SignalCallback, signal_propagation
from fnnlab.models import FNNSpec, build
from fnnlab.training import fit


def _relu_net(depth=3, width=4):
    model = build(FNNSpec(width, 1, depth=depth, width=width, method="msra"))
    with torch.no_grad():
        for block in model.hidden:
            block.linear.weight.copy_(torch.eye(width))
            block.linear.bias.zero_()
    return model


def test_identity_relu_net_passes_positive_input_through_unchanged():
    model = _relu_net()
    x = torch.rand(64, 4) + 0.5  # positive: every ReLU is in its linear part
    table = signal_propagation(model, x)
    assert list(table["layer"]) == [0, 1, 2]
    torch.testing.assert_close(torch.tensor(table["mean"].to_numpy()),
                               torch.full((3,), float(x.mean()), dtype=torch.float64),
                               rtol=1e-6, atol=1e-6)
    assert table["var"].to_numpy() == pytest.approx(float(x.var(unbiased=False)), rel=1e-5)
    assert (table["saturated_fraction"] == 0).all() and (table["dead_fraction"] == 0).all()


def test_linear_net_with_hand_set_weights_scales_mean_by_two_and_variance_by_four():
    model = build(FNNSpec(2, 1, depth=3, width=2, method="msra", activation="identity"))
    with torch.no_grad():
        for block in model.hidden:
            block.linear.weight.copy_(2 * torch.eye(2))
            block.linear.bias.zero_()
    x = torch.randn(100, 2)
    table = signal_propagation(model, x)
    m, v = float(x.mean()), float(x.var(unbiased=False))
    assert table["mean"].to_numpy() == pytest.approx([2 * m, 4 * m, 8 * m], rel=1e-5)
    assert table["var"].to_numpy() == pytest.approx([4 * v, 16 * v, 64 * v], rel=1e-5)
    # No elementwise activation to saturate: reported as missing, not as 0.
    assert table["dead_fraction"].isna().all()


def test_hand_set_negative_bias_kills_exactly_one_unit_in_four():
    model = _relu_net()
    with torch.no_grad():
        model.hidden[0].linear.bias.copy_(torch.tensor([0.0, 0.0, -100.0, 0.0]))
    x = torch.rand(64, 4) + 0.5
    table = signal_propagation(model, x)
    # Unit 2 is 0 on every sample in layer 0, and stays 0 through the identity layers.
    assert table["dead_fraction"].tolist() == [0.25, 0.25, 0.25]
    assert table["saturated_fraction"].tolist() == [0.25, 0.25, 0.25]


def test_grad_norm_matches_autograd_of_the_likelihood_loss():
    model = build(FNNSpec(5, 3, depth=3, width=8, method="batchnorm"))
    x, y = torch.randn(32, 5), torch.randint(0, 3, (32,))
    table = signal_propagation(model, x, y)
    model.train()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    expected = [float(block.linear.weight.grad.norm()) for block in model.hidden]
    assert table["grad_norm"].to_numpy() == pytest.approx(expected, rel=1e-4)


def test_probe_leaves_weights_buffers_grads_and_mode_unchanged():
    model = build(FNNSpec(5, 2, depth=4, width=8, method="batchnorm")).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    signal_propagation(model, torch.randn(16, 5) + 3.0, mode="train")
    assert not model.training
    assert all(p.grad is None for p in model.parameters())
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)


def test_selu_net_keeps_every_layer_near_mean_zero_variance_one():
    # Klambauer et al. 2017: with LeCun-normal init the (0, 1) fixed point is attracting.
    model = build(FNNSpec(64, 1, depth=64, width=256, method="snn"))
    table = signal_propagation(model, torch.randn(256, 64))
    assert table["mean"].abs().max() < 0.15
    assert table["var"].between(0.8, 1.2).all()


def test_signal_callback_logs_every_k_epochs_including_epoch_zero():
    model = build(FNNSpec(4, 2, depth=3, width=8, method="snn"))
    x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    callback = SignalCallback(x[:32], every=2)
    fit(model, (x, y), epochs=4, lr=0.01, callbacks=[callback], progress=False)
    history = callback.history
    assert sorted(history["epoch"].unique()) == [0, 2, 4]
    assert len(history) == 3 * 3 and {"mean", "var", "grad_norm"} <= set(history.columns)


def test_bad_arguments_raise_clear_errors():
    model = build(FNNSpec(4, 2, depth=2, width=8, method="snn"))
    with pytest.raises(ValueError, match="mode must be one of"):
        signal_propagation(model, torch.randn(8, 4), mode="test")
    with pytest.raises(TypeError, match="'hidden' list of blocks"):
        signal_propagation(nn.Linear(4, 2), torch.randn(8, 4))
    with pytest.raises(ValueError, match="every must be >= 1"):
        SignalCallback(torch.randn(8, 4), every=0)
