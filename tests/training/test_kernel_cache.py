"""The native kernels' cache loads only verified libraries (fnnlab.training.stacked.kernels)."""

import hashlib
import os
import subprocess

import pytest

from fnnlab.training.stacked import kernels

native = pytest.mark.skipif(kernels.library() is None,
                            reason=f"native kernels unavailable: {kernels.status()}")

BUILD = "b" * 64


@pytest.fixture
def cached(tmp_path):
    """A fake cached library with a correct record, in a private folder."""
    folder = tmp_path / "kernels"
    folder.mkdir(mode=0o700)
    folder.chmod(0o700)
    library = folder / f"linear_act-{BUILD[:16]}.so"
    library.write_bytes(b"\x7fELF pretend library")
    library.chmod(0o755)
    record = folder / (library.name + ".sha256")
    record.write_text(f"{BUILD}\n{hashlib.sha256(library.read_bytes()).hexdigest()}\n")
    record.chmod(0o644)
    return library


def test_a_recorded_private_library_is_accepted(cached):
    assert kernels.verify(cached, BUILD) is None


def test_a_changed_library_is_refused(cached):
    cached.write_bytes(cached.read_bytes() + b"\x90")
    assert "does not match the hash" in kernels.verify(cached, BUILD)


def test_a_library_without_record_is_refused(cached):
    (cached.parent / (cached.name + ".sha256")).unlink()
    assert "No such file" in kernels.verify(cached, BUILD)


def test_a_record_of_another_build_is_refused(cached):
    assert "another build" in kernels.verify(cached, "c" * 64)


@pytest.mark.parametrize("which", ["library", "folder"])
def test_files_others_may_write_are_refused(cached, which):
    path = cached if which == "library" else cached.parent
    path.chmod(0o777 if which == "folder" else 0o666)
    assert "writable by other users" in kernels.verify(cached, BUILD)


def test_files_of_another_user_are_refused(cached, monkeypatch):
    monkeypatch.setattr(kernels.os, "getuid", lambda: os.stat(cached).st_uid + 1)
    assert "owned by user id" in kernels.verify(cached, BUILD)


def test_a_symbolic_link_is_refused(cached):
    real = cached.with_name("real.so")
    cached.rename(real)
    cached.symlink_to(real)
    assert "symbolic link" in kernels.verify(cached, BUILD)


def test_a_cache_folder_others_may_write_is_not_used(monkeypatch, tmp_path):
    shared = tmp_path / "kernels"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("FNNLAB_CACHE_DIR", str(tmp_path))
    private = kernels._cache_folder()
    assert private != shared and kernels._private(private, "folder") is None


@native
def test_a_planted_library_is_rebuilt_never_loaded(monkeypatch, tmp_path):
    # A library whose constructor leaves a mark when loaded, planted at the cache path
    # of a real build: loading it would run its code.
    monkeypatch.setenv("FNNLAB_CACHE_DIR", str(tmp_path))
    lib, _ = kernels._build()
    assert lib is not None
    (built,) = (tmp_path / "kernels").glob("linear_act-*.so")
    record = built.with_name(built.name + ".sha256")
    build = record.read_text().split()[0]
    assert kernels.verify(built, build) is None
    mark = tmp_path / "planted-code-ran"
    source = tmp_path / "planted.c"
    source.write_text('#include <stdio.h>\n__attribute__((constructor)) static void run(void)'
                      f' {{ FILE *f = fopen("{mark}", "w"); if (f) fclose(f); }}\n')
    cc = kernels._compiler()
    subprocess.run([*cc, "-shared", "-fPIC", str(source), "-o", str(built)], check=True)
    lib, why = kernels._build()
    assert lib is not None and why.startswith("native")
    assert not mark.exists()
    assert kernels.verify(built, build) is None  # rebuilt and recorded again
