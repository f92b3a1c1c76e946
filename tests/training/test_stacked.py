"""fit_many: stacked training equals K separate fit calls.

Reference: member k of ``fit_many`` is compared with ``torch.manual_seed(seed_k);
fit(build(spec_k), ..., seed=seed_k)``. Without dropout the final weights (the whole
state_dict, batch-norm running statistics included) must agree to float32 tolerance:
``assert_close`` with rtol=1e-4, atol=1e-5 after a few epochs (batched and single
matrix multiplies round differently, about 1e-7 per step). With dropout the masks
differ by design, so loss curves are compared in distribution (see the test).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy import stats

import fnnlab as fl
from fnnlab.models import METHODS
from fnnlab.training import OPTIMIZERS, SCHEDULES, fit_many
from fnnlab.training.stacked import StackedOptimizer, member_bytes
from fnnlab.training.stacked.optim import rule_of

RTOL, ATOL = 1e-4, 1e-5


def _data(n=160, f=6, seed=0, classes=2):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, f, generator=g)
    y = ((x[:, 0] + 0.5 * x[:, 1]) > 0).long() if classes == 2 else \
        torch.bucketize(x[:, 0], torch.tensor([-0.5, 0.5]))
    return x, y


TRAIN, VALID = _data(), _data(n=60, seed=1)


def _spec(method="msra", **kw):
    kw = {"depth": 3, "width": 8, "dropout": 0.0, **kw}
    return fl.FNNSpec(in_features=6, out_features=2, method=method, **kw)


def _reference(spec, seed, train=TRAIN, valid=VALID, **kw):
    torch.manual_seed(seed)
    return fl.fit(fl.build(spec), train, valid, seed=seed, progress=False, **kw)


def _assert_same(result, reference):
    got, want = result.model.state_dict(), reference.model.state_dict()
    assert got.keys() == want.keys()
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=RTOL, atol=ATOL, msg=key)
    assert list(result.history.columns) == list(reference.history.columns)
    np.testing.assert_allclose(result.history["lr"], reference.history["lr"], rtol=1e-12)
    cols = [c for c in reference.history.columns if c.endswith("loss")]
    np.testing.assert_allclose(result.history[cols], reference.history[cols], rtol=1e-4)
    assert result.best_epoch == reference.best_epoch
    assert result.stop_reason == reference.stop_reason
    for key, value in reference.best_state.items():
        torch.testing.assert_close(result.best_state[key], value, rtol=RTOL, atol=ATOL)


def _check_many(specs, seeds, **kw):
    per = {k: v for k, v in kw.items() if isinstance(v, list)}
    results = fit_many(specs, TRAIN, VALID, seed=seeds, progress=False, **kw)
    assert len(results) == len(specs)
    for i, (spec, seed, result) in enumerate(zip(specs, seeds, results, strict=True)):
        mine = {**kw, **{k: v[i] for k, v in per.items()}}
        _assert_same(result, _reference(spec, seed, **mine))
    return results


@pytest.mark.parametrize("method", METHODS.names())
def test_every_preset_matches_separate_fits(method):
    # grid_lstm has no stacked twin: fit_many trains its members with fit.
    spec = _spec(method)
    _check_many([spec] * 3, [0, 1, 2], lr=[0.01, 0.05, 0.02], epochs=3, batch_size=32,
                optimizer="momentum")


@pytest.mark.parametrize("optimizer", OPTIMIZERS.names())
def test_every_optimizer_with_per_member_lr_and_weight_decay(optimizer):
    _check_many([_spec()] * 3, [3, 4, 5], lr=[0.01, 0.003, 0.02],
                weight_decay=[0.0, 1e-2, 1e-3], optimizer=optimizer, epochs=3, batch_size=40)


@pytest.mark.parametrize("schedule", SCHEDULES.names())
def test_every_schedule_per_member_with_warmup(schedule):
    _check_many([_spec()] * 2, [0, 1], lr=[0.05, 0.02], schedule=schedule, warmup=[0, 2],
                epochs=6, batch_size=64)


def test_per_member_regularization_including_noise_matches_exactly_drawn_fits():
    # Input and weight noise come from each member's own generator, as in fit.
    _check_many(
        [_spec()] * 4, [0, 1, 2, 3], epochs=3, batch_size=32, lr=0.05, optimizer="adam",
        l1=[0.0, 1e-3, 0.0, 0.0], max_norm=[None, 0.5, None, 1.0],
        input_noise=[0.0, 0.0, 0.3, 0.1], weight_noise=[0.0, 0.0, 0.0, 0.05],
        clip_norm=[None, None, 0.1, 0.5], clip_value=[0.01, None, None, None],
        label_smoothing=[0.0, 0.1, 0.0, 0.2],
    )


@pytest.mark.parametrize("likelihood,target", [("gaussian", "float"), ("laplace", "float"),
                                               ("poisson", "count"), ("bernoulli", "binary")])
def test_regression_and_binary_likelihoods(likelihood, target):
    x, y = TRAIN
    t = {"float": x[:, :1] * 2.0, "count": (x[:, 0] > 0).float() * 3,
         "binary": y.float()}[target].reshape(len(x), -1)[:, 0]
    spec = fl.FNNSpec(in_features=6, out_features=1, depth=2, width=8, method="msra")
    results = fit_many([spec] * 2, (x, t), seed=[0, 1], likelihood=likelihood, epochs=2,
                       label_smoothing=[0.0, 0.1] if likelihood == "bernoulli" else 0.0,
                       progress=False)
    for seed, result in zip([0, 1], results, strict=True):
        smooth = 0.1 if likelihood == "bernoulli" and seed == 1 else 0.0
        ref = _reference(spec, seed, train=(x, t), valid=None, likelihood=likelihood,
                         epochs=2, label_smoothing=smooth)
        _assert_same(result, ref)


def test_early_stopping_per_member_freezes_and_restores_best():
    results = _check_many([_spec()] * 3, [0, 1, 2], lr=[0.5, 0.2, 0.01], optimizer="adam",
                          early_stopping=[1, 2, None], epochs=8, batch_size=32)
    assert results[0].stop_reason == "early_stopping"
    assert len(results[0].history) < len(results[2].history) == 8


def test_a_diverging_member_stops_alone_and_warns():
    specs = [_spec()] * 2
    with pytest.warns(RuntimeWarning, match="Loss became"):
        results = fit_many(specs, TRAIN, VALID, seed=[0, 1], lr=[1e12, 0.01], epochs=3,
                           optimizer="sgd", progress=False)
    assert results[0].stop_reason == "diverged"
    assert "Restored" in results[0].message
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = _reference(specs[0], 0, lr=1e12, epochs=3, optimizer="sgd")
    assert len(results[0].history) == len(ref.history)
    for key, value in ref.model.state_dict().items():
        torch.testing.assert_close(results[0].model.state_dict()[key], value)
    _assert_same(results[1], _reference(specs[1], 1, lr=0.01, epochs=3, optimizer="sgd"))


def test_members_of_different_shapes_and_fit_arguments_are_grouped():
    specs = [_spec(width=8), _spec(width=12), _spec(width=8), _spec("batchnorm", width=8),
             _spec(reparam="spectral_norm")]  # spectral norm has no stacked twin: fit
    _check_many(specs, [0, 1, 2, 3, 4], epochs=2, batch_size=[32, 32, 32, 48, 32])


def test_memory_budget_splits_the_stack_without_changing_results():
    model = fl.build(_spec())
    per = member_bytes(model, 32, "sgd")
    params = sum(p.numel() for p in model.parameters())
    assert per > 4 * params * 4  # at least value, gradient, best copy and a temporary
    assert member_bytes(model, 64, "adam") > member_bytes(model, 32, "sgd")
    full = fit_many([_spec()] * 4, TRAIN, seed=[0, 1, 2, 3], epochs=2, progress=False)
    chunked = fit_many([_spec()] * 4, TRAIN, seed=[0, 1, 2, 3], epochs=2, progress=False,
                       memory_budget=2 * per)
    for a, b in zip(full, chunked, strict=True):
        for key, value in a.model.state_dict().items():
            torch.testing.assert_close(b.model.state_dict()[key], value, rtol=RTOL, atol=ATOL)


def test_each_member_draws_its_own_dropout_masks():
    spec = _spec("snn", dropout=0.2)
    same = fit_many([spec] * 2, TRAIN, seed=[7, 7], epochs=1, progress=False)
    a, b = (r.model.hidden[1].linear.weight for r in same)
    assert not torch.allclose(a, b)  # same seed and batches, different masks
    off = fit_many([_spec("snn")] * 2, TRAIN, seed=[7, 7], epochs=1, progress=False)
    torch.testing.assert_close(off[0].model.hidden[1].linear.weight,
                               off[1].model.hidden[1].linear.weight)


def test_dropout_loss_curves_match_sequential_fits_in_distribution():
    # 12 seeds, SELU + alpha dropout at rates 0.1 and 0.2 (per-member rates in one stack):
    # for every epoch the stacked and the sequential training losses must come from the
    # same distribution: Welch's t-test and the two-sample KS test both with p > 0.01.
    specs = [_spec("snn", dropout=0.1), _spec("snn", dropout=0.2)] * 6
    seeds = list(range(12))
    stacked = fit_many(specs, TRAIN, seed=seeds, epochs=4, lr=0.05, progress=False)
    sequential = [_reference(s, k, valid=None, epochs=4, lr=0.05)
                  for s, k in zip(specs, seeds, strict=True)]
    a = np.array([r.history["train_loss"].to_numpy() for r in stacked])
    b = np.array([r.history["train_loss"].to_numpy() for r in sequential])
    assert not np.allclose(a, b)  # the masks really differ
    for epoch in range(a.shape[1]):
        assert stats.ttest_ind(a[:, epoch], b[:, epoch], equal_var=False).pvalue > 0.01
        assert stats.ks_2samp(a[:, epoch], b[:, epoch]).pvalue > 0.01


def test_stacked_optimizer_matches_torch_optim_member_by_member():
    torch.manual_seed(0)
    lrs, decays = [0.1, 0.01, 0.03], [0.0, 0.1, 0.01]
    for name in OPTIMIZERS.names():
        stacked = torch.randn(3, 4, 5)
        singles = [stacked[k].clone().requires_grad_() for k in range(3)]
        torch_opts = [fl.training.make_optimizer(name, [p], lr, weight_decay=wd)
                      for p, lr, wd in zip(singles, lrs, decays, strict=True)]
        opt = StackedOptimizer(rule_of(torch_opts[0]), [stacked], torch_opts[0].defaults,
                               torch.tensor(decays))
        for _ in range(4):
            grads = torch.randn(3, 4, 5)
            for k, (p, o) in enumerate(zip(singles, torch_opts, strict=True)):
                p.grad = grads[k].clone()
                o.step()
            opt.step([grads], torch.tensor(lrs, dtype=torch.float64))
        for k in range(3):
            torch.testing.assert_close(stacked[k], singles[k].detach(), rtol=1e-5, atol=1e-6,
                                       msg=name)


def test_vectorize_false_is_exactly_sequential_fit():
    result = fit_many([_spec()], TRAIN, seed=[3], epochs=2, vectorize=False, progress=False)[0]
    ref = _reference(_spec(), 3, valid=None, epochs=2)
    for key, value in ref.model.state_dict().items():
        assert torch.equal(result.model.state_dict()[key], value)


def test_bad_arguments():
    with pytest.raises(ValueError, match="lr has 2 values for 3 specs"):
        fit_many([_spec()] * 3, TRAIN, lr=[0.1, 0.2])
    with pytest.raises(TypeError, match="unknown argument.*learning_rate"):
        fit_many([_spec()] * 2, TRAIN, learning_rate=0.1)
    with pytest.raises(TypeError, match=r"specs\[1\] must be an FNNSpec"):
        fit_many([_spec(), "snn"], TRAIN)
    with pytest.raises(ValueError, match="memory_budget"):
        fit_many([_spec()] * 2, TRAIN, memory_budget=0)
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        fit_many([_spec()] * 2, TRAIN, epochs=[1, 0])


def test_residual_blocks_keep_their_activations_out_of_place():
    # Dense blocks run their activation in place, fused with the linear map
    # (tests/training/test_stacked_kernels.py checks values and gradients of both paths).
    # Residual blocks apply the activation to the block input, which the skip path adds
    # back: those must stay out of place.
    from fnnlab.training.stacked.model import InplaceELU, InplaceReLU, StackedModel

    net = StackedModel([fl.build(_spec("resnet")) for _ in range(2)])
    assert not any(isinstance(m, InplaceELU | InplaceReLU) for m in net.net.hidden[1:].modules())


def test_inplace_selu_gradient_passes_gradcheck():
    from fnnlab.training.stacked.model import InplaceELU

    act = InplaceELU(alpha=1.7, scale=1.05)
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    # The in-place op needs a non-leaf input; multiply by 1 to get one.
    assert torch.autograd.gradcheck(lambda t: act(t * 1.0), (x,))
    torch.testing.assert_close(act(x.detach().clone()),
                               fl.nn.SELU(alpha=1.7, scale=1.05)(x.detach()))


def test_stacked_optimizer_follows_a_new_learning_rate_tensor():
    # Each step uses the learning rates it is given, also when the same tensor is reused.
    stacked = torch.zeros(2, 3)
    opt = StackedOptimizer("sgd", [stacked], {"momentum": 0, "dampening": 0,
                                              "nesterov": False}, torch.zeros(2))
    lr = torch.tensor([0.1, 0.2], dtype=torch.float64)
    grad = torch.ones(2, 3)
    opt.step([grad], lr)
    opt.step([grad], lr)
    torch.testing.assert_close(stacked[:, 0], torch.tensor([-0.2, -0.4]))
    opt.step([grad], torch.tensor([1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(stacked[:, 0], torch.tensor([-1.2, -0.4]))
