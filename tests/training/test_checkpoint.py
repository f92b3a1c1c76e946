"""Checkpoints: spec + weights round trip, atomic writes, pickle-carrying files refused."""

import os
import pickle

import pytest
import torch

import fnnlab
from fnnlab.training import read
from fnnlab.training.checkpoint import write

models = pytest.importorskip("fnnlab.models")


@pytest.fixture
def fnn():
    torch.manual_seed(0)
    return models.build(models.FNNSpec(in_features=5, out_features=3, depth=2, width=8))


def test_save_load_round_trip(fnn, tmp_path):
    path = fnnlab.save(fnn, tmp_path / "m.pt", likelihood="categorical", classes=["a", "b", "c"])
    loaded = fnnlab.load(path)
    assert loaded.spec == fnn.spec
    x = torch.randn(4, 5)
    fnn.eval(), loaded.eval()
    torch.testing.assert_close(loaded(x), fnn(x), rtol=0, atol=0)
    payload = read(path)
    assert payload["spec"] == fnn.spec.to_dict()
    assert payload["extra"] == {"likelihood": "categorical", "classes": ["a", "b", "c"]}
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left


def test_failed_write_keeps_the_old_file(fnn, tmp_path, monkeypatch):
    path = fnnlab.save(fnn, tmp_path / "m.pt")
    before = path.read_bytes()

    def crash(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        fnnlab.save(fnn, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def test_tampered_checkpoint_is_refused(fnn, tmp_path, capfd):
    path = fnnlab.save(fnn, tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["extra"] = {"note": _Payload()}
    torch.save(payload, path)  # a file that would run code under a plain pickle load
    with pytest.raises(ValueError, match="Refusing to load .*could run code"):
        fnnlab.load(path)
    assert "must never run" not in capfd.readouterr().out


def test_non_checkpoints_are_refused(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="not in torch.save's archive format"):
        fnnlab.load(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="not a fnnlab checkpoint"):
        fnnlab.load(other)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fnnlab.load(tmp_path / "missing.pt")
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"format": "fnnlab", "spec": set()}))
    with pytest.raises(ValueError, match="not a fnnlab checkpoint"):
        fnnlab.load(plain)
    truncated = tmp_path / "truncated.pt"
    torch.save({"format": "fnnlab", "x": torch.zeros(100)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:-200])
    with pytest.raises(ValueError, match="not a|Refusing"):
        fnnlab.load(truncated)


def test_save_needs_a_spec_and_plain_extras(fnn, tmp_path):
    with pytest.raises(TypeError, match="needs a model built by fnnlab.build"):
        fnnlab.save(torch.nn.Linear(2, 2), tmp_path / "x.pt")
    with pytest.raises(TypeError, match=r"payload\['extra'\]\['bad'\] has type object"):
        fnnlab.save(fnn, tmp_path / "x.pt", bad=object())
    assert not (tmp_path / "x.pt").exists()


def test_training_checkpoint_loads_as_model(tmp_path):
    model = models.build(models.FNNSpec(in_features=3, out_features=1, depth=1, width=4))
    g = torch.Generator().manual_seed(0)
    data = (torch.randn(32, 3, generator=g), torch.randn(32, generator=g))
    fnnlab.fit(model, data, epochs=2, checkpoint=tmp_path / "run.pt", progress=False)
    loaded = fnnlab.load(tmp_path / "run.pt")
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_write_is_atomic_rename(tmp_path):
    path = write({"format": "fnnlab", "x": torch.ones(2)}, tmp_path / "sub" / "a.pt")
    assert torch.equal(read(path)["x"], torch.ones(2))


def test_long_float_lists_are_stored_as_tensors_and_read_back_unchanged(fnn, tmp_path):
    # Note [number lists as tensors]
    numbers = [float(i) / 7 for i in range(300)]
    extra = {"long": numbers, "short": numbers[:10], "ints": list(range(300)),
             "nested": [{"q": numbers}], "mixed": [*numbers, "a"]}
    path = fnnlab.save(fnn, tmp_path / "m.pt", **extra)
    raw = torch.load(path, weights_only=True)["extra"]
    assert isinstance(raw["long"]["__fnnlab_float64__"], torch.Tensor)
    assert raw["short"] == numbers[:10] and raw["ints"] == list(range(300))
    assert read(path)["extra"] == extra


@pytest.mark.parametrize("scaling", ["standard", "robust", "quantile", "none"])
def test_fitted_scaling_round_trips_through_a_checkpoint_exactly(fnn, tmp_path, scaling):
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.lognormal(0, 3, (400, 5)), columns=list("abcde"))
    frame["e"] = (frame["e"] > 1).astype(float)  # a 0/1 column
    pre = fnnlab.data.Preprocessor(scaling=scaling).fit(frame.iloc[:300])
    path = fnnlab.save(fnn, tmp_path / "m.pt", preprocessor=pre.to_dict())
    rebuilt = fnnlab.data.Preprocessor.from_dict(read(path)["extra"]["preprocessor"])
    loaded = fnnlab.load(path).eval()
    fnn.eval()
    x_new, x_rebuilt = pre.transform(frame.iloc[300:]), rebuilt.transform(frame.iloc[300:])
    np.testing.assert_array_equal(x_rebuilt, x_new)
    with torch.no_grad():
        torch.testing.assert_close(loaded(torch.from_numpy(x_rebuilt)),
                                   fnn(torch.from_numpy(x_new)), rtol=0, atol=0)
