"""Tests for fnnlab.nn.normalization: references, defining properties, gradients."""

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from fnnlab.nn import NORMS, BatchRenorm, MeanOnlyBatchNorm

F = 6


def _batches(n: int = 4, size: int = 16) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randn(size, F, generator=g) * 3.0 + 2.0 for _ in range(n)]


@pytest.mark.parametrize("name", NORMS.names())
def test_every_norm_maps_n_by_f_to_n_by_f_in_train_and_eval(name):
    norm = NORMS.create(name, F)
    x = torch.randn(8, F)
    assert norm(x).shape == (8, F)
    norm.eval()
    assert norm(x).shape == (8, F)


@pytest.mark.parametrize("name", NORMS.names())
def test_every_norm_create_gives_a_fresh_module(name):
    a, b = NORMS.create(name, F), NORMS.create(name, F)
    assert a is not b
    assert all(p is not q for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_unknown_norm_lists_known_norms():
    with pytest.raises(ValueError, match="Known norms"):
        NORMS.create("batchnorm2", F)


def test_batch_norm_matches_batchnorm1d_in_train_and_eval():
    ours, ref = NORMS.create("batch", F), nn.BatchNorm1d(F)
    for x in _batches():
        assert_close(ours(x), ref(x), atol=1e-6, rtol=0)
    ours.eval(), ref.eval()
    x = torch.randn(5, F)
    assert_close(ours(x), ref(x), atol=1e-6, rtol=0)


def test_batch_norm_eval_output_uses_running_statistics():
    norm = NORMS.create("batch", F)
    for x in _batches():
        norm(x)
    norm.eval()
    x = torch.randn(5, F)
    expected = (x - norm.running_mean) / torch.sqrt(norm.running_var + norm.eps)
    assert_close(norm(x), expected * norm.weight + norm.bias, atol=1e-6, rtol=0)


def test_batch_renorm_with_unit_limits_equals_batch_norm():
    renorm = BatchRenorm(F, momentum=0.1, r_max=1.0, d_max=0.0)
    ref = nn.BatchNorm1d(F, momentum=0.1)
    with torch.no_grad():
        for module in (renorm, ref):
            module.weight.copy_(torch.linspace(0.5, 2.0, F))
            module.bias.copy_(torch.linspace(-1.0, 1.0, F))
    for x in _batches():
        assert_close(renorm(x), ref(x), atol=1e-6, rtol=0)
        assert_close(renorm.running_mean, ref.running_mean, atol=1e-6, rtol=0)
        assert_close(renorm.running_var, ref.running_var, atol=1e-6, rtol=0)
    assert int(renorm.num_batches_tracked) == int(ref.num_batches_tracked) == 4
    renorm.eval(), ref.eval()
    x = torch.randn(5, F)
    assert_close(renorm(x), ref(x), atol=1e-6, rtol=0)


def test_batch_renorm_corrects_towards_shifted_running_mean():
    renorm = BatchRenorm(
        F, momentum=0.0, r_max=3.0, d_max=5.0, relax_start=0, r_max_end=0, d_max_end=0
    )
    ref = nn.BatchNorm1d(F)
    with torch.no_grad():
        renorm.running_mean.fill_(1.0)
    x = torch.randn(32, F)
    y, y_bn = renorm(x), ref(x)
    # Unclipped, r and d turn the batch statistics into the running ones:
    # y = (x - mu) / sigma with mu = 1, sigma = sqrt(1 + eps).
    assert (y - y_bn).abs().max() > 0.5
    assert_close(y, (x - 1.0) / (1.0 + renorm.eps) ** 0.5, atol=1e-5, rtol=0)


def test_batch_renorm_clips_r_and_d_at_their_limits():
    renorm = BatchRenorm(
        F, momentum=0.0, r_max=2.0, d_max=0.5, relax_start=0, r_max_end=0, d_max_end=0
    )
    with torch.no_grad():
        renorm.running_mean.fill_(10.0)  # d = (mu_B - 10) / sigma << -0.5
        renorm.running_var.fill_(100.0)  # r = sigma_B / 10 < 1 / 2
    x = torch.randn(64, F)
    mean_b, std_b = x.mean(0), torch.sqrt(x.var(0, unbiased=False) + renorm.eps)
    assert_close(renorm(x), (x - mean_b) / std_b * 0.5 - 0.5, atol=1e-6, rtol=0)


def test_batch_renorm_gradient_treats_r_and_d_as_constants():
    renorm = BatchRenorm(F, momentum=0.0, relax_start=0, r_max_end=0, d_max_end=0)
    with torch.no_grad():
        renorm.running_mean.fill_(0.3)
        renorm.running_var.fill_(1.7)
    x = torch.randn(16, F, requires_grad=True)
    w = torch.randn(16, F)
    (renorm(x) * w).sum().backward()
    # Reference: batch norm's graph times constant r, plus constant d.
    x2 = x.detach().clone().requires_grad_(True)
    mean_b = x2.mean(0)
    std_b = torch.sqrt(x2.var(0, unbiased=False) + renorm.eps)
    r = (std_b / torch.sqrt(torch.tensor(1.7) + renorm.eps)).detach()
    ((x2 - mean_b) / std_b * r * w).sum().backward()
    assert_close(x.grad, x2.grad, atol=1e-6, rtol=0)


def test_batch_renorm_warmup_schedule_follows_the_paper():
    renorm = BatchRenorm(F)  # paper: hold 5000, r_max = 3 at 40k, d_max = 5 at 25k
    assert renorm.limits(0) == (1.0, 0.0)
    assert renorm.limits(5000) == (1.0, 0.0)
    r_max, d_max = renorm.limits(15000)
    assert r_max == pytest.approx(1.0 + 2.0 * 10000 / 35000)
    assert d_max == pytest.approx(5.0 * 10000 / 20000)
    assert renorm.limits(25000)[1] == pytest.approx(5.0)
    assert renorm.limits(10**6) == (3.0, 5.0)
    fixed = BatchRenorm(F, r_max=2.0, d_max=1.0, relax_start=0, r_max_end=0, d_max_end=0)
    assert fixed.limits(0) == (2.0, 1.0)


def test_batch_renorm_counts_training_batches_for_the_schedule():
    renorm = BatchRenorm(F, relax_start=1, r_max_end=3, d_max_end=3)
    for x in _batches(3):
        renorm(x)
    assert int(renorm.num_batches_tracked) == 3
    assert renorm.limits() == (3.0, 5.0)


def test_batch_renorm_eval_uses_running_statistics():
    renorm = BatchRenorm(F, momentum=0.5)
    for x in _batches():
        renorm(x)
    renorm.eval()
    x = torch.randn(3, F)
    expected = (x - renorm.running_mean) / torch.sqrt(renorm.running_var + renorm.eps)
    assert_close(renorm(x), expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"r_max": 0.5}, "r_max must be >= 1"),
        ({"d_max": -1.0}, "d_max must be >= 0"),
        ({"momentum": 1.5}, "momentum"),
        ({"relax_start": -1}, "relax_start"),
    ],
)
def test_batch_renorm_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BatchRenorm(F, **kwargs)


def test_momentum_none_is_a_type_error():
    with pytest.raises(TypeError, match="momentum must be a float"):
        MeanOnlyBatchNorm(F, momentum=None)


def test_batch_renorm_needs_two_samples_in_training():
    with pytest.raises(ValueError, match="at least 2 samples"):
        BatchRenorm(F)(torch.randn(1, F))


def test_batch_renorm_gradcheck_float64():
    # momentum=0 freezes the running statistics across gradcheck's many forward
    # passes; they are chosen so r and d are clipped (locally constant), where the
    # stop-gradient is the true derivative.
    renorm = BatchRenorm(
        3, momentum=0.0, r_max=1.5, d_max=0.5, relax_start=0, r_max_end=0, d_max_end=0
    ).double()
    with torch.no_grad():
        renorm.running_mean.fill_(5.0)
        renorm.running_var.fill_(50.0)
        renorm.weight.copy_(torch.tensor([0.5, 1.0, 2.0]))
    x = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(renorm, (x,))
    renorm.eval()
    assert torch.autograd.gradcheck(renorm, (x,))


def test_layer_norm_matches_torch_layernorm():
    ours, ref = NORMS.create("layer", F), nn.LayerNorm(F)
    x = torch.randn(7, F) * 4 + 1
    assert_close(ours(x), ref(x), atol=1e-6, rtol=0)


def test_group_norm_default_groups_divide_features():
    for features, groups in [(1, 1), (6, 3), (7, 1), (16, 8), (64, 32), (256, 32), (100, 25)]:
        norm = NORMS.create("group", features)
        assert isinstance(norm, nn.GroupNorm)
        assert norm.num_groups == groups


def test_group_norm_normalizes_each_group_of_a_sample():
    norm = NORMS.create("group", 8, num_groups=2)
    x = torch.randn(5, 8) * 3 + 2
    y = norm(x).view(5, 2, 4)
    assert_close(y.mean(-1), torch.zeros(5, 2), atol=1e-5, rtol=0)
    assert_close(y.var(-1, unbiased=False), torch.ones(5, 2), atol=1e-3, rtol=0)


def test_group_norm_rejects_groups_that_do_not_divide():
    with pytest.raises(ValueError, match="must divide num_features=6"):
        NORMS.create("group", 6, num_groups=4)


def test_mean_only_batch_norm_centres_in_training_without_scaling():
    norm = MeanOnlyBatchNorm(F)
    with torch.no_grad():
        norm.bias.fill_(0.25)
    x = torch.randn(32, F) * 3 + 2
    y = norm(x)
    assert_close(y.mean(0), torch.full((F,), 0.25), atol=1e-6, rtol=0)
    assert_close(y.std(0), x.std(0), atol=1e-5, rtol=0)


def test_mean_only_batch_norm_eval_uses_running_mean():
    norm = MeanOnlyBatchNorm(F, momentum=0.1)
    expected = torch.zeros(F)
    for x in _batches():
        norm(x)
        expected = 0.9 * expected + 0.1 * x.mean(0)
    assert_close(norm.running_mean, expected, atol=1e-6, rtol=0)
    norm.eval()
    x = torch.randn(3, F)
    assert_close(norm(x), x - expected, atol=1e-6, rtol=0)
    assert_close(norm(x[:1]), (x - expected)[:1], atol=1e-6, rtol=0)  # one sample is fine


def test_mean_only_batch_norm_gradcheck_float64():
    norm = MeanOnlyBatchNorm(3).double()
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(norm, (x,))
    norm.eval()
    assert torch.autograd.gradcheck(norm, (x,))


def test_reset_parameters_restores_the_initial_state():
    for norm in (BatchRenorm(F, momentum=0.5), MeanOnlyBatchNorm(F, momentum=0.5)):
        for x in _batches(2):
            norm(x).sum().backward()
        with torch.no_grad():
            for p in norm.parameters():
                p.add_(1.0)
        norm.reset_parameters()
        assert_close(norm.running_mean, torch.zeros(F))
        assert_close(norm.bias, torch.zeros(F))


def test_extra_repr_shows_hyperparameters():
    assert "r_max=2.0" in repr(BatchRenorm(F, r_max=2.0))
    assert "momentum=0.3" in repr(MeanOnlyBatchNorm(F, momentum=0.3))


def test_none_is_identity_and_accepts_num_features():
    norm = NORMS.create("none", F)
    x = torch.randn(4, F)
    assert norm(x) is x
    assert list(norm.parameters()) == []
