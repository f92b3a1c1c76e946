"""Native fused kernels of stacked dense layers (fnnlab.training.stacked.kernels / fused)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

import fnnlab as fl
from fnnlab.training.stacked import kernels
from fnnlab.training.stacked.fused import LinearActFunction, StackedLinearAct
from fnnlab.training.stacked.kernels import Activation
from fnnlab.training.stacked.model import InplaceELU, InplaceReLU, StackedModel

SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
ACTS = {"relu": Activation.relu(), "elu": Activation.elu(1.0),
        "selu": Activation.elu(SELU_ALPHA, SELU_SCALE)}

native = pytest.mark.skipif(kernels.library() is None,
                            reason=f"native kernels unavailable: {kernels.status()}")


def _reference(x: torch.Tensor, act: Activation) -> torch.Tensor:
    if act.kind == 0:
        return torch.relu(x)
    return act.scale * torch.where(x > 0, x, act.alpha * torch.expm1(x))


def _hard_values() -> torch.Tensor:
    """Values across the whole float range, and the edge cases of the exp reduction."""
    grid = torch.linspace(-100.0, 5.0, 200_001, dtype=torch.float64)
    tiny = -torch.logspace(-30, 0, 20_001, dtype=torch.float64)
    edges = torch.tensor([0.0, -0.0, -87.0, -87.5, -88.7, -104.0, 1e-30, -1e-45,
                          -0.3465735902799727, 0.3465735902799727, -0.5, -1e-7],
                         dtype=torch.float64)
    return torch.cat([grid, tiny, edges]).float()


@native
@pytest.mark.parametrize("name", list(ACTS))
def test_forward_kernel_matches_float64_reference(name):
    act = ACTS[name]
    x = _hard_values()
    k, f = 3, 7
    n = -(-x.numel() // (k * f))
    z = torch.cat([x, torch.zeros(k * n * f - x.numel())]).view(k, n, f)
    bias = torch.randn(k, 1, f) * 0  # zero bias: compare the activation itself first
    out = kernels.bias_act_(z.clone(), bias, act)
    want = _reference(z.double(), act)
    # float32 rounding of the result: relative 2^-23 ≈ 1.2e-7, plus a little for the
    # polynomial; torch's own float32 SELU is within 1.2e-7 of float64 on these values.
    torch.testing.assert_close(out.double(), want, rtol=3e-7, atol=1e-37)
    # With a bias, the kernel adds it in float32 first, as baddbmm does.
    bias = torch.randn(k, 1, f)
    out = kernels.bias_act_(z.clone(), bias, act)
    torch.testing.assert_close(out.double(), _reference((z + bias).double(), act),
                               rtol=3e-7, atol=1e-37)


@native
@pytest.mark.parametrize("name", list(ACTS))
def test_kernels_keep_nan_and_infinities(name):
    act = ACTS[name]
    z = torch.tensor([math.nan, math.inf, -math.inf, 1.0, -1.0]).view(1, 1, 5)
    out = kernels.bias_act_(z.clone(), torch.zeros(1, 1, 5), act)
    want = _reference(z, act)
    torch.testing.assert_close(out, want, equal_nan=True)  # NaN stays NaN: divergence shows


@native
@pytest.mark.parametrize("name", list(ACTS))
def test_backward_kernel_matches_torch(name):
    act = ACTS[name]
    torch.manual_seed(0)
    z = torch.randn(5, 9, 33, dtype=torch.float64, requires_grad=True)
    y = _reference(z, act)
    g = torch.randn_like(y)
    (want,) = torch.autograd.grad(y, z, g)
    y32 = y.detach().float()
    grad_z, grad_bias = kernels.act_backward_(g.float(), y32, act)
    assert grad_z is y32  # written in place
    torch.testing.assert_close(grad_z.double(), want, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grad_bias.double(), want.sum(1, keepdim=True), rtol=1e-5,
                               atol=1e-5)
    # A non-contiguous output gradient (e.g. a transposed view) gives the same values.
    g_t = g.float().transpose(1, 2).contiguous().transpose(1, 2)
    assert not g_t.is_contiguous()
    torch.testing.assert_close(kernels.act_backward_(g_t, y.detach().float(), act)[0], grad_z)


@native
@pytest.mark.parametrize("shape", [(16, 64, 64), (1, 200, 200)])
def test_kernels_give_the_same_values_on_one_and_two_threads(shape):
    # (1, 200, 200): one member, the backward work split over blocks of 64 features
    # (the last one partial), which must not change any bias-gradient sum.
    act = ACTS["selu"]
    k, n, f = shape
    z, bias, g = torch.randn(k, n, f), torch.randn(k, 1, f), torch.randn(k, n, f)
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            out = kernels.bias_act_(z.clone(), bias, act)
            results.append((out.clone(), *kernels.act_backward_(g, out, act)))
    finally:
        torch.set_num_threads(before)
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)
    pre = (z.double() + bias.double()).requires_grad_()
    (want,) = torch.autograd.grad(_reference(pre, act), pre, g.double())
    torch.testing.assert_close(results[0][1].double(), want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(results[0][2].double(), want.sum(1, keepdim=True), rtol=1e-4,
                               atol=1e-4)


@native
@pytest.mark.parametrize("name", list(ACTS))
def test_fused_node_matches_baddbmm_and_torch_activation(name):
    act = ACTS[name]
    torch.manual_seed(1)
    x = torch.randn(4, 10, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 6, 8, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, 1, 8, dtype=torch.float64, requires_grad=True)
    want = _reference(torch.baddbmm(b, x, w), act)
    g = torch.randn_like(want)
    want_grads = torch.autograd.grad(want, (x, w, b), g)
    xf, wf, bf = (t.detach().float().requires_grad_() for t in (x, w, b))
    out = LinearActFunction.apply(xf, wf, bf, act)
    torch.testing.assert_close(out.double(), want, rtol=1e-5, atol=1e-5)
    grads = torch.autograd.grad(out, (xf, wf, bf), g.float(), retain_graph=True)
    for got, ref in zip(grads, want_grads, strict=True):
        torch.testing.assert_close(got.double(), ref, rtol=1e-4, atol=1e-4)
    # The backward pass wrote the pre-activation gradient over the output; a second
    # backward through the same graph must refuse, not return wrong gradients.
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        torch.autograd.grad(out, (xf, wf, bf), g.float())


def _stacked(method: str, k: int = 3) -> tuple[StackedModel, list[nn.Module]]:
    spec = fl.FNNSpec(in_features=6, out_features=3, depth=3, width=8, method=method)
    members = []
    for seed in range(k):
        torch.manual_seed(seed)
        members.append(fl.build(spec))
    return StackedModel(members), members


@pytest.mark.parametrize(("method", "twin"), [("snn", InplaceELU), ("msra", InplaceReLU)])
@pytest.mark.parametrize("use_native", [True, False])
def test_stacked_dense_blocks_fuse_and_match_members(method, twin, use_native, monkeypatch):
    if use_native and kernels.library() is None:
        pytest.skip(f"native kernels unavailable: {kernels.status()}")
    if not use_native:
        monkeypatch.setattr(kernels, "library", lambda: None)
    net, members = _stacked(method)
    for block in net.net.hidden:
        assert type(block.linear) is StackedLinearAct and type(block.linear.act) is twin
        assert type(block.act) is nn.Identity
    x = torch.randn(3, 5, 6)
    out = net(x)
    out.square().sum().backward()
    for k, member in enumerate(members):
        want = member(x[k])
        torch.testing.assert_close(out[k], want, rtol=1e-5, atol=1e-6)
        want.square().sum().backward()
        for got, ref in ((net.net.hidden[0].linear.linear.weight_t.grad[k],
                          member.hidden[0].linear.weight.grad.T),
                         (net.net.hidden[1].linear.linear.bias.grad[k, 0],
                          member.hidden[1].linear.bias.grad)):
            torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)


@native
@pytest.mark.parametrize("sgd", [False, True])
def test_a_run_of_fused_blocks_is_one_node_and_matches_layer_by_layer(sgd, monkeypatch):
    net, _ = _stacked("snn")
    x = torch.randn(3, 5, 6)
    step = torch.full((3, 1, 1), -0.1) if sgd else None
    for layer in net.fused_layers():
        layer.sgd_step = step
    ref = copy.deepcopy(net)
    ref._parts = None  # each block its own node, as FNN.forward runs them
    calls = []
    real_apply = LinearActFunction.apply
    monkeypatch.setattr(LinearActFunction, "apply",
                        staticmethod(lambda *a: calls.append(len(a)) or real_apply(*a)))
    out, want = net(x), ref(x)
    assert calls == [1 + 4 * 3] + [5] * 3  # the chain's three layers, then one by one
    torch.testing.assert_close(out, want, rtol=0, atol=0)
    out.square().sum().backward()
    want.square().sum().backward()
    for a, b in zip(net.trainable(), ref.trainable(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)  # SGD steps taken alike
        if a.grad is None or b.grad is None:
            assert a.grad is None and b.grad is None and sgd
        else:
            torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=0)


def test_blocks_with_a_norm_before_the_activation_are_not_fused():
    net, _ = _stacked("batchnorm", k=2)
    assert not any(isinstance(m, StackedLinearAct) for m in net.modules())
    # Normalization after the activation leaves linear -> act adjacent: fused.
    spec = fl.FNNSpec(in_features=6, out_features=3, depth=2, width=8, method="msra",
                      norm="layer", order="linear_act_norm_drop")
    net = StackedModel([fl.build(spec) for _ in range(2)])
    assert all(type(b.linear) is StackedLinearAct for b in net.net.hidden)


def test_float64_and_disabled_kernels_use_torch_ops(monkeypatch):
    net, members = _stacked("snn", k=2)
    net = net.double()
    x = torch.randn(2, 4, 6, dtype=torch.float64)
    calls = []
    monkeypatch.setattr(LinearActFunction, "apply",
                        staticmethod(lambda *a: calls.append(a) or None))
    out = net(x)  # float64: the kernels are float32-only, torch's ops run
    assert not calls
    torch.testing.assert_close(out[1], members[1].double()(x[1]))


def test_build_reports_why_kernels_are_off(monkeypatch, tmp_path):
    monkeypatch.setenv("FNNLAB_NATIVE_KERNELS", "0")
    lib, why = kernels._build()
    assert lib is None and "FNNLAB_NATIVE_KERNELS=0" in why
    monkeypatch.delenv("FNNLAB_NATIVE_KERNELS")
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    lib, why = kernels._build()
    assert lib is None and "no C compiler" in why


@native
def test_a_broken_source_falls_back_with_the_compiler_message(monkeypatch, tmp_path):
    broken = tmp_path / "linear_act.c"
    broken.write_text("this is not C;\n")
    monkeypatch.setattr(kernels, "SOURCE", broken)
    monkeypatch.setenv("FNNLAB_CACHE_DIR", str(tmp_path / "cache"))
    lib, why = kernels._build()
    assert lib is None and why.startswith("off (compiling linear_act.c failed")
    assert "error" in why.lower()
    assert not list((tmp_path / "cache").rglob("*.so"))  # nothing half-written is left


@native
def test_compiled_library_is_cached_and_reused(monkeypatch, tmp_path):
    monkeypatch.setenv("FNNLAB_CACHE_DIR", str(tmp_path))
    lib, why = kernels._build()
    assert lib is not None and why.startswith("native")
    (built,) = (tmp_path / "kernels").glob("linear_act-*.so")
    stamp = built.stat().st_mtime_ns
    lib2, _ = kernels._build()
    assert lib2 is not None and built.stat().st_mtime_ns == stamp  # not compiled again


@pytest.fixture
def sgd_steps(monkeypatch):
    """For each fused node created: whether it takes plain SGD's step in its backward."""
    steps: list[bool] = []
    real_apply = LinearActFunction.apply
    monkeypatch.setattr(LinearActFunction, "apply",
                        staticmethod(lambda *a: steps.append(a[4] is not None)
                                     or real_apply(*a)))
    return steps


@native
@pytest.mark.parametrize("method", ["snn", "msra", "highway"])
def test_plain_sgd_step_inside_the_fused_backward_matches_fit(method, sgd_steps):
    # Plain SGD: the fused dense layers update their weights in the backward pass and
    # hand no gradient to the optimizer. The trained members must still be the fits'.
    steps = sgd_steps
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 6, generator=g)
    y = (x[:, 0] - x[:, 1] > 0).long()
    spec = fl.FNNSpec(in_features=6, out_features=2, depth=3, width=8, method=method)
    seeds, lrs = [0, 1, 2], [0.05, 0.02, 0.1]
    kw = dict(epochs=3, batch_size=32, optimizer="sgd", progress=False)
    results = fl.fit_many([spec] * 3, (x, y), seed=seeds, lr=lrs, schedule="cosine", **kw)
    assert steps and all(steps)  # every fused call took its step in the backward pass
    for seed, lr, result in zip(seeds, lrs, results, strict=True):
        torch.manual_seed(seed)
        want = fl.fit(fl.build(spec), (x, y), seed=seed, lr=lr, schedule="cosine", **kw)
        for key, value in want.model.state_dict().items():
            torch.testing.assert_close(result.model.state_dict()[key], value, rtol=1e-4,
                                       atol=1e-5, msg=key)


@native
def test_optimizers_that_need_every_gradient_keep_the_step_out_of_the_backward(sgd_steps):
    steps = sgd_steps
    spec = fl.FNNSpec(in_features=6, out_features=2, depth=2, width=8, method="snn")
    x, y = torch.randn(40, 6), torch.randint(0, 2, (40,))
    for extra in ({"optimizer": "momentum"}, {"weight_decay": 1e-3}, {"clip_norm": 1.0},
                  {"l1": 1e-4}, {"weight_noise": 0.01}):
        steps.clear()
        fl.fit_many([spec] * 2, (x, y), seed=[0, 1], epochs=1, progress=False, **extra)
        assert steps and not any(steps), extra


def test_stacked_optimizer_skips_none_only_for_plain_sgd():
    from fnnlab.training.stacked import StackedOptimizer

    p = torch.ones(2, 3)
    sgd = StackedOptimizer("sgd", [p, p.clone()], {"momentum": 0, "dampening": 0,
                                                   "nesterov": False}, torch.zeros(2))
    assert sgd.plain_sgd
    sgd.step([None, torch.ones(2, 3)], torch.tensor([0.1, 0.2], dtype=torch.float64))
    assert torch.equal(p, torch.ones(2, 3))  # skipped: its step was taken elsewhere
    adam = StackedOptimizer("adam", [p], torch.optim.Adam([p.clone()]).defaults,
                            torch.zeros(2))
    assert not adam.plain_sgd
    with pytest.raises(ValueError, match="None is only allowed for plain SGD"):
        adam.step([None], torch.tensor([0.1, 0.2], dtype=torch.float64))


@native
def test_a_damaged_cache_entry_is_rebuilt(monkeypatch, tmp_path):
    monkeypatch.setenv("FNNLAB_CACHE_DIR", str(tmp_path / "first"))
    assert kernels._build()[0] is not None
    (built,) = (tmp_path / "first" / "kernels").glob("linear_act-*.so")
    # The same entry in another cache, damaged (e.g. a disk that filled up mid-write;
    # never overwrite a library this process has loaded: its pages are mapped).
    damaged = tmp_path / "second" / "kernels" / built.name
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"not a shared library")
    monkeypatch.setenv("FNNLAB_CACHE_DIR", str(tmp_path / "second"))
    lib, why = kernels._build()
    assert lib is not None and why.startswith("native")
    assert damaged.stat().st_size > 1000
