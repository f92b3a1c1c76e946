"""Ensembles in one stack (fnnlab.fit_ensemble) and successive halving (fnnlab.search).

Three measurements, each a part of this script:

``--part timing``: wall time of ``fit_ensemble(k=16)`` against one ``fit`` of the same
spec, data and epochs (plain SGD, batch 64), for the small nets of
``bench_stacked.py`` (depth 4, width 64, SNN, 1000 x 20 binary task, 20 epochs) and
for a 4 x 256 SNN on 10,000 x 20 rows (5 epochs). Runs alternate (single, ensemble,
single, ...) so slow phases of a shared machine hit both; median and min-max.

``--part accuracy``: test accuracy of ``fit_ensemble(k=16)`` against one ``fit`` at one
grid point (SNN, depth 4, width 128, Adam lr 1e-3, batch 128, at most 30 epochs,
early stopping with patience 5 on 15 % of the training rows: on the ensemble's
validation loss for the ensemble) on the UCI sets in ``/work/shared/data``
(``kfold[0]`` train/test split), 3 seeds; the single network of seed s is the
ensemble's first member's initial network. Rows are appended to ``--out`` as they
finish, smallest set first; ``--summary`` reads that file.

``--part search``: 64 configurations (lr x weight decay x dropout x seed) searched by
successive halving (eta 2) against the same 64 trained to the end (``fit_many``),
ranked by the validation loss at the last epoch, on 1000 + 500 rows of the binary
task with ``--noise`` label noise, ``--budget`` epochs.

    .venv/bin/python benchmarks/bench_ensemble.py --part timing --repeats 5
    .venv/bin/python benchmarks/bench_ensemble.py --part accuracy --out ens_acc.csv
    .venv/bin/python benchmarks/bench_ensemble.py --part accuracy --out ens_acc.csv --summary
    .venv/bin/python benchmarks/bench_ensemble.py --part search --repeats 2 --budget 16

Threads: 1 by default, as in ``bench_stacked.py`` (2 OpenMP threads per process
collapse on a loaded 2-core machine).
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import time
import types
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import fnnlab as fl

DATA = Path("/work/shared/data")


def _synthetic(n: int, features: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, features, generator=g)
    w = torch.randn(features, generator=g)
    return x, (x @ w + 0.5 * torch.randn(n, generator=g) > 0).long()


def _summary(label: str, times: list[float]) -> str:
    return (f"{label}: median {statistics.median(times):.2f} s "
            f"(min {min(times):.2f}, max {max(times):.2f}, n={len(times)})")


def _alternate(runs: dict, repeats: int) -> dict[str, list[float]]:
    """Wall times of each run, alternating between them, after one warm-up call each."""
    for run in runs.values():
        run()  # warm up: imports, native kernels, allocator
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    return times


def timing(repeats: int) -> None:
    cases = [("small nets (4x64, 1000 rows, 20 epochs)", 1000, 64, 20),
             ("4x256 net, 10,000 rows, 5 epochs", 10_000, 256, 5)]
    for label, n, width, epochs in cases:
        data = _synthetic(n)
        spec = fl.FNNSpec(in_features=20, out_features=2, depth=4, width=width, method="snn")
        kw = dict(epochs=epochs, batch_size=64, optimizer="sgd", lr=0.01, progress=False)
        runs = {"single": lambda s=spec, d=data, o=kw: fl.fit(fl.build(s, seed=0), d, seed=0,
                                                               **o),
                "ensemble": lambda s=spec, d=data, o=kw: fl.fit_ensemble(s, d, k=16, seed=0,
                                                                         **o)}
        times = _alternate(runs, repeats)
        t_single, t_ens = times["single"], times["ensemble"]
        ratios = [e / s for s, e in zip(t_single, t_ens, strict=True)]
        print(label)
        print("  " + _summary("fit (1 network)", t_single))
        print("  " + _summary("fit_ensemble(k=16)", t_ens))
        print(f"  ratio of medians {statistics.median(t_ens) / statistics.median(t_single):.2f}"
              f"x (per-pair ratios {min(ratios):.2f}-{max(ratios):.2f})", flush=True)


def _uci_sets() -> list[str]:
    manifest = pd.read_csv(DATA / "MANIFEST.csv").sort_values("rows")
    return list(manifest["name"])


def _uci_split(name: str, seed: int):
    frame = pd.read_csv(DATA / f"{name}.csv.gz")
    x = torch.tensor(frame.drop(columns="target").to_numpy("float32"))
    y = torch.tensor(frame["target"].to_numpy("int64"))
    with gzip.open(DATA / "splits" / f"{name}.splits.json.gz", "rt") as handle:
        fold = json.load(handle)["kfold"][0]
    train, test = torch.tensor(fold["train"]), torch.tensor(fold["test"])
    perm = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))]
    n_valid = max(1, int(0.15 * len(perm)))
    valid, train = perm[:n_valid], perm[n_valid:]
    n_classes = int(y.max()) + 1

    def part(rows):
        return types.SimpleNamespace(X=x[rows], y=y[rows], n_classes=n_classes)

    return part(train), part(valid), part(test), x.shape[1], n_classes


def accuracy(out: Path, sets: list[str] | None) -> None:
    done = set()
    if out.exists():
        old = pd.read_csv(out)
        done = set(zip(old["dataset"], old["seed"], strict=True))
    for name in sets or _uci_sets():
        for seed in range(3):
            if (name, seed) in done:
                continue
            train, valid, test, features, classes = _uci_split(name, seed)
            spec = fl.FNNSpec(in_features=features, out_features=classes, depth=4, width=128,
                              method="snn")
            kw = dict(optimizer="adam", lr=1e-3, batch_size=128, epochs=30,
                      early_stopping=5, seed=seed, progress=False)
            rows = []
            for variant in ("single", "ensemble16"):
                t0 = time.perf_counter()
                if variant == "single":
                    result = fl.fit(fl.build(spec, seed=seed), train, valid, **kw)
                else:
                    result = fl.fit_ensemble(spec, train, valid, k=16, **kw)
                seconds = time.perf_counter() - t0
                pred = result.predict(test.X).numpy()
                rows.append({"dataset": name, "seed": seed, "variant": variant,
                             "accuracy": float(np.mean(pred == test.y.numpy())),
                             "epochs": len(result.history), "seconds": seconds})
            frame = pd.DataFrame(rows)
            frame.to_csv(out, mode="a", header=not out.exists(), index=False)
            print(frame.to_string(index=False, header=False), flush=True)


def accuracy_summary(out: Path) -> None:
    frame = pd.read_csv(out)
    complete = frame.groupby("dataset")["seed"].transform("count") == 6  # 3 seeds x 2
    partial = sorted(set(frame.loc[~complete, "dataset"]))
    if partial:
        print(f"left out, fewer than 3 seeds finished: {', '.join(partial)}")
    frame = frame[complete]
    wide = frame.pivot_table(index=["dataset", "seed"], columns="variant", values="accuracy")
    per_set = wide.groupby("dataset").mean()
    gain = (per_set["ensemble16"] - per_set["single"]).round(10)  # mean-of-3 rounding
    print(per_set.assign(gain=gain).sort_values("gain").to_string(float_format="%.4f"))
    print(f"{len(per_set)} sets, 3 seeds each: ensemble better on {(gain > 0).sum()}, "
          f"equal on {(gain == 0).sum()}, worse on {(gain < 0).sum()}; mean gain "
          f"{gain.mean():+.4f} accuracy (median {gain.median():+.4f})")
    seconds = frame.pivot_table(index=["dataset", "seed"], columns="variant", values="seconds")
    ratio = seconds["ensemble16"] / seconds["single"]
    print(f"wall time ensemble16 / single per (set, seed): median {ratio.median():.2f}x "
          f"(min {ratio.min():.2f}, max {ratio.max():.2f}); early stopping ends the two "
          f"at different epochs")


SEARCH_SPACE = {"lr": [0.003, 0.01, 0.03, 0.1], "weight_decay": [0.0, 1e-3],
                "dropout": [0.0, 0.1], "seed": [0, 1, 2, 3]}


def search_benchmark(repeats: int, budget: int, noise: float) -> None:
    x, y = _synthetic(1500)
    flip = torch.rand(1500, generator=torch.Generator().manual_seed(1)) < noise
    y = torch.where(flip, 1 - y, y)  # label noise: the validation loss over-fits
    train, valid = (x[:1000], y[:1000]), (x[1000:], y[1000:])
    spec = fl.FNNSpec(in_features=20, out_features=2, depth=4, width=64, method="snn")
    kw = dict(batch_size=64, optimizer="sgd", progress=False)
    trials = fl.training.search(spec, train, valid, space=SEARCH_SPACE, budget=budget,
                                eta=2, **kw).trials  # the configurations, in order
    names = list(SEARCH_SPACE)
    configs = trials[names].to_dict("records")
    specs = [replace(spec, dropout=c["dropout"]) for c in configs]
    per_member = {n: [c[n] for c in configs] for n in names if n != "dropout"}
    outcome = {}

    def halving():
        outcome["halving"] = fl.training.search(spec, train, valid, space=SEARCH_SPACE,
                                                budget=budget, eta=2, **kw)

    def full():
        outcome["full"] = fl.fit_many(specs, train, valid, epochs=budget, memory_budget=None,
                                      **per_member, **kw)

    times = _alternate({"halving": halving, "full": full}, repeats)
    print(f"64 configurations ({', '.join(f'{k} {v}' for k, v in SEARCH_SPACE.items())}),"
          f" 4x64 SNN, 1000 train / 500 valid rows ({noise:.0%} label noise), SGD, batch 64, "
          f"budget {budget} epochs")
    print("  " + _summary("search (successive halving, eta 2)", times["halving"]))
    print("  " + _summary("fit_many, all 64 to the end", times["full"]))
    ratio = statistics.median(times["halving"]) / statistics.median(times["full"])
    print(f"  wall-time ratio of medians halving / full: {ratio:.2f}")
    final = [r.history["valid_loss"].iloc[-1] for r in outcome["full"]]
    order = np.argsort(final)
    won = outcome["halving"].params
    index = next(i for i, c in enumerate(configs) if c == won)
    print(f"  halving's winner {won}, valid loss rank {int(np.where(order == index)[0][0]) + 1}"
          f" of 64 after full training; full training's winner {configs[int(order[0])]}; "
          f"same configuration: {configs[int(order[0])] == won}; final valid loss of "
          f"halving's winner {final[index]:.4f} vs the best {final[int(order[0])]:.4f} "
          f"(median of the 64: {float(np.median(final)):.4f})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("timing", "accuracy", "search"), required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("ensemble_accuracy.csv"))
    parser.add_argument("--sets", nargs="*", default=None)
    parser.add_argument("--summary", action="store_true")
    parser.add_argument("--budget", type=int, default=16, help="search: epochs")
    parser.add_argument("--noise", type=float, default=0.0, help="search: label noise")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s); shared machine, "
          f"load {open('/proc/loadavg').read().split()[0]}", flush=True)
    if args.part == "timing":
        timing(args.repeats)
    elif args.part == "accuracy":
        if args.summary:
            accuracy_summary(args.out)
        else:
            accuracy(args.out, args.sets)
    else:
        search_benchmark(args.repeats, args.budget, args.noise)


if __name__ == "__main__":
    main()
