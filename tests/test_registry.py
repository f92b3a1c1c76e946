import pytest
from torch import nn

from fnnlab import Registry


def _registry() -> Registry:
    reg = Registry("widget")
    reg.register("relu", "rectifier")(nn.ReLU)
    reg.register("tanh")(nn.Tanh)
    return reg


def test_create_returns_a_fresh_instance_each_call():
    reg = _registry()
    a, b = reg.create("relu"), reg.create("relu")
    assert isinstance(a, nn.ReLU) and a is not b


def test_alias_and_case_resolve_to_the_same_entry():
    reg = _registry()
    assert reg.get("rectifier") is nn.ReLU
    assert reg.get("ReLU") is nn.ReLU
    assert reg.canonical("rectifier") == "relu"
    assert "rectifier" in reg and "sigmoid" not in reg


def test_names_are_sorted_and_exclude_aliases():
    assert _registry().names() == ["relu", "tanh"]


def test_unknown_name_suggests_the_closest_and_lists_the_known():
    with pytest.raises(ValueError, match=r"Unknown widget 'relu2'\. Did you mean 'relu'\? "
                                         r"Known widgets: relu, tanh"):
        _registry().create("relu2")


def test_registering_a_taken_name_or_alias_raises():
    reg = _registry()
    with pytest.raises(ValueError, match="already registered"):
        reg.register("relu")(nn.ELU)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("elu", "rectifier")(nn.ELU)
    assert reg.get("relu") is nn.ReLU


def test_names_must_be_lowercase():
    with pytest.raises(ValueError, match="lowercase"):
        _registry().register("LeakyReLU")(nn.LeakyReLU)


def test_a_class_or_callable_is_accepted_in_place_of_a_name():
    reg = _registry()
    assert isinstance(reg.create(nn.ELU, alpha=0.5), nn.ELU)
    with pytest.raises(TypeError, match="widget name or a callable"):
        reg.create(3)
