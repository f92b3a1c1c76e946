"""fit and fit_many on several binary tasks with missing labels (the masked bernoulli loss)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import fnnlab as fl
from fnnlab.training import fit_many
from fnnlab.training.metrics import per_task


def _tasks(n=120, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g)
    y = torch.stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0, x[:, 3] > 0.5], 1).float()
    y[torch.rand(n, 3, generator=g) < 0.35] = math.nan
    return x, y


SPEC = fl.FNNSpec(in_features=5, out_features=3, depth=3, width=8, method="snn", dropout=0.0)


def _labelled(x, y):
    keep = ~torch.isnan(y).all(1)
    return x[keep], y[keep]


def test_stacked_multi_task_fit_equals_the_single_fit():
    train, valid = _labelled(*_tasks()), _tasks(n=60, seed=1)
    options = dict(likelihood="bernoulli", optimizer="momentum", lr=[0.05, 0.02],
                   label_smoothing=[0.0, 0.1], epochs=3, batch_size=32, progress=False)
    results = fit_many([SPEC] * 2, train, valid, seed=[0, 1], **options)
    for i, result in enumerate(results):
        single = {**options, "lr": options["lr"][i],
                  "label_smoothing": options["label_smoothing"][i]}
        ref = fl.fit(fl.build(SPEC, seed=i), train, valid, seed=i, **single)
        for key, value in ref.model.state_dict().items():
            torch.testing.assert_close(result.model.state_dict()[key], value, rtol=1e-4,
                                       atol=1e-5)
        cols = ["train_loss", "valid_loss", "valid_roc_auc", "valid_accuracy"]
        assert list(ref.history.columns[1:5]) == cols
        np.testing.assert_allclose(result.history[cols], ref.history[cols], rtol=1e-4)


def test_fit_logs_the_mean_validation_auc_over_the_tasks():
    train, (xv, yv) = _labelled(*_tasks()), _tasks(n=60, seed=1)
    result = fl.fit(fl.build(SPEC, seed=0), train, (xv, yv), likelihood="bernoulli",
                    epochs=2, progress=False)
    lik = result.likelihood
    with torch.no_grad():
        out = result.model.eval()(xv)
    aucs = per_task("roc_auc", yv.numpy(), None, lik.predict_proba(out).numpy())
    assert aucs.shape == (3,)
    assert result.history["valid_roc_auc"].iloc[-1] == pytest.approx(np.mean(aucs), rel=1e-6)


def test_rows_without_labels_are_dropped_with_a_warning_and_empty_columns_are_errors():
    x, y = _tasks()
    y[:4] = math.nan
    with pytest.warns(UserWarning, match=r"dropped \d+ of 120 rows .*rows 0, 1, 2, 3"):
        fl.fit(fl.build(SPEC, seed=0), (x, y), likelihood="bernoulli", epochs=1,
               progress=False)
    y[:, 2] = math.nan
    with pytest.raises(ValueError, match=r"target column 'y\[:, 2\]' has no observed label"):
        fl.fit(fl.build(SPEC, seed=0), (x, y), likelihood="bernoulli", epochs=1)


def test_missing_labels_need_the_bernoulli_likelihood():
    x, y = _labelled(*_tasks())
    with pytest.raises(ValueError, match="pass likelihood='bernoulli'"):
        fl.fit(fl.build(SPEC, seed=0), (x, y), likelihood="categorical", epochs=1)
    with pytest.raises(ValueError, match="missing \\(NaN\\) values"):
        fl.fit(fl.build(SPEC, seed=0), (x, y), likelihood="gaussian", epochs=1)
    with pytest.raises(ValueError, match="other than 0, 1 and NaN"):
        fl.fit(fl.build(SPEC, seed=0), (x, torch.nan_to_num(y) * 2), likelihood="bernoulli",
               epochs=1)
    with pytest.raises(ValueError, match=r"needs 3 for 3 target column\(s\)\. Build the "
                                         r"model with out_features=3\.$"):
        fl.fit(fl.build(SPEC.__class__(in_features=5, out_features=1, depth=2, width=8)),
               (x, y), likelihood="bernoulli", epochs=1)


def test_a_bootstrap_ensemble_draws_from_the_labelled_rows():
    x, y = _tasks()
    y[:3] = math.nan
    with pytest.warns(UserWarning, match="dropped"):
        ens = fl.fit_ensemble(SPEC, (x, y), k=2, bootstrap=True, likelihood="bernoulli",
                              epochs=1, progress=False)
    assert fl.training.predict_proba(ens.model, x).shape == (120, 3)
