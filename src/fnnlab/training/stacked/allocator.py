r"""Memory management for stacked training: glibc's ``mallopt``, and pausing Python's GC.

Why keep freed memory
---------------------
A stacked step allocates and frees tensors of about 1 MiB (K = 64 members × 64 rows ×
64 features × 4 bytes) dozens of times. PyTorch's CPU allocator is glibc ``malloc``.
With glibc's defaults, freed memory at the top of the heap is handed back to the
kernel once it exceeds the trim threshold (twice the dynamic mmap threshold, a few
MiB), so the next step's tensors fault their pages in again: 472,000 minor page faults
against 79,000 for 700 steps of the benchmark model, and 195 against 139 µs per member
and step (K = 64, 2 threads, ``benchmarks/bench_stacked.py``'s network). Raising the
two thresholds keeps those pages mapped and reused.

What it changes
---------------
:func:`keep_freed_memory` calls ``mallopt(M_MMAP_THRESHOLD, 32 MiB)`` (the ceiling
glibc's own dynamic threshold grows to on 64-bit systems) and
``mallopt(M_TRIM_THRESHOLD, 64 MiB)``, once per process: up to 64 MiB of freed memory
stays with the process instead of going back to the system. It is process-wide and
cannot be undone (glibc has no "back to dynamic" setting), which is why it is done
only by stacked training, whose tensors are large enough to gain. Set the environment
variable ``FNNLAB_MALLOC_TUNING=0`` to leave malloc alone. On systems without glibc
(macOS, Windows, musl) it does nothing. The same effect from outside the process:
``MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=67108864``, or a caching
allocator such as jemalloc or tcmalloc via ``LD_PRELOAD``.

Why pause the cyclic garbage collector
--------------------------------------
Building K member networks and their histories allocates tens of thousands of
container objects (64 members: about 1,500 modules with their dicts), which triggers
Python's generational collector: 46 young and 5 middle collections per
``benchmarks/bench_stacked.py`` run, and in one run of three a full collection that
walked every tracked object of the process (378,000 with torch, pandas and
scikit-learn imported) and took 205 ms, 7 % of the run. Stacked training creates no
reference cycles (a collection after a run with the collector paused found 0
unreachable objects, and peak memory did not grow), so :func:`paused_gc` switches the
collector off for the duration of a stack and restores its previous state afterwards.
64 sequential ``fit`` calls triggered 6 young collections and none of the others.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import os
import sys
from collections.abc import Iterator

__all__ = ["keep_freed_memory", "paused_gc"]

_M_TRIM_THRESHOLD = -1  # from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 64 << 20

_state: dict[str, bool] = {}


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    # musl also has a mallopt symbol, but it ignores these settings.
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None
    return libc


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds once per process (see the module docstring).

    Returns
    -------
    bool
        True if the thresholds are set (now or by an earlier call), False if the
        platform has no glibc or ``FNNLAB_MALLOC_TUNING=0`` turns the tuning off.
    """
    if os.environ.get("FNNLAB_MALLOC_TUNING", "1").strip().lower() in ("0", "false", "no",
                                                                       "off"):
        return False
    if "applied" not in _state:
        libc = _glibc()
        ok = libc is not None
        if ok:
            libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            libc.mallopt.restype = ctypes.c_int
            # mallopt returns 1 on success, 0 on error.
            ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
                bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
        _state["applied"] = ok
    return _state["applied"]


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Switch Python's cyclic garbage collector off inside the block, then restore it.

    Reference counting still frees everything that is not part of a cycle; see the
    module docstring for why stacked training pauses the collector.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
