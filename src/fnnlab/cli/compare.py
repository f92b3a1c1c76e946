"""``fnnlab compare``: the method comparison (see ``fnnlab.bench.compare``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fnnlab.bench.baselines import BASELINES
from fnnlab.bench.compare import DEFAULT_METHODS, compare, table_from_store
from fnnlab.bench.datasets import PROTOCOLS
from fnnlab.bench.scoring import METRICS
from fnnlab.bench.selection import TIE_RULES
from fnnlab.cli.args import jobs, store_path
from fnnlab.data import BUNDLED


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``fnnlab compare``."""
    parser = subparsers.add_parser(
        "compare",
        help="compare FNN methods (and ML baselines) over data sets, like the SNN paper",
        description="Train every method over its grid on every data set, fold and seed, "
                    "choose each method's grid point on validation, and rank the methods by "
                    "test error (avg. rank diff., Wilcoxon p-values vs the best, and "
                    "TabArena's leaderboard: Elo with bootstrap CI, win rate, improvability, "
                    "seconds per 1000 rows), one table per task type. Results go to a SQLite "
                    "store as jobs finish; rerunning with the same store resumes.",
    )
    parser.add_argument("--suite", default="quick",
                        help="suite name (quick), a folder of CSV files, or a comma-separated "
                             "list of data set names / files (default: quick)")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help="comma-separated METHODS presets; '' for none "
                             "(default: %(default)s)")
    parser.add_argument("--baselines", default="",
                        help="comma-separated ML baselines: " + ", ".join(BASELINES.names()))
    parser.add_argument("--grid", default="quick", help="quick, paper, or a JSON file")
    parser.add_argument("--seeds", type=int, default=None,
                        help="number of seeds (default: 3, or 1 with --protocol cv)")
    parser.add_argument("--store", default=None, type=store_path,
                        help="SQLite file for results (resumable); default: in memory")
    parser.add_argument("--report", default=None, metavar="DIR",
                        help="write the table (txt/csv/md/tex/json), figures and an HTML "
                             "report (index.html, with the Elo chart) to DIR")
    parser.add_argument("--backend", default="local", choices=("local", "dask", "ray"))
    parser.add_argument("--scheduler", default=None, metavar="ADDR",
                        help="Dask scheduler / Ray cluster address")
    parser.add_argument("--jobs", type=jobs, default=-1,
                        help="parallel processes or Dask workers (default: all cores)")
    parser.add_argument("--metric", default=None, choices=(*METRICS, "auc", "nll"),
                        help="chooses grid points and ranks methods (default: each task's: "
                             "roc_auc binary, log_loss multiclass, rmse regression; accuracy "
                             "with --protocol paper); auc is "
                             "roc_auc, nll is log_loss")
    parser.add_argument("--protocol", default="random", choices=PROTOCOLS,
                        help="random: 65/15/20 split per seed; paper: the UCI split files; "
                             "cv: TabArena's outer 3-fold CV x 10 repeats (x 3 from 2,500 "
                             "rows), validation carved from each training fold")
    parser.add_argument("--reference", default=None, metavar="FILE",
                        help="CSV of published accuracies to show beside ours")
    parser.add_argument("--correction", default=None, choices=("holm", "bonferroni"),
                        help="correct the Wilcoxon p-values for multiple comparisons")
    parser.add_argument("--ties", default=None, choices=tuple(TIE_RULES),
                        help="order of grid points with equal validation scores; default "
                             "the protocol's: paper (more layers, lower lr, higher dropout) "
                             "with --protocol paper, small (fewer layers and units, lower lr, "
                             "higher dropout) otherwise")
    parser.add_argument("--format", default="text",
                        choices=("text", "json", "csv", "markdown", "latex"))
    parser.add_argument("--table", action="store_true",
                        help="only re-print the table of the comparison in --store")
    parser.add_argument("--no-stacked", dest="stacked", action="store_false",
                        help="train every network alone (a stack of one) instead of "
                             "stacking same-shaped grid points into one vectorized model")
    parser.add_argument("--retry-failed", action="store_true",
                        help="run the jobs that failed in --store again (by default a failed "
                             "job counts as done)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the comparison (or re-print a stored table) and print the table."""
    if args.table:
        if args.store is None:
            raise ValueError("--table re-prints the table of a store; pass --store FILE.")
        result = table_from_store(args.store, reference=args.reference, metric=args.metric,
                                  ties=args.ties)
    else:
        suite = _suite(args.suite)
        result = compare(
            methods=[m for m in args.methods.split(",") if m],
            datasets=suite,
            baselines=[b for b in args.baselines.split(",") if b],
            grid=args.grid, seeds=args.seeds, store=args.store, backend=args.backend,
            jobs=args.jobs, metric=args.metric, protocol=args.protocol,
            reference=args.reference, progress=not args.quiet, scheduler=args.scheduler,
            correction=args.correction, stacked=args.stacked, retry_failed=args.retry_failed,
            ties=args.ties,
        )
    sys.stdout.write(result.format(args.format))
    if args.format != "text":  # the text table carries these lines itself
        for line in result.notes():
            print(line, file=sys.stderr)
    if args.report:
        # Deferred: the report needs matplotlib, which takes seconds to import.
        from fnnlab.report import comparison_report

        out = result.save(args.report)
        comparison_report(result).write(out)
        print(f"report written to {out} (index.html)", file=sys.stderr)
    return 0


def _suite(text: str) -> str | list[str]:
    # A suite name or folder stays a string (so a typo gets "Unknown suite"); a data set
    # name, a file, or a comma-separated list becomes a list of data sets.
    if "," in text or text in BUNDLED or Path(text).is_file():
        return [s.strip() for s in text.split(",") if s.strip()]
    return text
