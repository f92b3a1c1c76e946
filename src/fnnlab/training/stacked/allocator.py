r"""Keep freed memory in the process during stacked training (glibc's ``mallopt``).

Why
---
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
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["keep_freed_memory"]

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
