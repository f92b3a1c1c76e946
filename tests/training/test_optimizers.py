"""Optimizers: textbook defaults, the update rules, and each one trains breast_cancer."""

import pytest
import torch

from fnnlab.training import OPTIMIZERS, fit, make_optimizer

# Learning rates at which each optimizer is stable on this problem (adadelta's lr
# multiplies Zeiler's unit-correct step, so 1.0 is the paper's setting).
LRS = {"sgd": 0.1, "momentum": 0.02, "nesterov": 0.02, "adagrad": 0.05, "adadelta": 1.0,
       "rmsprop": 0.002, "adam": 0.005, "adamw": 0.005}


def test_every_optimizer_has_a_tested_learning_rate():
    assert set(OPTIMIZERS.names()) == set(LRS)


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_optimizer_reduces_breast_cancer_loss(name, cancer, mlp):
    # Cross-entropy starts near log 2 = 0.69; three epochs bring every optimizer below 0.12.
    result = fit(mlp(), cancer, optimizer=name, lr=LRS[name], epochs=3, batch_size=32,
                 progress=False)
    losses = result.history["train_loss"].tolist()
    assert losses[-1] < 0.12, losses
    assert losses[-1] < losses[0]


def test_adam_has_textbook_defaults():
    opt = make_optimizer("adam", [torch.nn.Parameter(torch.zeros(2))], lr=0.001)
    group = opt.param_groups[0]
    assert group["betas"] == (0.9, 0.999) and group["eps"] == 1e-8


def test_momentum_and_nesterov_use_alpha_09():
    p = [torch.nn.Parameter(torch.zeros(2))]
    assert make_optimizer("momentum", p, lr=0.1).param_groups[0]["momentum"] == 0.9
    group = make_optimizer("nesterov", p, lr=0.1).param_groups[0]
    assert group["momentum"] == 0.9 and group["nesterov"] is True


def test_adam_first_step_is_lr_times_sign_of_gradient():
    # With bias correction, ŝ = g and r̂ = g² after one step: Δθ = -ε g / (δ + |g|).
    theta = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))
    opt = make_optimizer("adam", [theta], lr=0.1)
    g = torch.tensor([3.0, -0.2, 1e-3], dtype=torch.float64)
    theta.grad = g.clone()
    before = theta.detach().clone()
    opt.step()
    torch.testing.assert_close(theta.detach(), before - 0.1 * g / (1e-8 + g.abs()))


def test_momentum_velocity_tends_to_g_over_one_minus_alpha():
    # Constant gradient g: v_t -> g / (1 - α), so steps approach ε g / (1 - α) = 10 ε g.
    theta = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = make_optimizer("momentum", [theta], lr=0.01)
    for _ in range(300):
        prev = theta.detach().clone()
        theta.grad = torch.ones(1, dtype=torch.float64)
        opt.step()
    torch.testing.assert_close(prev - theta.detach(), torch.full((1,), 0.1, dtype=torch.float64))


def test_unknown_optimizer_lists_known_names():
    with pytest.raises(ValueError, match="Did you mean 'adam'.*Known optimizers"):
        make_optimizer("adma", [torch.nn.Parameter(torch.zeros(1))], lr=0.1)


def test_bad_lr_and_option_are_value_errors():
    p = [torch.nn.Parameter(torch.zeros(1))]
    with pytest.raises(ValueError, match="lr must be a positive number"):
        make_optimizer("sgd", p, lr=-1.0)
    with pytest.raises(ValueError, match="does not accept options"):
        make_optimizer("sgd", p, lr=0.1, betas=(0.9, 0.99))


def test_optimizer_class_is_accepted():
    opt = make_optimizer(torch.optim.SGD, [torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    assert isinstance(opt, torch.optim.SGD)
