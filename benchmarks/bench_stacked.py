"""Stacked training (fnnlab.fit_many) against sequential fnnlab.fit calls.

64 networks (depth 4, width 64, SNN preset: SELU, LeCun normal, no dropout), each with
its own seed and learning rate, on 1000 samples x 20 features (binary task, seeded),
batch 64, 20 epochs, plain SGD. Runs alternate (sequential, stacked, sequential, ...)
so slow phases of a shared machine hit both; the script prints the median and the
min-max of the wall times and the ratio of the medians, then measures the stacked
run's peak memory in a fresh subprocess (peak RSS minus the RSS before the call) next
to ``member_bytes`` x K, the estimate ``fit_many`` chunks by.

    .venv/bin/python benchmarks/bench_stacked.py --threads 1 --repeats 3
    PYTHONPATH=<tree>/src .venv/bin/python benchmarks/bench_stacked.py --calls 4  # one tree

Threads: the default is 1. On a 2-core machine shared with other work, 2 OpenMP threads
per process collapse (a (64, 64, 64) bmm measured 17 ms with 2 threads against 0.75 ms
with 1 at load 10), which hits both sides but makes the figures meaningless; pass
``--threads 2`` on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

import fnnlab as fl
from fnnlab.training.stacked import member_bytes


def _setup(args):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1000, 20, generator=g)
    w = torch.randn(20, generator=g)
    y = (x @ w + 0.5 * torch.randn(1000, generator=g) > 0).long()
    spec = fl.FNNSpec(in_features=20, out_features=2, depth=4, width=64, method=args.method)
    seeds = list(range(args.members))
    lrs = np.geomspace(1e-3, 1e-1, args.members).tolist()
    kw = dict(epochs=args.epochs, batch_size=64, optimizer="sgd", progress=False)
    return (x, y), spec, seeds, lrs, kw


def _sequential(data, spec, seeds, lrs, kw):
    out = []
    for seed, lr in zip(seeds, lrs, strict=True):
        out.append(fl.fit(fl.build(spec, seed=seed), data, seed=seed, lr=lr, **kw))
    return out


def _stacked(data, spec, seeds, lrs, kw):
    return fl.fit_many([spec] * len(seeds), data, seed=seeds, lr=lrs, memory_budget=None, **kw)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _memory(args) -> None:
    data, spec, seeds, lrs, kw = _setup(args)
    kw["epochs"] = 1
    _stacked(data, spec, seeds[:2], lrs[:2], kw)  # warm up allocator and imports
    before = _rss()
    _stacked(data, spec, seeds, lrs, kw)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    estimate = member_bytes(fl.build(spec), 64, "sgd") * args.members
    print(f"peak memory of the stacked run: {(peak - before) / 2**20:.1f} MiB above the "
          f"{before / 2**20:.0f} MiB before it; estimate member_bytes x K = "
          f"{estimate / 2**20:.1f} MiB")


def _calls(args) -> None:
    """``args.calls`` warm stacked calls: one line each, wall and CPU seconds."""
    data, spec, seeds, lrs, kw = _setup(args)
    _stacked(data, spec, seeds[:4], lrs[:4], {**kw, "epochs": 1})  # warm-up
    for _ in range(args.calls):
        t0, c0 = time.perf_counter(), time.process_time()
        _stacked(data, spec, seeds, lrs, kw)
        print(f"stacked call: {time.perf_counter() - t0:.3f} s wall, "
              f"{time.process_time() - c0:.3f} s CPU, load {os.getloadavg()[0]:.1f}",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--members", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--method", default="snn")
    parser.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=0, metavar="N",
                        help="only time N warm stacked calls in this process (wall and CPU "
                             "seconds per call), for before/after runs of two source trees")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_only:
        _memory(args)
        return
    if args.calls:
        _calls(args)
        return

    data, spec, seeds, lrs, kw = _setup(args)
    _stacked(data, spec, seeds[:4], lrs[:4], {**kw, "epochs": 1})  # warm-up
    _sequential(data, spec, seeds[:2], lrs[:2], {**kw, "epochs": 1})
    times: dict[str, list[float]] = {"sequential": [], "stacked": []}
    for _ in range(args.repeats):
        for name, run in (("sequential", _sequential), ("stacked", _stacked)):
            t0 = time.perf_counter()
            results = run(data, spec, seeds, lrs, kw)
            times[name].append(time.perf_counter() - t0)
        final = np.array([r.history["train_loss"].iloc[-1] for r in results])
    load = os.getloadavg()
    print(f"{args.members} nets, depth 4, width 64, {args.method}, 1000 x 20, batch 64, "
          f"{args.epochs} epochs, torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} cores, torch {torch.__version__}, load {load[0]:.1f}")
    for name, ts in times.items():
        print(f"{name:>10}: median {statistics.median(ts):7.2f} s  "
              f"(min {min(ts):.2f}, max {max(ts):.2f}, {len(ts)} runs)")
    ratio = statistics.median(times["sequential"]) / statistics.median(times["stacked"])
    print(f"speed-up (ratio of medians): {ratio:.1f}x   "
          f"final train loss of the stacked members: {final.min():.3f}..{final.max():.3f}")
    subprocess.run([sys.executable, __file__, "--memory-only", "--threads", str(args.threads),
                    "--members", str(args.members), "--method", args.method], check=True)


if __name__ == "__main__":
    main()
