"""FitConfig: the one definition of fit's options, its checks and its marks."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from fnnlab.training import FitConfig, fit


def test_defaults_and_names_come_from_the_fields():
    names = FitConfig.field_names()
    assert len(names) == len(set(names)) == len(dataclasses.fields(FitConfig))
    assert FitConfig.defaults()["lr"] == 0.01 and FitConfig().epochs == 100
    assert set(FitConfig.member_names()) < set(names)
    assert {"lr", "seed", "weight_decay", "early_stopping"} <= set(FitConfig.member_names())
    assert "batch_size" not in FitConfig.member_names()
    assert FitConfig.sequence_names() == ("callbacks", "metrics")
    for name in names:  # every option is documented in the generated docstring
        assert f"\n{name} : " in FitConfig.__doc__


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"lr": math.nan}, ValueError, r"lr must be a positive number \(finite\), got nan"),
        ({"lr": math.inf}, ValueError, "lr must be a positive number"),
        ({"lr": 0}, ValueError, "lr must be a positive number"),
        ({"weight_decay": math.inf}, ValueError, "weight_decay must be a number >= 0"),
        ({"weight_decay": -1e-3}, ValueError, "weight_decay must be a number >= 0"),
        ({"l1": math.nan}, ValueError, "l1 must be a number >= 0"),
        ({"epochs": 0}, ValueError, "epochs must be an int >= 1, got 0"),
        ({"early_stopping": 0}, ValueError, "early_stopping must be an int >= 1 or None"),
        ({"warmup": -1}, ValueError, "warmup must be an int >= 0"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
        ({"seed": True}, TypeError, "seed must be an int"),
        ({"metrics": "accuracy"}, TypeError, "metrics must be a list"),
        ({"metrics": ["acuracy"]}, ValueError, "Known metrics"),
        ({"callbacks": [object()]}, TypeError, "callbacks must be Callback instances"),
        ({"clip_value": -1.0}, ValueError, "clip_value must be a positive number or None"),
        ({"precision": "fp16"}, ValueError, "precision must be 'fp32' or 'bf16'"),
        ({"bagging": 2, "resume": "x.pt"}, ValueError, "not supported together with bagging"),
    ],
)
def test_bad_values_name_the_field_value_and_range(options, error, match):
    with pytest.raises(error, match=match):
        FitConfig(**options)


def test_config_is_frozen_and_normalizes_sequences():
    config = FitConfig(metrics=["accuracy"], seed=torch.tensor(3).item())
    assert config.metrics == ("accuracy",) and config.callbacks == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 0.1  # type: ignore[misc]
    assert dataclasses.replace(config, lr=0.1).lr == 0.1


def test_fit_takes_a_config_or_keywords_alike(cancer, mlp):
    config = FitConfig(lr=0.05, epochs=2, batch_size=128, progress=False)
    a = fit(mlp(), cancer, config=config)
    b = fit(mlp(), cancer, lr=0.05, epochs=2, batch_size=128, progress=False)
    c = fit(mlp(), cancer, config=dataclasses.replace(config, lr=1.0), lr=0.05)
    for other in (b, c):
        for key, value in a.model.state_dict().items():
            torch.testing.assert_close(other.model.state_dict()[key], value, rtol=0, atol=0)
    with pytest.raises(TypeError, match="unknown argument.*learning_rate.*fields of FitConfig"):
        fit(mlp(), cancer, learning_rate=0.1)
