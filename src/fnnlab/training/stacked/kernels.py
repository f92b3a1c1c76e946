r"""Native fused kernels for stacked dense layers: compiled at first use, optional.

What they do
------------
``linear_act.c`` holds two loops over a stacked layer's (K, N, F) float32 tensors:

* :func:`bias_act_` — z ← act(z + b) in place, after ``torch.bmm`` has written z = x W;
* :func:`act_backward_` — g_z = g · act′ (from the activation's output y, written over
  y) and the bias gradient Σₙ g_z in one pass,

for ReLU and the ELU family scale · (x if x > 0 else α (eˣ − 1)) (SELU with
Klambauer et al.'s constants, ELU with scale 1). :mod:`fnnlab.training.stacked.fused`
builds the autograd node that uses them.

Why
---
A stacked step is bound by memory traffic, not arithmetic (each activation of the
benchmark network is 1 MiB, K = 64 × 64 rows × 64 features). ATen runs ``baddbmm``'s
bias broadcast, the activation and the bias gradient's ``sum`` as separate passes, and
its CPU ``elu`` evaluates ``expm1`` with a slow vector routine: 310 µs for 64³ values
on 2 threads against 41 µs for ``exp``, more than the (64, 64, 64) ``bmm`` itself
(203 µs). On ``benchmarks/bench_stacked.py``'s ``fit_many`` call (interleaved runs,
2 threads) the fused layers built on these kernels, with the gradient written in place
and plain SGD's step taken in the backward pass (:mod:`~fnnlab.training.stacked.fused`),
make the call 1.2–1.4× faster than torch's ops; ``benchmarks/BENCHMARKS.md`` has the
breakdown.

How they are built
------------------
The first call compiles ``linear_act.c`` with the system C compiler (``$CC``, else
``cc``, ``gcc`` or ``clang``) using ``-O3 -march=native``, and with ``-fopenmp`` when the
process has already loaded libgomp (torch's OpenMP runtime on Linux), so the kernels
share torch's thread pool and use ``torch.get_num_threads()`` threads; otherwise they
run on one thread. The library is cached in ``$FNNLAB_CACHE_DIR`` (default
``$XDG_CACHE_HOME/fnnlab`` or ``~/.cache/fnnlab``), under a name that hashes the source,
the compiler, the flags and the CPU's instruction set, and is written atomically, so
concurrent worker processes are safe. Compiling takes about 0.3 s, once per machine.
A cached library is loaded only after :func:`verify` accepts it: owned by this user,
writable by nobody else, and matching the build hash and file hash recorded beside it
(Note [kernel cache verification]); anything else is rebuilt.

When there is no compiler, the compile fails, or ``FNNLAB_NATIVE_KERNELS=0`` is set,
:func:`library` returns None and stacked layers use torch's own ops instead (same
results up to float32 rounding, slower); :func:`status` says which is in use and why.
The kernels take float32 CPU tensors only; any other dtype or device uses torch's ops.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

__all__ = ["Activation", "act_backward_", "bias_act_", "library", "status", "verify"]

SOURCE = Path(__file__).with_name("linear_act.c")
_BASE_FLAGS = ["-O3", "-fPIC", "-shared", "-fno-math-errno", "-fno-trapping-math"]
_c_p, _c_i64, _c_f, _c_int = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float, ctypes.c_int

_lock = threading.Lock()
_state: dict[str, object] = {}


@dataclass(frozen=True)
class Activation:
    """What the kernels compute: ``kind`` 0 is ReLU, 1 the ELU family with (alpha, scale)."""

    kind: int
    alpha: float = 0.0
    scale: float = 1.0

    @classmethod
    def relu(cls) -> Activation:
        return cls(0)

    @classmethod
    def elu(cls, alpha: float, scale: float = 1.0) -> Activation:
        if not alpha >= 0:
            raise ValueError(f"the ELU kernels need alpha >= 0 (the backward pass uses the "
                             f"output), got alpha={alpha}.")
        return cls(1, float(alpha), float(scale))


def _disabled() -> bool:
    return os.environ.get("FNNLAB_NATIVE_KERNELS", "1").strip().lower() in ("0", "false",
                                                                            "no", "off")


def cache_dir() -> Path:
    """Where compiled kernels are kept: ``$FNNLAB_CACHE_DIR``, else the XDG cache."""
    if os.environ.get("FNNLAB_CACHE_DIR"):
        return Path(os.environ["FNNLAB_CACHE_DIR"]) / "kernels"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fnnlab" / "kernels"


def _compiler() -> list[str] | None:
    if os.environ.get("CC"):
        cc = os.environ["CC"].split()
        return cc if shutil.which(cc[0]) else None
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return [path]
    return None


def _torch_has_libgomp() -> bool:
    # Our library links libgomp.so.1; when torch has loaded one, the dynamic loader
    # reuses it (same soname), so both share one OpenMP thread pool. Linking a second
    # OpenMP runtime next to another one (Intel's, LLVM's) would oversubscribe the cores.
    try:
        with open("/proc/self/maps") as maps:
            return any("libgomp" in line for line in maps)
    except OSError:
        return False


def _cpu_identity() -> str:
    # -march=native code must not be reused on a CPU with fewer instruction sets (a cache
    # directory shared by the nodes of a cluster): the instruction set is in the key.
    try:
        with open("/proc/cpuinfo") as info:
            lines = [line for line in info if line.startswith(("flags", "model name"))]
        return "".join(sorted(set(lines)))
    except OSError:
        return f"{platform.machine()} {platform.processor()}"


def _flag_sets() -> list[list[str]]:
    native = ["-march=native"]
    if platform.machine() in ("x86_64", "AMD64"):
        native.append("-mprefer-vector-width=512")  # AVX-512 where there is one
    openmp = ["-fopenmp"] if _torch_has_libgomp() else []
    sets = [_BASE_FLAGS + native + openmp, _BASE_FLAGS + native, _BASE_FLAGS]
    return [s for i, s in enumerate(sets) if s not in sets[:i]]


def _compile(cc: list[str], flags: list[str], target: Path, build: str) -> str | None:
    """Compile to ``target`` atomically and record it; None on success, else why it failed.

    ``build`` is the hash of what went into the library (source, compiler, flags, CPU);
    it is written with the library's own hash to the record file beside it
    (Note [kernel cache verification]).
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
    except OSError as err:
        return str(err)
    try:
        done = subprocess.run([*cc, *flags, str(SOURCE), "-o", tmp], capture_output=True,
                              text=True, timeout=120)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            return lines[0] if lines else f"exit code {done.returncode}"
        os.chmod(tmp, 0o755)  # whatever the umask: nobody else may write it
        record = _record_path(target)
        _write_atomically(record, f"{build}\n{_file_hash(Path(tmp))}\n")
        os.replace(tmp, target)  # atomic: a concurrent process sees all or nothing
        return None
    except (OSError, subprocess.SubprocessError) as err:
        return str(err)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# Note [kernel cache verification]
#   The cache sits at a predictable path, and loading a shared library runs its code.
#   So a cached library is loaded only when (1) it and its record file are regular
#   files (not links) owned by this user and writable by nobody else, in a folder
#   owned by this user and writable by nobody else, and (2) the record holds the hash
#   of the source, compiler, flags and CPU this process would build with, and the
#   SHA-256 of the library file as it is now. Anything else is rebuilt (or, for a
#   folder that fails (1), built in a private temporary folder), never loaded.


def _record_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _private(path: Path, kind: str) -> str | None:
    """None if ``path`` is this user's and no one else may write it, else why not."""
    try:
        st = os.lstat(path)
    except OSError as err:
        return f"{path}: {err.strerror or err}"
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link"
    if not (stat.S_ISDIR(st.st_mode) if kind == "folder" else stat.S_ISREG(st.st_mode)):
        return f"{path} is not a {kind}"
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return f"{path} is owned by user id {st.st_uid}, not by this user"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} is writable by other users"
    return None


def verify(target: Path, build: str) -> str | None:
    """None if the cached library ``target`` may be loaded, else why not.

    See Note [kernel cache verification]; ``build`` is the hash of source, compiler,
    flags and CPU the library must have been built from.
    """
    record = _record_path(target)
    for path, kind in ((target.parent, "folder"), (target, "file"), (record, "file")):
        reason = _private(path, kind)
        if reason is not None:
            return reason
    lines = record.read_text().split()
    if len(lines) != 2 or lines[0] != build:
        return f"{record} records another build (source, compiler or flags changed)"
    if lines[1] != _file_hash(target):
        return f"{target} does not match the hash recorded in {record}"
    return None


def _load(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    lib.fnnlab_bias_act_forward.argtypes = [_c_p, _c_p, _c_i64, _c_i64, _c_i64, _c_int,
                                            _c_f, _c_f, _c_int]
    lib.fnnlab_act_backward.argtypes = [_c_p, _c_p, _c_p, _c_i64, _c_i64, _c_i64, _c_int,
                                        _c_f, _c_f, _c_int]
    lib.fnnlab_bias_act_forward.restype = lib.fnnlab_act_backward.restype = None
    return lib


def _build() -> tuple[ctypes.CDLL | None, str]:
    if _disabled():
        return None, "off (FNNLAB_NATIVE_KERNELS=0)"
    if sys.platform.startswith("win"):
        return None, "off (not built on Windows)"
    cc = _compiler()
    if cc is None:
        return None, "off (no C compiler found; set CC)"
    try:
        version = subprocess.run([*cc, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout.splitlines()[:1]
    except (OSError, subprocess.SubprocessError) as err:
        return None, f"off ({cc[0]} --version failed: {err})"
    source = SOURCE.read_bytes()
    directory = _cache_folder()
    errors = []
    for flags in _flag_sets():
        build = hashlib.sha256(b"\0".join([source, " ".join(cc + version + flags).encode(),
                                           _cpu_identity().encode()])).hexdigest()
        target = directory / f"linear_act-{build[:16]}.so"
        cached = target.exists() and verify(target, build) is None
        error = None if cached else _compile(cc, flags, target, build)
        if error is None:
            try:
                lib = _load(target)
            except OSError as err:
                error = str(err)
                if cached:  # a damaged cache entry: build it again once
                    target.unlink(missing_ok=True)
                    error = _compile(cc, flags, target, build)
                    if error is None:
                        try:
                            lib = _load(target)
                        except OSError as err2:
                            error = str(err2)
            if error is None:
                extra = " ".join(flags[len(_BASE_FLAGS):]) or "portable"
                return lib, f"native ({extra})"
        errors.append(f"{' '.join(flags)}: {error}")
    return None, "off (compiling linear_act.c failed: " + "; ".join(errors) + ")"


def _cache_folder() -> Path:
    """`cache_dir`, when it is this user's alone; else a new private folder for this process."""
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        usable = _private(directory, "folder") is None and os.access(directory, os.W_OK)
    except OSError:
        usable = False
    if usable:
        return directory
    return Path(tempfile.mkdtemp(prefix="fnnlab-kernels-"))  # mode 0700, never shared


def library() -> ctypes.CDLL | None:
    """The loaded kernels, compiling them on the first call; None where unavailable."""
    if "lib" not in _state:
        with _lock:
            if "lib" not in _state:
                _state["lib"], _state["status"] = _build()
    return _state["lib"]  # type: ignore[return-value]


def status() -> str:
    """"native (flags)" or "off (reason)": what stacked dense layers use in this process."""
    library()
    return str(_state["status"])


def bias_act_(z: Tensor, bias: Tensor, act: Activation) -> Tensor:
    """z ← act(z + bias) in place; z (K, N, F) contiguous, bias (K, 1, F) or (K, F)."""
    k, n, f = z.shape
    if not z.is_contiguous() or bias.numel() != k * f:
        raise ValueError(f"bias_act_ needs a contiguous (K, N, F) z and a (K, 1, F) bias, got "
                         f"{tuple(z.shape)} and {tuple(bias.shape)}.")
    bias = bias.contiguous()
    library().fnnlab_bias_act_forward(z.data_ptr(), bias.data_ptr(), k, n, f, act.kind,
                                      act.alpha, act.scale, torch.get_num_threads())
    return z


def act_backward_(grad: Tensor, out: Tensor, act: Activation) -> tuple[Tensor, Tensor]:
    """out ← grad · act′(out) in place; returns (out, its sum over rows as (K, 1, F)).

    The activation's output becomes the gradient of its input: call this only when
    nothing needs the output any more (see :mod:`~fnnlab.training.stacked.fused`).
    """
    k, n, f = out.shape
    if not out.is_contiguous():
        raise ValueError("act_backward_ writes into out, which must be contiguous.")
    grad = grad.contiguous()
    grad_bias = torch.empty(k, 1, f, dtype=out.dtype)
    library().fnnlab_act_backward(grad.data_ptr(), out.data_ptr(), grad_bias.data_ptr(), k, n,
                                  f, act.kind, act.alpha, act.scale, torch.get_num_threads())
    return out, grad_bias
