"""keep_freed_memory: glibc keeps freed 1-8 MiB blocks mapped instead of faulting them in again.

Each check runs in a fresh interpreter that loads only ``allocator.py`` (no torch), so
the process-wide malloc setting of one case cannot leak into the other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import fnnlab.training.stacked.allocator as allocator

_PROBE = r"""
import importlib.util, json, resource, sys
spec = importlib.util.spec_from_file_location("allocator", sys.argv[1])
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
applied = mod.keep_freed_memory() if sys.argv[2] == "tune" else None
again = mod.keep_freed_memory() if sys.argv[2] == "tune" else None

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

SIZE, PAGE = 1 << 20, 4096
ONES = b"\x01" * (SIZE // PAGE)

def step():  # like a stacked step: many 1 MiB tensors written, then all freed
    blocks = [bytearray(SIZE) for _ in range(16)]
    for block in blocks:
        block[::PAGE] = ONES  # write every page
    del blocks

step()  # the first touch of the heap is not counted
before = faults()
for _ in range(20):
    step()
print(json.dumps({"applied": applied, "again": again, "faults": faults() - before}))
"""


def _probe(mode: str, **env: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, allocator.__file__, mode],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    return json.loads(out.stdout)


glibc = pytest.mark.skipif(allocator._glibc() is None, reason="needs Linux with glibc")


@glibc
def test_tuned_malloc_reuses_freed_blocks_without_page_faults():
    default = _probe("default")
    tuned = _probe("tune")
    assert tuned["applied"] is True and tuned["again"] is True
    # 20 steps x 16 blocks x 256 pages = 81,920 page writes. glibc's default returns
    # the freed blocks to the kernel, so most writes fault again.
    assert default["faults"] > 40_000
    # Tuned: the freed blocks stay in the heap and are reused.
    assert tuned["faults"] < 2_000


@glibc
@pytest.mark.parametrize("value", ["0", "off", "false"])
def test_environment_variable_turns_the_tuning_off(value):
    result = _probe("tune", FNNLAB_MALLOC_TUNING=value)
    assert result["applied"] is False
    assert result["faults"] > 40_000


def test_does_nothing_without_glibc(monkeypatch):
    monkeypatch.setattr(allocator, "_glibc", lambda: None)
    monkeypatch.setattr(allocator, "_state", {})
    assert allocator.keep_freed_memory() is False


def test_paused_gc_restores_the_collector_state_also_on_error():
    import gc

    was = gc.isenabled()
    try:
        gc.enable()
        with allocator.paused_gc():
            assert not gc.isenabled()
        assert gc.isenabled()
        with pytest.raises(KeyError), allocator.paused_gc():
            raise KeyError("boom")
        assert gc.isenabled()
        gc.disable()  # a caller that turned it off itself keeps it off
        with allocator.paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


def test_fit_many_trains_stacks_with_the_collector_paused(monkeypatch):
    import gc

    import torch

    import fnnlab as fl
    from fnnlab.training.stacked import loop

    seen = []
    real = loop.train_stack
    monkeypatch.setattr(loop, "train_stack",
                        lambda *a, **k: seen.append(gc.isenabled()) or real(*a, **k))
    spec = fl.FNNSpec(in_features=3, out_features=2, depth=2, width=4)
    x, y = torch.randn(20, 3), torch.randint(0, 2, (20,))
    was = gc.isenabled()
    gc.enable()
    try:
        fl.fit_many([spec] * 2, (x, y), epochs=1, seed=[0, 1], progress=False)
        assert seen == [False] and gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
