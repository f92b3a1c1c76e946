"""What the paper-reproduction scripts share: the results store, the parallel loop, the machine.

``reproduce_htru2.py`` and ``reproduce_tox21.py`` train units of work (one
``fnnlab.fit_many`` call each) in local processes with ``fnnlab.bench.runner.run_jobs``
(one torch thread per process) and append every unit's rows to a JSON-lines file as
soon as the unit finishes, so an interrupted run loses at most the units in flight and
a rerun trains only the missing ones.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

import fnnlab
from fnnlab.bench.runner import run_jobs

ROOT = Path(__file__).resolve().parent.parent


def parser(name: str, description: str, *, data: str, quick: str,
           seed: str) -> argparse.ArgumentParser:
    """The options every script takes; ``name`` ("htru2") names the data folder and files."""
    out = argparse.ArgumentParser(description=description)
    out.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / name,
                     help=f"folder with {data}")
    out.add_argument("--store", type=Path, default=None,
                     help=f"JSON-lines results (default results/{name}[-quick].jsonl)")
    out.add_argument("--out", type=Path, default=None,
                     help=f"the page (default docs/results/{name}.md; --quick: results/)")
    out.add_argument("--jobs", type=int, default=2, help="processes (1 torch thread each)")
    out.add_argument("--seed", type=int, default=0, help=seed)
    out.add_argument("--quick", action="store_true", help=f"smoke run: {quick}")
    out.add_argument("--no-progress", dest="progress", action="store_false")
    return out


def destinations(args: argparse.Namespace, name: str) -> tuple[Path, Path]:
    """The store and the page of a run: ``--store`` / ``--out`` or the defaults."""
    suffix = "-quick" if args.quick else ""
    store = args.store or ROOT / "results" / f"{name}{suffix}.jsonl"
    out = args.out or (ROOT / "results" / f"{name}-quick.md" if args.quick
                       else ROOT / "docs" / "results" / f"{name}.md")
    return store, out


def command(script: str, argv: Sequence[str] | None) -> str:
    """The command line that reproduces the page (without ``--no-progress``)."""
    shown = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--no-progress"]
    return " ".join([f"python benchmarks/{script}", *shown])


def read_store(store: Path) -> list[dict[str, Any]]:
    """The rows written so far (none if the file does not exist)."""
    if not store.exists():
        return []
    return [json.loads(line) for line in store.read_text().splitlines() if line.strip()]


def run_units(fn: Callable[[Any], list[dict[str, Any]]], units: Sequence[Any], store: Path,
              jobs: int, *, desc: str, progress: bool = True) -> float:
    """Run ``fn`` on every unit, appending its rows to ``store``; return the wall seconds.

    A unit that raises stops the run with its error; the rows of the units that
    finished stay in the store.
    """
    store.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    done = 0
    try:
        with store.open("a") as out:
            for unit, rows in run_jobs(fn, units, n_jobs=jobs, progress=progress, desc=desc,
                                       unit="unit"):
                if isinstance(rows, dict):
                    raise RuntimeError(f"{desc}: unit {unit!r} failed: {rows.get('error')}")
                out.writelines(json.dumps(row) + "\n" for row in rows)
                out.flush()
                done += 1
    finally:
        seconds = time.perf_counter() - start
        if done:
            with _runs_file(store).open("a") as log:
                log.write(json.dumps({"seconds": round(seconds, 1), "units": done,
                                      "jobs": jobs, "load": round(os.getloadavg()[0], 1),
                                      "end": time.strftime("%Y-%m-%d %H:%M UTC",
                                                           time.gmtime())}) + "\n")
    return seconds


def _runs_file(store: Path) -> Path:
    return store.with_name(store.name + ".runs")


def wall_time(store: Path) -> str:
    """The wall time of the runs that trained the store's units, as one phrase."""
    runs = read_store(_runs_file(store))
    if not runs:
        return "no unit trained yet"
    total = sum(r["seconds"] for r in runs)
    jobs = "/".join(str(j) for j in dict.fromkeys(r["jobs"] for r in runs))
    parts = f" in {len(runs)} runs" if len(runs) > 1 else ""
    return (f"{total:.0f} s ({total / 60:.1f} min) for {sum(r['units'] for r in runs)} "
            f"units{parts}, {jobs} process(es) with 1 torch thread each, load average "
            f"{max(r['load'] for r in runs):.1f} at the end")


def cpu() -> str:
    """The CPU's model name (Linux), else what ``platform`` knows."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def machine() -> str:
    """One line about this machine: CPU, cores, Python, torch, fnnlab."""
    return (f"{cpu()}, {os.cpu_count()} cores shared with other jobs (load average "
            f"{os.getloadavg()[0]:.1f} when the page was written, so wall times are noisy), "
            f"Python {platform.python_version()}, torch {torch.__version__}, "
            f"fnnlab {fnnlab.__version__}")
