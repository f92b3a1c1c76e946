import importlib

import pytest

import fnnlab


@pytest.mark.parametrize("name", fnnlab.__all__)
def test_every_public_name_imports(name):
    assert getattr(fnnlab, name) is not None


@pytest.mark.parametrize("name", fnnlab._LAZY_MODULES)
def test_lazy_subpackages_load_on_first_use(name):
    assert getattr(fnnlab, name) is importlib.import_module(f"fnnlab.{name}")


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fnnlab.nope  # noqa: B018


def test_design_quick_start_runs_end_to_end():
    spec = fnnlab.FNNSpec(in_features=30, out_features=2, depth=4, width=32, method="snn")
    model = fnnlab.build(spec)
    splits = fnnlab.data.split(fnnlab.data.load("breast_cancer"), seed=0)
    result = fnnlab.fit(model, splits.train, valid=splits.valid, likelihood="categorical",
                        optimizer="sgd", lr=0.05, epochs=5, seed=0, progress=False)
    assert result.history["valid_accuracy"].iloc[-1] > 0.85


def test_model_and_data_loaders_have_distinct_names_and_old_aliases():
    assert fnnlab.load_model is fnnlab.load and fnnlab.save_model is fnnlab.save
    assert fnnlab.load_model is not fnnlab.data.load
    assert "Registry" not in fnnlab.__all__
    from fnnlab import Registry  # still importable for code that used it

    assert Registry is importlib.import_module("fnnlab.registry").Registry
