"""Argument types shared by the subcommands: values checked when the command line is read.

A bad value fails at once with argparse's one-line usage error (exit code 2), before
any data are read or any network trains: ``--lr inf``, ``--jobs 0``, an output path
in a folder that cannot be written.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path

__all__ = ["jobs", "output_dir", "output_path", "positive_float", "scaling", "store_path"]


def positive_float(text: str) -> float:
    """A finite number > 0 (learning rates, scales)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def jobs(text: str) -> int:
    """A number of parallel jobs: n >= 1, or -1 for every core (-2 all but one, ...)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("0 jobs would run nothing; pass a count >= 1, or -1 "
                                         "for every core")
    return value


def output_path(text: str) -> str:
    """A file to write: its folder exists and is writable, or can be created."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; pass a file path")
    if path.exists() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text} exists and is not writable")
    _check_writable_folder(path.absolute().parent, text)
    return text


def output_dir(text: str) -> str:
    """A folder to write into: it exists and is writable, or it can be created."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder; pass a folder "
                                         f"path (it is created if needed)")
    _check_writable_folder(path.absolute(), text)
    return text


def store_path(text: str) -> str:
    """A results store (SQLite file): its folder must exist, as SQLite does not create it."""
    folder = Path(text).absolute().parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"the folder of {text}, {folder}, does not exist; "
                                         f"create it first (mkdir -p {folder})")
    return output_path(text)


def scaling(text: str) -> str:
    """A name of ``fnnlab.data.SCALINGS`` (how numeric feature columns are scaled)."""
    from fnnlab.data.scaling import SCALINGS

    try:
        return SCALINGS.canonical(text)
    except ValueError as error:
        # The registry's message without its last sentence, which offers classes.
        raise argparse.ArgumentTypeError(str(error).split(" Pass one of")[0]) from None


def _check_writable_folder(folder: Path, text: str) -> None:
    """Raise unless ``folder``, or its nearest existing ancestor, takes a new file."""
    while not folder.exists():
        folder = folder.parent
    try:
        # Creating a file is the one test that also covers read-only mounts, /proc and
        # access control lists; the file disappears when closed.
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise argparse.ArgumentTypeError(
            f"cannot write {text}: {folder} does not take new files "
            f"({error.strerror or error})") from None
