"""The fit loop: history, determinism, resume, early stopping, divergence, bad input."""

import warnings

import numpy as np
import pytest
import torch

from fnnlab.training import Callback, FitResult, fit


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _dropout_mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(30, 32), torch.nn.SELU(),
                               torch.nn.AlphaDropout(0.1), torch.nn.Linear(32, 2))


def _split(cancer):
    X, y = cancer
    return (X[:400], y[:400]), (X[400:], y[400:])


def test_history_columns_and_result(cancer, mlp):
    train, valid = _split(cancer)
    result = fit(mlp(), train, valid, epochs=3, lr=0.05, progress=False,
                 metrics=["accuracy", "roc_auc"])
    assert isinstance(result, FitResult)
    assert list(result.history.columns) == ["epoch", "train_loss", "valid_loss",
                                            "valid_accuracy", "valid_roc_auc", "lr", "seconds"]
    assert result.history["epoch"].tolist() == [1, 2, 3]
    assert result.stop_reason == "completed"
    assert result.likelihood.name == "categorical"  # inferred from int targets
    assert result.history["valid_accuracy"].iloc[-1] > 0.9
    best = result.history["valid_loss"].idxmin()
    assert result.best_epoch == result.history["epoch"][best]


def test_without_valid_history_has_no_valid_columns(cancer, mlp):
    result = fit(mlp(), cancer, epochs=1, progress=False)
    assert list(result.history.columns) == ["epoch", "train_loss", "lr", "seconds"]


def test_same_seed_gives_bit_identical_weights(cancer):
    train, valid = _split(cancer)
    kw = dict(epochs=3, lr=0.05, optimizer="adam", input_noise=0.1, weight_noise=0.01,
              progress=False)
    a = fit(_dropout_mlp(), train, valid, seed=7, **kw)
    b = fit(_dropout_mlp(), train, valid, seed=7, **kw)
    c = fit(_dropout_mlp(), train, valid, seed=8, **kw)
    assert _same_weights(a.model, b.model)
    assert not _same_weights(a.model, c.model)


def test_fit_restores_the_callers_global_rng():
    model = torch.nn.Linear(3, 1)
    x, y = torch.randn(20, 3, generator=torch.Generator().manual_seed(0)), torch.zeros(20)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fit(model, (x, y), epochs=1, progress=False)
    assert torch.equal(torch.rand(3), expected)


class _Kill(Callback):
    """Raise at the start of epoch ``at`` (a crash after that epoch's checkpoint)."""

    def __init__(self, at=None):
        self.at = at

    def on_epoch_start(self, state, **kwargs):
        if state.epoch == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("schedule", ["plateau", "cosine"])
def test_resume_equals_uninterrupted_run(cancer, tmp_path, schedule):
    train, valid = _split(cancer)
    kw = dict(epochs=5, lr=0.01, optimizer="adam", schedule=schedule, warmup=1,
              early_stopping=10, input_noise=0.05, progress=False)
    full = fit(_dropout_mlp(), train, valid, callbacks=[_Kill()], **kw)
    path = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        fit(_dropout_mlp(), train, valid, callbacks=[_Kill(at=3)], checkpoint=path, **kw)
    resumed = fit(_dropout_mlp(seed=99), train, valid, callbacks=[_Kill()], resume=path, **kw)
    assert _same_weights(full.model, resumed.model)
    cols = ["epoch", "train_loss", "valid_loss", "lr"]
    assert resumed.history[cols].equals(full.history[cols])
    assert resumed.best_epoch == full.best_epoch


def test_resume_with_other_settings_is_refused(cancer, mlp, tmp_path):
    path = tmp_path / "run.pt"
    fit(mlp(), cancer, epochs=1, checkpoint=path, progress=False)
    with pytest.raises(ValueError, match="settings differ.*lr: 0.01 -> 0.1"):
        fit(mlp(), cancer, epochs=1, lr=0.1, resume=path, progress=False)


def test_early_stopping_restores_the_best_epoch(cancer, mlp):
    X, y = cancer
    # Validation labels flipped: the better the model fits, the worse the validation
    # loss, so the best epoch is an early one and training stops after `patience` more.
    result = fit(mlp(), (X[:400], y[:400]), (X[400:], 1 - y[400:]), epochs=30, lr=0.05,
                 early_stopping=3, progress=False)
    h = result.history
    assert result.stop_reason == "early_stopping"
    assert len(h) == result.best_epoch + 3
    assert h["valid_loss"].iloc[-1] > h["valid_loss"].min()
    for key, value in result.model.state_dict().items():
        assert torch.equal(value, result.best_state[key])
    out = result.model(torch.as_tensor(X[400:]))
    restored = torch.nn.functional.cross_entropy(out, torch.as_tensor(1 - y[400:]))
    assert restored.item() == pytest.approx(h["valid_loss"].min(), rel=1e-5)


def test_divergence_stops_at_once_and_keeps_the_best_state(cancer, mlp):
    with pytest.warns(RuntimeWarning, match=r"epoch 1, batch \d+ .*Lower lr, clip gradients"):
        result = fit(mlp(), cancer, epochs=5, lr=1e6, optimizer="sgd", progress=False)
    assert result.stop_reason == "diverged"
    assert "Restored the initial weights" in result.message
    assert len(result.history) == 1 and np.isnan(result.history["train_loss"][0])
    assert all(torch.isfinite(p).all() for p in result.model.parameters())


def test_divergence_after_good_epochs_restores_best(cancer, mlp):
    class Explode(Callback):
        def on_epoch_end(self, state, **kwargs):
            if state.epoch == 2:
                state.optimizer.param_groups[0]["lr"] = 1e7

    with pytest.warns(RuntimeWarning, match="epoch 3"):
        result = fit(mlp(), cancer, epochs=5, lr=0.05, callbacks=[Explode()], progress=False)
    assert result.best_epoch in (1, 2)
    assert f"Restored the weights of epoch {result.best_epoch}" in result.message
    for key, value in result.model.state_dict().items():
        assert torch.equal(value, result.best_state[key])


def test_regression_defaults_to_gaussian_and_r2(mlp):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(300, 4, generator=g)
    y = X @ torch.tensor([1.0, -2.0, 0.5, 0.0]) + 0.1 * torch.randn(300, generator=g)
    result = fit(mlp(4, 1), (X[:200], y[:200]), (X[200:], y[200:]), epochs=20, lr=0.01,
                 optimizer="adam", progress=False)
    assert result.likelihood.name == "gaussian"
    assert result.history["valid_r2"].iloc[-1] > 0.9


def test_dataset_objects_are_accepted(cancer, mlp):
    data = pytest.importorskip("fnnlab.data")
    splits = data.split(data.load("breast_cancer"), seed=0)
    result = fit(mlp(splits.n_features, 2), splits.train, splits.valid, epochs=2, lr=0.05,
                 progress=False)
    assert result.history["valid_accuracy"].iloc[-1] > 0.85


def test_fnn_with_data_dependent_init(cancer):
    models = pytest.importorskip("fnnlab.models")
    model = models.build(models.FNNSpec(in_features=30, out_features=2, depth=2, width=16,
                                        method="weightnorm"))
    assert model.needs_data_init
    result = fit(model, cancer, epochs=2, lr=0.05, progress=False)
    assert not model.needs_data_init
    assert result.history["train_loss"].iloc[-1] < 0.3


def test_bf16_trains_with_float32_master_weights(cancer, mlp):
    result = fit(mlp(), cancer, epochs=3, lr=0.05, precision="bf16", progress=False)
    assert all(p.dtype == torch.float32 for p in result.model.parameters())
    assert result.history["train_loss"].iloc[-1] < 0.2


def test_callback_events_and_stop(cancer, mlp):
    events = []

    class Recorder(Callback):
        def on_fit_start(self, state, **kwargs):
            events.append("start")

        def on_epoch_start(self, state, **kwargs):
            events.append(f"epoch{state.epoch}")

        def on_after_backward(self, state, **kwargs):
            if state.batch == 0:
                events.append("backward")

        def on_epoch_end(self, state, **kwargs):
            events.append("end")
            if state.epoch == 2:
                state.stop, state.stop_reason = True, "enough"

        def on_fit_end(self, state, **kwargs):
            events.append("fit_end")

    result = fit(mlp(), cancer, epochs=5, callbacks=[Recorder()], progress=False)
    assert events == ["start", "epoch1", "backward", "end", "epoch2", "backward", "end",
                      "fit_end"]
    assert result.stop_reason == "enough" and len(result.history) == 2


def test_progress_false_prints_nothing(cancer, mlp, capsys):
    fit(mlp(), cancer, epochs=1, progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_progress_true_shows_a_bar(cancer, mlp, capsys):
    fit(mlp(), cancer, epochs=2, progress=True)
    assert "epoch" in capsys.readouterr().err


def test_output_width_mismatch_is_explained(cancer, mlp):
    with pytest.raises(ValueError, match="1 output.*categorical likelihood needs 2"):
        fit(mlp(30, 1), cancer, epochs=1, progress=False)
    result = fit(mlp(30, 1), cancer, likelihood="bernoulli", epochs=1, progress=False)
    assert result.predict_proba(cancer[0]).shape == (569, 2)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epochs": 0}, ValueError, "epochs must be an int >= 1"),
        ({"batch_size": 2.5}, ValueError, "batch_size must be an int"),
        ({"precision": "fp16"}, ValueError, "precision must be 'fp32' or 'bf16'"),
        ({"device": "tpu"}, ValueError, "device must be"),
        ({"clip_norm": -1.0}, ValueError, "clip_norm must be a positive number"),
        ({"likelihood": "gausian"}, ValueError, "Did you mean 'gaussian'"),
        ({"metrics": ["r2x"]}, ValueError, "Known metrics"),
        ({"likelihood": "gaussian", "metrics": ["accuracy"]}, ValueError,
         "needs a classification likelihood"),
    ],
)
def test_bad_arguments(cancer, mlp, kwargs, error, match):
    with pytest.raises(error, match=match):
        fit(mlp(30, 2 if kwargs.get("likelihood") != "gaussian" else 1), cancer,
            progress=False, **kwargs)


def test_bad_data():
    model = torch.nn.Linear(3, 2)
    X = np.zeros((10, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="X has 10 rows but y has 9"):
        fit(model, (X, np.zeros(9, dtype=int)), progress=False)
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in feature column\(s\) \[1\]"):
        fit(model, (bad, np.zeros(10, dtype=int)), progress=False)
    with pytest.raises(TypeError, match="must be a fnnlab.data.Dataset or a pair"):
        fit(model, X, progress=False)
    with pytest.raises(ValueError, match="non-integer values"):
        fit(model, (X, np.linspace(0, 1, 10)), likelihood="categorical", progress=False)
    with pytest.raises(TypeError, match="must be numeric"):
        fit(model, (np.array([["a"] * 3] * 10), np.zeros(10, dtype=int)), progress=False)


def test_no_warnings_in_a_normal_run(cancer, mlp):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(mlp(), cancer, epochs=2, schedule="cyclic", warmup=1, progress=False)
