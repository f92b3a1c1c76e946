"""Schedules: the learning-rate curves they promise, warm-up, and training with each."""

import math

import pytest
import torch

from fnnlab.training import SCHEDULES, Schedule, fit


def _curve(name, epochs=12, warmup=0, metric=1.0, **options):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = Schedule(name, opt, epochs, warmup=warmup, **options)
    lrs = []
    for _ in range(epochs):
        lrs.append(schedule.lr)
        opt.step()
        schedule.step(metric)
    return lrs


def test_constant_keeps_lr():
    assert _curve("constant") == [1.0] * 12


def test_only_a_constant_rate_without_warmup_skips_stepping():
    def schedule(name, **kw):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        return Schedule(name, opt, 10, **kw)

    assert schedule("constant").fixed
    assert not schedule("constant", warmup=2).fixed
    assert not any(schedule(name).fixed for name in ("linear", "step", "cosine", "cyclic"))
    fixed = schedule("none")
    for _ in range(5):
        fixed.step(1.0)
    assert fixed.epoch == 5 and fixed.lr == 1.0


def test_linear_decays_to_end_factor():
    lrs = _curve("linear", epochs=11)
    assert lrs[0] == 1.0 and lrs[-1] == pytest.approx(0.01)
    steps = [a - b for a, b in zip(lrs, lrs[1:], strict=False)]
    assert all(s == pytest.approx(0.099) for s in steps)


def test_step_divides_by_ten_every_third_of_the_run():
    assert _curve("step", epochs=9) == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01])


def test_cosine_follows_half_cosine():
    lrs = _curve("cosine", epochs=10)
    assert lrs == pytest.approx([(1 + math.cos(math.pi * e / 10)) / 2 for e in range(10)])


def test_cyclic_is_a_triangle_between_base_and_max():
    lrs = _curve("cyclic", epochs=12, step_size_up=2)
    assert lrs == pytest.approx([0.1, 0.55, 1.0, 0.55] * 3)


def test_plateau_reduces_after_patience_epochs_without_improvement():
    lrs = _curve("plateau", epochs=8, patience=2, metric=1.0)
    # Epoch 1 sets the best; epochs 2, 3 do not improve; the rate drops for epoch 4.
    assert lrs == pytest.approx([1, 1, 1, 1, 0.1, 0.1, 0.1, 0.01])


@pytest.mark.parametrize("name", ["constant", "cosine", "plateau"])
def test_warmup_ramps_linearly_then_hands_over(name):
    lrs = _curve(name, epochs=8, warmup=3)
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])


def test_schedule_state_round_trips():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    a = Schedule("cosine", opt, 10, warmup=2)
    for _ in range(4):
        opt.step()
        a.step()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    b = Schedule("cosine", opt2, 10, warmup=2)
    b.load_state_dict(a.state_dict())
    opt2.load_state_dict(opt.state_dict())
    for _ in range(4):
        opt.step(), opt2.step()
        a.step(), b.step()
        assert a.lr == b.lr


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_schedule_reduces_breast_cancer_loss(name, cancer, mlp):
    # From log 2 = 0.69 to below 0.12 in six epochs of SGD (lr 0.1, one warm-up epoch).
    result = fit(mlp(), cancer, optimizer="sgd", lr=0.1, epochs=6, batch_size=32,
                 schedule=name, warmup=1, progress=False)
    losses = result.history["train_loss"].tolist()
    assert losses[-1] < 0.12, losses


def test_bad_warmup_and_unknown_schedule():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match="warmup must be an int"):
        Schedule("cosine", opt, 5, warmup=5)
    with pytest.raises(ValueError, match="Known schedules"):
        Schedule("cosin", opt, 5)
