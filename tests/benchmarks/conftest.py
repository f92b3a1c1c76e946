"""The script of ``benchmarks/`` a test module names in ``SCRIPT``, loaded as a module."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def script(request):
    """``benchmarks/<SCRIPT>.py`` of the requesting test module, imported; undone at the end."""
    name = request.module.SCRIPT
    sys.path.insert(0, str(BENCHMARKS))  # the scripts import their sibling _reproduce
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    yield module
    del sys.modules[name]
    sys.path.remove(str(BENCHMARKS))
