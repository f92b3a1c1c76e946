"""``fnnlab reproduce``: run every claim of the reference notes as an experiment.

    fnnlab reproduce --report report/ [--quick] [--only 2,7] [--seed 0] [--data DIR]
                     [--jobs 2]
"""

from __future__ import annotations

import argparse
import time

from fnnlab.cli.args import output_dir
from fnnlab.experiments.claims import CLAIMS, reproduce


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``reproduce`` subcommand."""
    listing = "; ".join(f"{i} {c.title}" for i, c in sorted(CLAIMS.items()))
    parser = subparsers.add_parser(
        "reproduce",
        help="run the claims of the reference notes as experiments, write an HTML report",
        description="Run each claim of the reference notes as a small seeded experiment on "
                    "CPU and decide a verdict for each check (supported / not supported at "
                    "this scale / inconclusive / the note is wrong) by the rule written in "
                    "its code; the main checks decide the claim's headline verdict. With "
                    "--report, write a self-contained HTML report (figures embedded), "
                    "verdicts.csv (one row per check), claims.csv and each claim's numbers. "
                    f"Claims: {listing}.",
    )
    parser.add_argument("--report", metavar="DIR", default=None, type=output_dir,
                        help="folder for index.html, verdicts.csv and numbers/")
    parser.add_argument("--quick", action="store_true",
                        help="smaller experiments (under 4 minutes on 2 cores)")
    parser.add_argument("--only", metavar="IDS", default=None,
                        help="comma-separated claim numbers, e.g. 2,7 (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every experiment (0)")
    parser.add_argument("--data", metavar="DIR", default=None,
                        help="the shared UCI data folder (with MANIFEST.csv) for claims 6 "
                             "and 15; default $FNNLAB_SHARED_DATA or ../shared/data; "
                             "without it those claims are skipped")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="worker processes, one thread each (default 1; 2 uses both "
                             "cores of a 2-core machine)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run :func:`fnnlab.experiments.claims.reproduce` and print the verdict table."""
    start = time.perf_counter()
    table = reproduce(only=args.only, quick=args.quick, report_dir=args.report,
                      seed=args.seed, progress=not args.quiet, data_dir=args.data,
                      jobs=args.jobs)
    shown = table[["id", "verdict", "checks", "seconds", "cpu_seconds", "title"]]
    print(shown.to_string(index=False))
    print(f"{len(table)} claims in {time.perf_counter() - start:.0f} s "
          f"(CPU {table['cpu_seconds'].sum():.0f} s)"
          + (f"; report: {args.report}/index.html" if args.report else ""))
    failed = table[table["error"] != ""]
    for row in failed.itertuples():
        print(f"claim {row.id} raised {row.error}")
    return 1 if len(failed) else 0
