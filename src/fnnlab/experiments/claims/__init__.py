"""Every claim of the reference notes as a small seeded experiment, and the report.

``reproduce()`` runs the claims (all, or ``only`` some), decides each check's verdict
by the rule written in its code and each claim's headline verdict from its main checks
(see :mod:`fnnlab.experiments.claims.claim`) and, with ``report_dir``, writes an HTML
report (``index.html``, figures embedded), ``verdicts.csv`` (one row per check),
``claims.csv`` (one row per claim) and each claim's numbers as CSV. ``fnnlab
reproduce`` calls it. The statements of the notes and which claim tests each are
listed in ``docs/claims.md``.

One module per group of claims:

=====================  ==========================================================
``selu.py``            1 SELU's α, λ from the fixed point; 2 self-normalization
``gradients.py``       3 vanishing / exploding gradients and their cures
``normalization.py``   4 batch norm; 5 SELU vs ReLU + BN cost; 10 weight norm
``activations.py``     6 ReLU trains faster than tanh
``shattered.py``       7 shattered gradients and co-activation
``landscape.py``       8 batch norm and residual connections smooth the loss
``highway.py``         9 highway networks train deep; the gates choose the depth
``optimization.py``    11 learning-rate bound; 17 momentum, Adam, solvers
``expressivity.py``    12 linear layers collapse; sums of ReLUs approximate
``outputs.py``         13 likelihoods, output units, softmax temperature
``regularization.py``  14 dropout as an ensemble, L1/L2, noise, early stopping
``comparison.py``      15 the SNN paper's method comparison (UCI data, paper protocol)
``grid_lstm.py``       16 Grid LSTM gates along depth learn k-bit parity
``batchnorm.py``       18 BN before/after the activation; 19 tiny batches and batch
                       renorm; 20 larger rates, init, regularization
``scaling.py``         21 feature scaling speeds up gradient descent
``lesion.py``          22 resnets behave like ensembles (lesion study)
``tying.py``           23 parameter tying across layers regularizes
=====================  ==========================================================
"""

from __future__ import annotations

import html
import os
import platform
import sys
import time
import traceback
import warnings
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import torch

from fnnlab.experiments.claims import (  # noqa: F401  (importing registers the claims)
    activations,
    batchnorm,
    comparison,
    expressivity,
    gradients,
    grid_lstm,
    highway,
    landscape,
    lesion,
    normalization,
    optimization,
    outputs,
    regularization,
    scaling,
    selu,
    shattered,
    tying,
)
from fnnlab.experiments.claims.claim import (
    CLAIMS,
    INCONCLUSIVE,
    NOT_SUPPORTED,
    NOTE_WRONG,
    SUPPORTED,
    VERDICTS,
    Check,
    Claim,
    Outcome,
    above,
    below,
    combine,
    count,
    note_is_wrong,
    secondary,
)
from fnnlab.experiments.claims.shared_data import DataUnavailable, use_data_dir

__all__ = [
    "CLAIMS",
    "INCONCLUSIVE",
    "NOTE_WRONG",
    "NOT_SUPPORTED",
    "SUPPORTED",
    "VERDICTS",
    "Check",
    "Claim",
    "DataUnavailable",
    "Outcome",
    "above",
    "below",
    "check_table",
    "combine",
    "count",
    "note_is_wrong",
    "parse_only",
    "reproduce",
    "secondary",
    "summary_markdown",
]

_REFERENCE = "../shared/reference/"


def parse_only(only: str | int | Iterable[int] | None) -> list[int]:
    """The claim ids to run: all for None, else those of ``"2,7"``, ``7`` or ``[2, 7]``."""
    if only is None:
        return sorted(CLAIMS)
    if isinstance(only, str):
        try:
            ids = [int(part) for part in only.replace(" ", "").split(",") if part]
        except ValueError:
            raise ValueError(f"only: expected claim numbers separated by commas such as "
                             f"'2,7', got {only!r}.") from None
    elif isinstance(only, int) and not isinstance(only, bool):
        ids = [only]
    else:
        ids = [int(i) for i in only]
    unknown = [i for i in ids if i not in CLAIMS]
    if unknown or not ids:
        raise ValueError(f"only: unknown claim number(s) {unknown or ids}; known claims are "
                         f"{', '.join(map(str, sorted(CLAIMS)))}.")
    return sorted(set(ids))


def reproduce(
    only: str | int | Iterable[int] | None = None,
    quick: bool = False,
    report_dir: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
    data_dir: str | Path | None = None,
    jobs: int = 1,
) -> pd.DataFrame:
    """Run the claims of the reference notes and decide a verdict for each.

    Parameters
    ----------
    only : str, int or iterable of int, optional
        Claim numbers to run (``"2,7"``); default all.
    quick : bool, default=False
        Smaller experiments (fewer layers, epochs and seeds): under 4 minutes on 2 CPU
        cores for all claims, against under 30 for the full run.
    report_dir : path, optional
        Write ``index.html`` (self-contained), ``verdicts.csv`` (one row per check:
        claim, check, value, rule, verdict, main, reason), ``claims.csv`` (the returned
        table), ``summary.md`` (:func:`summary_markdown`) and ``numbers/claim_<id>.csv``
        here.
    seed : int, default=0
        Seeds every experiment; the same seed gives the same numbers (timings aside).
    progress : bool, default=True
        Print one line per claim on stderr.
    data_dir : path, optional
        The shared UCI data folder (with ``MANIFEST.csv``) for the claims that need it
        (6, 15); default: found as ``fnnlab.experiments.claims.shared_data`` says. Without
        it those claims are skipped, with the reason.
    jobs : int, default=1
        Worker processes, one thread each; claims are independent and run in parallel
        (those sharing cached step timings, 4, 5 and 10, run in one worker). The
        numbers do not depend on ``jobs`` (timings aside).

    Returns
    -------
    DataFrame
        One row per claim: ``id``, ``title``, ``verdict`` (the headline, from the main
        checks), ``checks`` ("main 2/3 supported; secondary 1/1 supported", or why the
        claim was skipped), ``seconds`` (wall), ``cpu_seconds`` (this process's CPU
        time in the process that ran it: on a shared machine the honest measure of the
        work), ``source``, ``error`` (empty unless the experiment raised; its verdict is
        then "inconclusive" and a warning is issued).
        ``table.attrs["checks"]`` holds the per-check table (:func:`check_table`).
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}.")
    ids = parse_only(only)
    threads = torch.get_num_threads()
    # Note [one thread]: the experiments' models are small; at these sizes torch's
    # intra-op threads cost more in synchronization than they save (40x slower on a busy
    # 2-core machine), and one thread also makes the step timings of claims 4, 5 and 10
    # independent of how busy the other core is.
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1 (worker processes), got {jobs!r}.")
    torch.set_num_threads(1)
    try:
        with use_data_dir(data_dir):
            return _reproduce(ids, quick, report_dir, seed, progress, jobs, data_dir)
    finally:
        torch.set_num_threads(threads)


# Claims that share a cached measurement (the step timings of claims 4, 5 and 10) run in
# the same worker process. Claim 20 shares claim 4's usable learning rates too, but
# recomputing them costs less than serializing the group.
_TOGETHER = ({4, 5, 10},)
# The longest experiments (most CPU time in a full run), started first so the workers
# finish together.
_LONGEST_FIRST = (15, 9, 16, 6, 4, 7, 19, 18, 17, 20)


def _tasks(ids: list[int]) -> list[list[int]]:
    """``ids`` grouped into units of work for the worker processes, in order."""
    tasks, placed = [], set()
    for cid in ids:
        if cid in placed:
            continue
        group = next((g for g in _TOGETHER if cid in g), {cid})
        tasks.append([i for i in ids if i in group])
        placed.update(tasks[-1])
    return tasks


def _run_claim(cid: int, quick: bool, seed: int) -> tuple[dict, Outcome]:
    """Run one claim; its row of the summary table and its outcome (never raises)."""
    item = CLAIMS[cid]
    t0, c0 = time.perf_counter(), time.process_time()
    error, skipped = "", ""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        try:
            outcome = item.run(quick, seed)
        except DataUnavailable as exc:
            skipped = f"skipped: {exc}"
            outcome = Outcome(setup=f"Not run: this claim {exc}",
                              numbers=pd.DataFrame({"skipped": [str(exc)]}), checks=[])
        except Exception as exc:  # one broken experiment must not lose the others
            error = f"{type(exc).__name__}: {exc}"
            outcome = Outcome(setup="The experiment raised an error:\n"
                              + traceback.format_exc(limit=3),
                              numbers=pd.DataFrame({"error": [error]}), checks=[])
    row = {"id": cid, "title": item.title, "verdict": outcome.verdict,
           "checks": skipped or count(outcome.checks),
           "seconds": round(time.perf_counter() - t0, 2),
           "cpu_seconds": round(time.process_time() - c0, 2), "source": item.source,
           "error": error}
    return row, outcome


def _run_task(task: list[int], quick: bool, seed: int,
              data_dir: str | Path | None) -> list[tuple[dict, Outcome]]:
    """A worker process's unit of work (Note [one thread] applies there too)."""
    torch.set_num_threads(1)
    with use_data_dir(data_dir):
        return [_run_claim(cid, quick, seed) for cid in task]


def _report_progress(row: dict, progress: bool) -> None:
    if row["error"]:
        warnings.warn(f"Claim {row['id']} ({row['title']}) failed: {row['error']}",
                      RuntimeWarning, stacklevel=3)
    if progress:
        skipped = row["checks"] if row["checks"].startswith("skipped") else ""
        print(f"claim {row['id']:2d}: {row['title']} ... {row['verdict']} "
              f"({row['seconds']:.1f} s, CPU {row['cpu_seconds']:.1f} s)"
              f"{' ' + skipped if skipped else ''}", file=sys.stderr, flush=True)


def _run_all(ids: list[int], quick: bool, seed: int, progress: bool, jobs: int,
             data_dir: str | Path | None) -> dict[int, tuple[dict, Outcome]]:
    tasks = _tasks(ids)
    if jobs == 1 or len(tasks) == 1:
        results = {}
        for cid in ids:
            results[cid] = _run_claim(cid, quick, seed)
            _report_progress(results[cid][0], progress)
        return results
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    results = {}
    # "spawn": a fresh interpreter per worker, so no torch or BLAS thread pool is
    # inherited half-initialized from the parent.
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        order = sorted(tasks, key=lambda t: min((_LONGEST_FIRST.index(i) for i in t
                                                 if i in _LONGEST_FIRST), default=99))
        futures = [pool.submit(_run_task, task, quick, seed, data_dir) for task in order]
        for future in as_completed(futures):
            for row, outcome in future.result():
                results[row["id"]] = (row, outcome)
                _report_progress(row, progress)
    return results


def _reproduce(ids: list[int], quick: bool, report_dir: str | Path | None, seed: int,
               progress: bool, jobs: int = 1,
               data_dir: str | Path | None = None) -> pd.DataFrame:
    start = time.perf_counter()
    results = _run_all(ids, quick, seed, progress, jobs, data_dir)
    outcomes = {cid: results[cid][1] for cid in ids}
    table = pd.DataFrame([results[cid][0] for cid in ids],
                         columns=["id", "title", "verdict", "checks", "seconds",
                                  "cpu_seconds", "source", "error"])
    table.attrs["checks"] = check_table(outcomes)
    wall = time.perf_counter() - start
    table.attrs["wall_seconds"] = wall
    if report_dir is not None:
        _write(table, outcomes, Path(report_dir), quick=quick, seed=seed, wall=wall)
        if progress:
            print(f"report: {Path(report_dir) / 'index.html'}", file=sys.stderr)
    return table


def summary_markdown(table: pd.DataFrame, outcomes: dict[int, Outcome], *, quick: bool,
                     wall: float) -> str:
    """The verdicts as a Markdown table (the README's summary is this file of a full run):
    one row per claim with its headline, its checks, and the reason of any check that
    found the note wrong."""
    lines = ["| # | claim | verdict | checks |", "|---|---|---|---|"]
    for r in table.itertuples():
        reasons = [c.reason for c in outcomes[r.id].checks if c.reason]
        verdict = r.verdict + (f" ({' '.join(reasons)})" if reasons else "")
        cells = [str(r.id), r.title, verdict, r.checks]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    counts = table["verdict"].value_counts()
    return "\n".join([
        f"From a {'quick' if quick else 'full'} run: {len(table)} claims, "
        f"{wall / 60:.0f} min wall time and {table['cpu_seconds'].sum() / 60:.0f} min CPU time "
        f"(load average {_load()} on {os.cpu_count()} cores at the end); "
        + ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS) + ".", "", *lines, ""])


def check_table(outcomes: dict[int, Outcome]) -> pd.DataFrame:
    """One row per check of every claim: claim, check, value, rule, verdict, main, reason."""
    rows = [{"claim": cid, "check": c.name, "value": c.value, "rule": c.rule,
             "verdict": c.verdict, "main": c.main, "reason": c.reason}
            for cid, outcome in outcomes.items() for c in outcome.checks]
    return pd.DataFrame(rows, columns=["claim", "check", "value", "rule", "verdict", "main",
                                       "reason"])


def _badge(verdict: str) -> str:
    css = {SUPPORTED: "supported", NOT_SUPPORTED: "not-supported",
           NOTE_WRONG: "not-supported"}.get(verdict, "inconclusive")
    return f'<span class="verdict {css}">{html.escape(verdict)}</span>'


def _summary_html(table: pd.DataFrame) -> str:
    head = ("<tr><th>#</th><th class='left'>claim</th><th class='left'>verdict</th>"
            "<th>checks</th><th>wall (s)</th><th>CPU (s)</th></tr>")
    rows = "".join(
        f"<tr><td>{r.id}</td><td class='left'><a href=\"#claim-{r.id}\">"
        f"{html.escape(r.title)}</a></td><td class='left'>{_badge(r.verdict)}</td>"
        f"<td>{html.escape(r.checks)}</td><td>{r.seconds:.1f}</td>"
        f"<td>{r.cpu_seconds:.1f}</td></tr>"
        for r in table.itertuples()
    )
    return f"<table>{head}{rows}</table>"


def _write(table: pd.DataFrame, outcomes: dict[int, Outcome], directory: Path, *,
           quick: bool, seed: int, wall: float) -> Path:
    from fnnlab import __version__
    from fnnlab.report import Report

    counts = table["verdict"].value_counts()
    summary = ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS)
    report = Report(
        "fnnlab reproduce: the claims of the reference notes, measured",
        intro=(
            "Each claim below quotes a statement of the reference notes "
            f"({_REFERENCE}), runs a small seeded experiment on CPU, shows a figure and "
            "the measured numbers, and decides a verdict for each check by a rule written "
            "in code: an inequality with a stated margin. 'supported' means the inequality "
            "holds beyond the margin, 'not supported at this scale' that its opposite does "
            "(the experiments are small; a paper's effect may need a larger scale), "
            "'inconclusive' that the number lies within the margin, 'the note is wrong' "
            "that the bound comes from the note and is wrong on its own mathematical terms "
            "(the reason is given). Main checks test the note's main statement and decide "
            "the headline verdict: the note is wrong if any main check is, else not "
            "supported if any is not, supported if all are, inconclusive otherwise. "
            "Secondary checks (side remarks, controls, validity of the setting) are shown "
            "but never change the headline."
        ),
        toc=False,  # the verdict table below links every claim
    )
    report.add_text(
        f"Run: {'quick' if quick else 'full'}, seed {seed}, {wall:.0f} s wall time, "
        f"{table['cpu_seconds'].sum():.0f} s CPU time, load average {_load()} on "
        f"{os.cpu_count()} cores at the end (other processes share the machine); "
        f"fnnlab {__version__}, torch {torch.__version__}, one thread (the models are "
        f"small), Python {platform.python_version()}, {platform.machine()}. "
        f"Verdicts: {summary}."
    )
    report.add_html(_summary_html(table))
    for row in table.itertuples():
        item, outcome = CLAIMS[row.id], outcomes[row.id]
        report.add_section(f"Claim {row.id}: {item.title}", anchor=f"claim-{row.id}")
        report.add_html(f"<p>Verdict: {_badge(row.verdict)} &nbsp; "
                        f"<span class='meta'>({html.escape(row.checks)}, "
                        f"{row.seconds:.1f} s)</span></p>")
        report.add_quote(item.statement, f"{_REFERENCE}{item.source}")
        report.add_html("<h3>What was run</h3>")
        report.add_text(outcome.setup)
        for fig, caption in outcome.figures:
            report.add_figure(fig, caption)
        report.add_html("<h3>Checks (the main ones decide the verdict)</h3>")
        report.add_table(outcome.checks_frame())
        report.add_html("<h3>Measured numbers</h3>")
        if len(outcome.numbers):
            report.add_table(outcome.numbers)
        else:
            report.add_text("No numbers: the experiment did not finish.")
        if outcome.notes:
            report.add_html("<h3>How to read it</h3>")
            report.add_text(outcome.notes)
    _add_graph(report)
    report.add_section("How to rerun", anchor="rerun")
    report.add_html("<pre>fnnlab reproduce --report DIR [--quick] [--only 2,7] [--seed 0]</pre>")
    path = report.write(directory)
    check_table(outcomes).to_csv(directory / "verdicts.csv", index=False)
    table.to_csv(directory / "claims.csv", index=False)
    (directory / "summary.md").write_text(summary_markdown(table, outcomes, quick=quick,
                                                           wall=wall), encoding="utf-8")
    numbers = directory / "numbers"
    numbers.mkdir(exist_ok=True)
    for cid, outcome in outcomes.items():
        outcome.numbers.to_csv(numbers / f"claim_{cid:02d}.csv", index=False)
    return path


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:  # not available on every platform
        return "unknown"


def _add_graph(report) -> None:
    from fnnlab.models import FNNSpec, build
    from fnnlab.report import model_graph_png

    report.add_section("Appendix: a computational graph", anchor="graph")
    spec = FNNSpec(in_features=4, out_features=2, depth=2, width=8, method="snn")
    png = model_graph_png(build(spec, seed=0),
                          torch.randn(3, 4, generator=torch.Generator().manual_seed(0)))
    if png is None:
        report.add_text("The autograd graph of a 2-layer SNN is drawn here when torchviz and "
                        "Graphviz are installed (pip install torchviz; apt-get install "
                        "graphviz). They are not, so the figure is skipped.")
        return
    report.add_text("The autograd graph of a 2-hidden-layer SNN (4 inputs, 8 units, 2 "
                    "outputs), as back-propagation traverses it: blue boxes are parameters, "
                    "grey nodes the backward functions (notes 002, 'Computational Graph', "
                    "'PytorchViz').")
    report.add_image(png, "Computational graph of FNNSpec(depth=2, width=8, method='snn'), "
                     "drawn by torchviz.", width=420)
