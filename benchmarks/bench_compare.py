"""Speed of `fnnlab compare` on the quick suite (the figure in BENCHMARKS.md).

The quick suite (scikit-learn's iris, wine, breast_cancer, digits) with the SNN
paper's seven FNN presets, the quick grid and 3 seeds, run in local processes.
Prints the wall time, jobs per minute and the comparison table. Rerun with

    .venv/bin/python benchmarks/bench_compare.py [--jobs 2] [--seeds 3] [--baselines svm,rf]
        [--no-stacked]

``--no-stacked`` trains every job alone (a stack of one); by default same-shaped
grid points of one data split and method train as one stack.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from fnnlab.bench import compare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--baselines", default="")
    parser.add_argument("--grid", default="quick")
    parser.add_argument("--store", default=None, help="keep the results here (default: temp)")
    parser.add_argument("--no-stacked", dest="stacked", action="store_false",
                        help="every job alone (a stack of one)")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(args.store or Path(tmp) / "bench.sqlite")
        if store.exists():
            raise SystemExit(f"{store} exists; a benchmark needs a fresh store.")
        start = time.perf_counter()
        result = compare(datasets="quick", baselines=[b for b in args.baselines.split(",") if b],
                         grid=args.grid, seeds=args.seeds, jobs=args.jobs, store=store,
                         progress=False, stacked=args.stacked)
        seconds = time.perf_counter() - start
    ok = result.results[result.results["status"] == "ok"]
    print(result.format("text"))
    print(f"jobs: {result.ran} ({len(result.results) - len(ok)} failed), processes: {args.jobs}, "
          f"stacked: {args.stacked}, "
          f"cpus: {os.cpu_count()}, load average at start: {load:.1f}")
    print(f"wall time: {seconds:.1f} s, {60 * result.ran / seconds:.1f} jobs/min, "
          f"mean job time {ok['seconds'].mean():.2f} s, sum of job times "
          f"{ok['seconds'].sum():.1f} s")
    print("mean job seconds by data set and method:")
    print(ok.pivot_table(index="dataset", columns="method", values="seconds").round(2))


if __name__ == "__main__":
    main()
