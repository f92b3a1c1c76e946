"""The argument and data checks fit and fit_many share: each bad input names itself."""

from __future__ import annotations

import pytest
import torch

import fnnlab as fl
from fnnlab.likelihoods import resolve as _resolve
from fnnlab.training.checks import (
    check_metrics,
    check_nonnegative,
    check_outputs,
    check_positive_int,
    prepare_data,
    resolve_device,
)


def resolve(name):
    return _resolve(name, torch.zeros(1))


def test_numbers():
    check_positive_int("epochs", 3)
    for bad in (0, True, 2.0, "3"):
        with pytest.raises(ValueError, match="epochs must be an int >= 1"):
            check_positive_int("epochs", bad)
    check_nonnegative("l1", 0.0)
    for bad in (-1e-3, float("nan"), False, None):
        with pytest.raises(ValueError, match="l1 must be a number >= 0"):
            check_nonnegative("l1", bad)


def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("tpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


def test_metrics_are_checked_against_the_task():
    assert check_metrics(None, resolve("categorical")) == ("accuracy",)
    assert check_metrics(["roc_auc"], resolve("bernoulli")) == ("roc_auc",)
    with pytest.raises(ValueError, match="'accuracy' needs a classification likelihood"):
        check_metrics(["accuracy"], resolve("gaussian"))


def test_output_width_and_validation_features():
    x, y = torch.randn(8, 3), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    model = fl.build(fl.FNNSpec(in_features=3, out_features=2, depth=1, width=4))
    with pytest.raises(ValueError, match="2 output.*needs 3 for 3 classes.*out_features=3"):
        check_outputs(model, x, resolve("categorical"), y, 3)
    assert model.training  # the check runs in eval mode and restores the mode
    with pytest.raises(ValueError, match="valid has 2 features but train has 3"):
        prepare_data(x, y, 3, (torch.randn(4, 2), torch.zeros(4)), resolve("categorical"))
    with pytest.raises(ValueError, match="non-integer values"):
        prepare_data(x, y + 0.5, 3, None, resolve("categorical"))
