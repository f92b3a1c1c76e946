"""Speed of ``fnnlab.fit`` against a minimal hand-written PyTorch loop, and bf16 vs fp32.

Both loops train the same 8 x 256 SELU MLP (``FNNSpec(depth=8, width=256,
method="snn", dropout=0)``, identical initial weights) on the same in-memory data
with the same optimizer, batch size and epochs. Runs alternate (hand, fit, hand,
fit, ...) so drifting machine load hits both alike; the script reports the median
and the min-max of samples/s over the repeats, and the ratio of the medians, per
second of wall time and per second of process CPU time.

    .venv/bin/python benchmarks/bench_fit.py                     # defaults below
    .venv/bin/python benchmarks/bench_fit.py --grid --repeats 9    # the four settings
    .venv/bin/python benchmarks/bench_fit.py --threads 2 --repeats 9 --precision

Prints Markdown tables ready for benchmarks/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import time
import warnings

import torch
import torch.nn.functional as F

import fnnlab
from fnnlab.models import FNNSpec, build


def hand_written(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, epochs: int,
                 batch_size: int, lr: float, seed: int) -> float:
    """The minimal loop a PyTorch user writes; returns the last epoch's mean loss."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    n = len(X)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        total = torch.zeros(())
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)
    return float(total) / n


def with_fit(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, epochs: int,
             batch_size: int, lr: float, seed: int, precision: str = "fp32") -> float:
    result = fnnlab.fit(model, (X, y), likelihood="categorical", optimizer="sgd", lr=lr,
                        epochs=epochs, batch_size=batch_size, seed=seed, progress=False,
                        precision=precision)
    return float(result.history["train_loss"].iloc[-1])


def _timed(fn, *args, **kwargs) -> tuple[float, float, float]:
    """Wall time, process CPU time and the function's result."""
    start, cpu = time.perf_counter(), time.process_time()
    loss = fn(*args, **kwargs)
    return time.perf_counter() - start, time.process_time() - cpu, loss


def _summary(samples: list[float]) -> str:
    return f"{statistics.median(samples):,.0f} ({min(samples):,.0f}-{max(samples):,.0f})"


def _compare(init: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, args: argparse.Namespace,
             threads: int, batch_size: int) -> dict[str, object]:
    """Alternating hand-written and fit runs at one setting; samples/s per run."""
    torch.set_num_threads(threads)
    samples = args.rows * args.epochs
    load = os.getloadavg()[0]
    # Warm-up: first optimizer construction imports torch._dynamo; first matmuls allocate.
    hand_written(copy.deepcopy(init), X, y, 1, batch_size, args.lr, 0)
    with_fit(copy.deepcopy(init), X, y, 1, batch_size, args.lr, 0)
    rates: dict[str, list[float]] = {"hand": [], "fit": []}
    cpu_rates: dict[str, list[float]] = {"hand": [], "fit": []}
    losses: dict[str, float] = {}
    for r in range(args.repeats):
        order = ("hand", "fit") if r % 2 == 0 else ("fit", "hand")
        for name in order:
            fn = hand_written if name == "hand" else with_fit
            seconds, cpu, loss = _timed(fn, copy.deepcopy(init), X, y, args.epochs,
                                        batch_size, args.lr, 0)
            rates[name].append(samples / seconds)
            cpu_rates[name].append(samples / cpu)
            losses[name] = loss
    return {"threads": threads, "batch": batch_size, "rates": rates, "cpu": cpu_rates,
            "losses": losses, "load": (load, os.getloadavg()[0])}


def _ratio(rates: dict[str, list[float]]) -> float:
    return statistics.median(rates["fit"]) / statistics.median(rates["hand"])


def _report(res: dict[str, object]) -> None:
    rates, cpu_rates, losses = res["rates"], res["cpu"], res["losses"]
    print(f"threads {res['threads']}, batch {res['batch']}, load average "
          f"{res['load'][0]:.1f} before, {res['load'][1]:.1f} after")
    print("| loop | samples/s, median (min-max) | final train loss |")
    print("|---|---|---|")
    print(f"| hand-written PyTorch | {_summary(rates['hand'])} | {losses['hand']:.4f} |")
    print(f"| fnnlab.fit | {_summary(rates['fit'])} | {losses['fit']:.4f} |")
    print(f"\nratio fit / hand-written (medians): {_ratio(rates):.3f}")
    # Process CPU time: on a loaded machine the wall time mostly measures waiting for a
    # core; with one thread the CPU time is the work done (with more threads it also
    # counts OpenMP's spinning).
    print(f"per CPU second: hand-written {_summary(cpu_rates['hand'])}, fit "
          f"{_summary(cpu_rates['fit'])} samples/s, ratio {_ratio(cpu_rates):.3f}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--rows", type=int, default=8192)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--grid", action="store_true",
                        help="every setting of the goal (1 and 2 threads, batch 128 and 512; "
                             "--threads and --batch-size are ignored) and one summary table")
    parser.add_argument("--precision", action="store_true", help="also run bf16 vs fp32")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(args.rows, args.features, generator=g)
    w = torch.randn(args.features, args.classes, generator=g)
    y = (X @ w + 0.5 * torch.randn(args.rows, args.classes, generator=g)).argmax(1)
    spec = FNNSpec(in_features=args.features, out_features=args.classes, depth=8, width=256,
                   method="snn", dropout=0.0)
    init = build(spec, seed=0)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}")
    print(f"data {args.rows} x {args.features}, {args.classes} classes; 8 x 256 SELU MLP; SGD "
          f"lr {args.lr}; {args.epochs} epochs per run; {args.repeats} alternating repeats\n")

    settings = [(t, b) for t in (1, 2) for b in (128, 512)] if args.grid \
        else [(args.threads, args.batch_size)]
    results = []
    for threads, batch in settings:
        results.append(_compare(init, X, y, args, threads, batch))
        _report(results[-1])
    if args.grid:
        print("| threads | batch | hand-written, samples/s median (min–max) | fit | "
              "fit / hand (wall) | per CPU s | load |")
        print("|---:|---:|---|---|---:|---:|---|")
        for res in results:
            print(f"| {res['threads']} | {res['batch']} | {_summary(res['rates']['hand'])} | "
                  f"{_summary(res['rates']['fit'])} | {_ratio(res['rates']):.3f} | "
                  f"{_ratio(res['cpu']):.3f} | {res['load'][0]:.1f}–{res['load'][1]:.1f} |")
    torch.set_num_threads(args.threads)
    print()

    if args.precision:
        epochs = max(args.epochs, 3)
        prec: dict[str, list[float]] = {"fp32": [], "bf16": []}
        final: dict[str, float] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with_fit(copy.deepcopy(init), X, y, 1, args.batch_size, args.lr, 0, "bf16")
            for r in range(max(3, args.repeats // 2)):
                order = ("fp32", "bf16") if r % 2 == 0 else ("bf16", "fp32")
                for name in order:
                    seconds, _, loss = _timed(with_fit, copy.deepcopy(init), X, y, epochs,
                                           args.batch_size, args.lr, 0, name)
                    prec[name].append(args.rows * epochs / seconds)
                    final[name] = loss
        print(f"| precision | samples/s, median (min-max) | train loss after {epochs} epochs |")
        print("|---|---|---|")
        for name in ("fp32", "bf16"):
            print(f"| {name} | {_summary(prec[name])} | {final[name]:.4f} |")
        speedup = statistics.median(prec["bf16"]) / statistics.median(prec["fp32"])
        print(f"\nspeed-up bf16 / fp32 (medians): {speedup:.2f}")


if __name__ == "__main__":
    main()
