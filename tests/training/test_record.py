"""What every epoch records: the smoothed stopping rule in both training loops.

The rule (``stopping_window``) is written once in ``fnnlab.training.record`` and used by
fit's general loop and by the stacked loop; these tests check it against a rolling mean
computed by pandas, on a constructed curve and on real runs, and that the stacked loop
chooses the same epoch as the general one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import fnnlab as fl
from fnnlab.training import fit_many
from fnnlab.training.record import monitor_name, monitor_value


def _choose(losses, window):
    """Feed ``losses`` epoch by epoch; the epoch (1-based) with the lowest monitor."""
    monitor = monitor_name(True, window)
    history, best, best_epoch = [], np.inf, 0
    for epoch, loss in enumerate(losses, start=1):
        history.append({"epoch": epoch, "valid_loss": loss})
        score = monitor_value(history, monitor, window)
        if score < best:
            best, best_epoch = score, epoch
    return best_epoch, [row[monitor] for row in history]


def test_smoothed_choice_differs_from_the_raw_best_epoch_on_a_constructed_curve():
    # One lucky epoch (4) in a noisy curve that keeps improving: the raw minimum is the
    # spike, the trailing mean over 3 epochs is lowest at the end.
    losses = [1.0, 0.9, 0.8, 0.3, 0.9, 0.9, 0.55, 0.5, 0.45, 0.5]
    raw_epoch, _ = _choose(losses, None)
    smoothed_epoch, smoothed = _choose(losses, 3)
    assert raw_epoch == 4
    assert smoothed_epoch == 10
    expected = pd.Series(losses).rolling(3, min_periods=1).mean().to_numpy()
    np.testing.assert_allclose(smoothed, expected, rtol=1e-12)


def test_window_of_one_is_the_raw_rule():
    losses = [0.7, 0.4, 0.6, 0.2, 0.5]
    assert _choose(losses, 1)[0] == _choose(losses, None)[0] == 4


def _cancer_split(cancer):
    X, y = cancer
    return (X[:300], y[:300]), (X[300:], y[300:])


def test_general_loop_returns_the_weights_of_the_smoothed_choice(cancer, mlp):
    train, valid = _cancer_split(cancer)
    # A plain nn.Sequential always trains in fit's general loop (not as a stack).
    result = fl.fit(mlp(), train, valid, epochs=25, lr=0.3, stopping_window=5, seed=0,
                    progress=False)
    h = result.history
    assert len(h) == 25 and result.stop_reason == "completed"
    rolling = h["valid_loss"].rolling(5, min_periods=1).mean()
    np.testing.assert_allclose(h["smoothed_valid_loss"], rolling, rtol=1e-12)
    assert result.best_epoch == int(rolling.to_numpy().argmin()) + 1
    for key, value in result.model.state_dict().items():
        assert torch.equal(value, result.best_state[key])
    with torch.no_grad():
        out = result.model(torch.as_tensor(valid[0]))
    loss = torch.nn.functional.cross_entropy(out, torch.as_tensor(valid[1])).item()
    assert loss == pytest.approx(h["valid_loss"].iloc[result.best_epoch - 1], rel=1e-5)


def test_patience_counts_epochs_without_a_lower_smoothed_loss(cancer, mlp):
    X, y = cancer
    # Flipped validation labels: validation loss rises as the model fits, so the
    # smoothed loss stops improving early and patience ends the run.
    result = fl.fit(mlp(), (X[:400], y[:400]), (X[400:], 1 - y[400:]), epochs=40, lr=0.05,
                    stopping_window=3, early_stopping=4, progress=False)
    assert result.stop_reason == "early_stopping"
    assert len(result.history) == result.best_epoch + 4


def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    return x, ((x[:, 0] + 0.5 * x[:, 1] + 0.5 * torch.randn(n, generator=g)) > 0).long()


def test_stacked_loop_chooses_the_epoch_the_general_loop_chooses():
    train, valid = _data(200, 0), _data(40, 1)
    spec = fl.FNNSpec(in_features=6, out_features=2, method="msra", depth=3, width=16,
                      dropout=0.0)
    lrs = [0.003, 0.03]
    options = dict(epochs=20, optimizer="adam", stopping_window=4, early_stopping=6,
                   batch_size=32, progress=False)
    stacked = fit_many([spec] * 2, train, valid, lr=lrs, seed=[0, 1], **options)
    for result, lr, seed in zip(stacked, lrs, [0, 1], strict=True):
        # Adam is not fused into the backward pass, so fit runs its general loop.
        single = fl.fit(fl.build(spec, seed=seed), train, valid, lr=lr, seed=seed, **options)
        assert result.best_epoch == single.best_epoch
        assert result.stop_reason == single.stop_reason
        np.testing.assert_allclose(result.history["smoothed_valid_loss"],
                                   single.history["smoothed_valid_loss"], rtol=1e-4)
        for key, value in single.model.state_dict().items():
            torch.testing.assert_close(result.model.state_dict()[key], value, rtol=1e-4,
                                       atol=1e-5)


class _Crash(fl.training.Callback):
    """Raise at the start of epoch ``at`` (after that epoch's checkpoint was written)."""

    def __init__(self, at=None):
        self.at = at

    def on_epoch_start(self, state, **kwargs):
        if state.epoch == self.at:
            raise KeyboardInterrupt


def test_resumed_run_chooses_the_epoch_of_the_uninterrupted_run(cancer, mlp, tmp_path):
    train, valid = _cancer_split(cancer)
    kw = dict(epochs=8, lr=0.3, stopping_window=3, early_stopping=4, progress=False)
    full = fl.fit(mlp(), train, valid, callbacks=[_Crash()], **kw)
    path = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        fl.fit(mlp(), train, valid, callbacks=[_Crash(at=5)], checkpoint=path, **kw)
    resumed = fl.fit(mlp(seed=1), train, valid, callbacks=[_Crash()], resume=path, **kw)
    pd.testing.assert_frame_equal(resumed.history.drop(columns="seconds"),
                                  full.history.drop(columns="seconds"))
    assert resumed.best_epoch == full.best_epoch
    for key, value in full.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value)
    with pytest.raises(ValueError, match="stopping_window: 3 -> 5"):
        fl.fit(mlp(), train, valid, **{**kw, "stopping_window": 5}, resume=path)
