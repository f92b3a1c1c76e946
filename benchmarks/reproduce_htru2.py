"""The SNN paper's HTRU2 experiment: 10-fold cross-validated ROC AUC of seven FNN methods.

Klambauer et al. (2017, "Self-Normalizing Neural Networks", NeurIPS, Sec. 4.3) rank
the FNN methods on HTRU2 (17,898 pulsar candidates, 8 features, 9.2 % pulsars) by the
mean ROC AUC of 10-fold cross-validation, hyperparameters chosen inside each training
fold: SNN 0.9803, MSRAinit 0.9791, WeightNorm 0.9786, Highway 0.9766, LayerNorm
0.9762, BatchNorm 0.9760, ResNet 0.9753. This script runs that protocol on fnnlab's
public API and writes ``docs/results/htru2.md``:

- outer folds: ``fnnlab.data.folds.cv_folds`` with 10 stratified folds, one repeat,
  a fixed seed, so every method sees the same ten test folds;
- inner selection: 15 % of each training fold (stratified, seeded) is the validation
  set (``fnnlab.data.from_indices``); features are standardized with the statistics
  of the remaining training rows only;
- every grid point of one (fold, method) trains in one ``fnnlab.fit_many`` call
  (same-shaped points share a vectorized stack), with early stopping on the
  validation loss;
- ``fnnlab.bench.selection.select`` keeps, per (fold, method), the grid point with
  the best validation AUC; its test AUC is that method's score on the fold;
- the page holds mean +- std over folds beside the paper's number, mean ranks over
  folds and a paired Wilcoxon signed-rank test over the ten folds of SNN against
  each other method (``fnnlab.bench.stats``).

Results go to a JSON-lines store as each (fold, method) unit finishes; a rerun skips
the finished units, so an interrupted run resumes. Run it with

    nice python benchmarks/reproduce_htru2.py [--jobs 2] [--quick]
        [--data ../shared/data/htru2] [--store results/htru2.jsonl]
        [--out docs/results/htru2.md]

``--quick`` is a smoke run (3 folds, a tiny grid, 2 epochs, page in ``results/``).
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from _reproduce import command, destinations, machine, parser, read_store, run_units, wall_time

from fnnlab import data as fdata
from fnnlab.bench import stats
from fnnlab.bench.grids import check_grid, check_values, grid_points, method_grid, split_point
from fnnlab.bench.scoring import network_scores
from fnnlab.bench.selection import select
from fnnlab.data.folds import cv_folds
from fnnlab.models import FNNSpec
from fnnlab.training import fit_many

METHODS: tuple[str, ...] = ("snn", "msra", "weightnorm", "highway", "layernorm", "batchnorm",
                            "resnet")
# The paper's names in snn_paper_htru2_auc.csv.
PAPER_NAMES = {"SNN": "snn", "MSRAinit": "msra", "WeightNorm": "weightnorm",
               "Highway": "highway", "LayerNorm": "layernorm", "BatchNorm": "batchnorm",
               "ResNet": "resnet"}
N_FOLDS = 10
VALID = 0.15

# The paper's HTRU2 grid (supplement Sec. A4, as transcribed in the public repository
# AdrienLE/SNN_repro, SNN.ipynb, HTRU2_HYPER): widths {1024, 512, 256}, depths
# {2, 4, 8, 16, 32} (ResNet {2, 4, 8, 16} blocks), learning rates {0.01, 0.1, 1}, layer
# form rectangular or conic, dropout {0, 0.05} (SNN, alpha dropout) and {0, 0.5} (ReLU,
# highway), ResNet bottleneck {0.25, 0.5} and block form rectangular or diavolo.
# FULL is the part of it that trains ten folds of seven methods in about 11 minutes on
# two nearly idle cores; the page lists what was cut (CUT).
FULL: dict[str, dict[str, list[Any]]] = {
    "fnn": {"width": [64], "depth": [2, 4], "lr": [0.01, 0.1, 1.0], "dropout": [0.0],
            "epochs": [30], "batch_size": [256], "early_stopping": [5]},
    "snn": {"dropout": [0.0, 0.05]},
    "msra": {"dropout": [0.0, 0.5]},
    "highway": {"dropout": [0.0, 0.5]},
}
CUT = [
    "width 64 only (paper: 256, 512, 1024)",
    "depth {2, 4} (paper: also 8, 16 and 32; ResNet 8 and 16 blocks)",
    "rectangular layers only (paper: also conic; ResNet also diavolo blocks, bottleneck 25 %)",
    "at most 30 epochs of SGD, batch 256, early stopping after 5 epochs without a lower "
    "validation loss (the paper gives no batch size or epoch budget for HTRU2)",
    "selection on one stratified 15 % validation split of each training fold, one seed "
    "(the paper: nested cross-validation; the form of its inner loop is not in the sources "
    "read here)",
]
QUICK: dict[str, dict[str, list[Any]]] = {
    "fnn": {"width": [16], "depth": [2], "lr": [0.1], "dropout": [0.0], "epochs": [2],
            "batch_size": [256], "early_stopping": [2]},
}


@dataclass(frozen=True, eq=False)
class Unit:
    """One (outer fold, method) pair: its grid points train in one ``fit_many`` call."""

    fold: int
    method: str
    points: tuple[str, ...]  # each grid point as sorted JSON
    train: np.ndarray
    test: np.ndarray
    path: str
    seed: int


def paper_auc(folder: Path) -> pd.Series:
    """The paper's mean AUC per method (fnnlab names) from ``snn_paper_htru2_auc.csv``."""
    frame = pd.read_csv(folder / "snn_paper_htru2_auc.csv")
    return frame.set_index(frame["method"].map(PAPER_NAMES))["auc"]


def method_points(grid: dict[str, dict[str, list[Any]]],
                  methods: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Every method's grid points, checked the way ``fnnlab compare`` checks a grid."""
    check_grid(grid, list(methods), [])
    points = {m: grid_points(method_grid(grid, m, baseline=False)) for m in methods}
    check_values(points)
    return points


def plan(path: Path, grid: dict[str, dict[str, list[Any]]], methods: Sequence[str], *,
         n_folds: int = N_FOLDS, seed: int = 0) -> list[Unit]:
    """The units of the experiment: every (fold, method), the costly methods first."""
    table = fdata.load_csv(path)
    folds = cv_folds(table.y, table.task, n_folds=n_folds, n_repeats=1, seed=seed)
    points = method_points(grid, methods)
    order = sorted(methods, key=lambda m: m not in ("resnet", "highway"))
    return [Unit(fold.fold, m, tuple(_point(p) for p in points[m]),
                 fold.train, fold.test, str(path), seed)
            for fold in folds for m in order]


def run_unit(unit: Unit) -> list[dict[str, Any]]:
    """Train a unit's grid points and score each on the fold's validation and test rows.

    Returns one row per grid point in the format of ``fnnlab.bench.selection.select``.
    """
    torch.set_num_threads(1)
    table = fdata.load_csv(unit.path)
    splits = fdata.from_indices(table, unit.train, unit.test, valid=VALID,
                                seed=unit.seed + unit.fold)
    params = [json.loads(p) for p in unit.points]
    parts = [split_point(p) for p in params]
    specs = [FNNSpec(in_features=splits.n_features, out_features=splits.n_outputs,
                     method=unit.method, **spec) for spec, _ in parts]
    options = {name: [fit[name] for _, fit in parts] for name in parts[0][1]}
    start = time.perf_counter()
    with warnings.catch_warnings():
        # A diverging grid point is a legal outcome (fit restores its initial weights
        # and it loses the selection); the count of such points is on the page.
        warnings.simplefilter("ignore", RuntimeWarning)
        results = fit_many(specs, splits.train, splits.valid, progress=False,
                           seed=unit.seed + unit.fold, **options)
    seconds = (time.perf_counter() - start) / len(results)
    rows = []
    for point, result in zip(params, results, strict=True):
        scores, _ = network_scores(result.model, splits)
        rows.append({"method": unit.method, "kind": "fnn", "dataset": "htru2",
                     "fold": unit.fold, "seed": unit.seed, "params": point, "status": "ok",
                     "scores": scores, "epochs": len(result.history),
                     "stop_reason": result.stop_reason, "train_seconds": seconds,
                     "n_train": len(splits.train), "n_test": len(splits.test)})
    return rows


def _point(params: dict[str, Any]) -> str:
    """A grid point as sorted JSON: its identity in units, rows and selections."""
    return json.dumps(params, sort_keys=True)


def _key(row_or_unit: Any) -> tuple[int, str, int]:
    if isinstance(row_or_unit, Unit):
        return row_or_unit.fold, row_or_unit.method, row_or_unit.seed
    return row_or_unit["fold"], row_or_unit["method"], row_or_unit["seed"]


def pending(units: Iterable[Unit], rows: Iterable[dict[str, Any]]) -> list[Unit]:
    """Units with a grid point that has no stored row."""
    done: dict[tuple[int, str, int], set[str]] = {}
    for row in rows:
        done.setdefault(_key(row), set()).add(_point(row["params"]))
    return [u for u in units if not set(u.points) <= done.get(_key(u), set())]


def run(units: Sequence[Unit], store: Path, jobs: int, progress: bool = True) -> float:
    """Run the pending units, appending each one's rows to ``store``; return wall seconds."""
    todo = pending(units, read_store(store))
    return run_units(run_unit, todo, store, jobs, progress=progress,
                     desc=f"htru2: {len(todo)} of {len(units)} units")


def summarize(rows: Sequence[dict[str, Any]], units: Sequence[Unit],
              paper: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Select on validation AUC and build the method table.

    Returns
    -------
    table : DataFrame
        One row per method, best mean first: mean and std of the test AUC over folds,
        the paper's AUC, the difference, mean rank over folds, the Wilcoxon p-value of
        SNN against the method, the folds on which the method's test AUC is above SNN's
        (-1 for SNN itself), the number of grid points and of diverged ones.
    per_fold : DataFrame
        Folds x methods test AUC of the selected grid points.
    chosen : DataFrame
        The selected rows (``select``'s columns).
    """
    wanted = {(_key(u), p) for u in units for p in u.points}
    frame = pd.DataFrame([r for r in rows
                          if (_key(r), _point(r["params"])) in wanted])
    chosen = select(frame, "roc_auc")
    # The epochs the chosen points trained, to tell a budget-limited selection on the page.
    frame["_point"] = frame["params"].map(_point)
    trained = frame.set_index(["method", "fold", "_point"])[["epochs", "stop_reason"]]
    chosen = chosen.join(trained, on=["method", "fold",
                                      chosen["params"].map(_point).rename("_point")])
    methods = sorted(dict.fromkeys(u.method for u in units), key=_order)
    per_fold = chosen.pivot(index="fold", columns="method", values="test")[methods]
    p = stats.wilcoxon_vs_best(per_fold, best="snn") if "snn" in methods else np.nan
    diverged = frame[frame["stop_reason"] == "diverged"].groupby("method").size()
    table = pd.DataFrame({
        "method": methods,
        "auc": per_fold.mean().to_numpy(),
        "std": per_fold.std(ddof=1).to_numpy(),
        "paper": [paper.get(m, np.nan) for m in methods],
        "mean_rank": stats.mean_ranks(per_fold).to_numpy(),
        "p_snn": [p[m] if isinstance(p, pd.Series) else np.nan for m in methods],
        "beats_snn": [int((per_fold[m] > per_fold["snn"]).sum()) if "snn" in methods and
                      m != "snn" else -1 for m in methods],
        "points": [len(next(u.points for u in units if u.method == m)) for m in methods],
        "diverged": [int(diverged.get(m, 0)) for m in methods],
    })
    table["difference"] = table["auc"] - table["paper"]
    table = table.sort_values("auc", ascending=False, kind="stable").reset_index(drop=True)
    return table, per_fold, chosen


def _order(method: str) -> int:
    return METHODS.index(method) if method in METHODS else len(METHODS)


def _names() -> dict[str, str]:
    return {v: k for k, v in PAPER_NAMES.items()}


def page(table: pd.DataFrame, per_fold: pd.DataFrame, chosen: pd.DataFrame,
         meta: dict[str, Any]) -> str:
    """The results page (Markdown) from :func:`summarize`'s output and the run's facts."""
    names = _names()
    lines = [
        f"# HTRU2: {meta['n_folds']}-fold cross-validated AUC of seven FNN methods", "",
        "The SNN paper's astronomy experiment (Klambauer et al. 2017, Sec. 4.3): mean ROC AUC "
        f"of {meta['n_folds']}-fold cross-validation on HTRU2, hyperparameters chosen on a "
        "validation set inside each training fold (nested), beside the paper's numbers.", "",
        f"- command: `{meta['command']}`",
        f"- machine: {meta['machine']}",
        f"- wall time: {meta['wall']}",
        f"- data: `{meta['data']}`, {meta['rows']} rows, features standardized with each "
        "training fold's statistics",
        f"- folds: stratified, seed {meta['seed']} (`fnnlab.data.folds.cv_folds`); "
        f"validation: {VALID:.0%} of each training fold, stratified", "",
        "## Result", "",
        "| method | AUC (mean ± std over folds) | paper | difference | mean rank | "
        "p (SNN vs method) | folds above SNN | grid points | diverged |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        p = "" if np.isnan(row.p_snn) else f"{row.p_snn:.3f}"
        above = "" if row.beats_snn < 0 else f"{row.beats_snn} of {len(per_fold)}"
        lines.append(f"| {names.get(row.method, row.method)} | {row.auc:.4f} ± {row.std:.4f} | "
                     f"{row.paper:.4f} | {row.difference:+.4f} | {row.mean_rank:.2f} | {p} | "
                     f"{above} | {row.points} | {row.diverged} |")
    lines += ["", "Mean rank: rank of the method among the seven on each test fold (1 = best), "
              "averaged over folds. p: two-sided paired Wilcoxon signed-rank test of SNN "
              "against the method over the folds' test AUCs (uncorrected, as in the paper); "
              "the std over folds is mostly the folds' difficulty, which the paired test "
              "removes. "
              "Diverged: grid points (over all folds) whose loss became NaN; they cannot win "
              "the selection.", "", "## Agreement with the paper", "", meta["verdict"], "",
              "## Grid", "", "Per method, every combination of:", ""]
    lines += [f"- `{method}`: " + ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
              for method, params in meta["grid"].items()]
    lines += ["", "Cut from the paper's HTRU2 grid (supplement Sec. A4, as transcribed in "
              "the public repository AdrienLE/SNN_repro; fnnlab's presets fix the rest):", ""]
    lines += [f"- {cut}" for cut in meta["cut"]]
    lines += ["", "## Test AUC per fold (selected grid point)", "",
              "| fold | " + " | ".join(names.get(m, m) for m in per_fold.columns) + " |",
              "|---|" + "---|" * per_fold.shape[1]]
    lines += [f"| {fold} | " + " | ".join(f"{v:.4f}" for v in row) + " |"
              for fold, row in per_fold.iterrows()]
    picks = chosen.assign(point=chosen["params"].map(_short)).groupby("method")["point"]
    lines += ["", "## Selected grid points", "", "How often each point won the validation "
              "selection over the folds:", ""]
    lines += [f"- {names.get(m, m)}: " + "; ".join(f"{k} ({n}x)" for k, n in
                                                  picks.get_group(m).value_counts().items())
              for m in per_fold.columns]
    return "\n".join(lines) + "\n"


def _short(params: dict[str, Any]) -> str:
    # The parameters that vary in the grids, in a short form.
    keys = ("depth", "lr", "dropout")
    return ", ".join(f"{k}={params[k]}" for k in keys if k in params)


def verdict(table: pd.DataFrame, chosen: pd.DataFrame,
            grid: dict[str, dict[str, list[Any]]]) -> str:
    """Plain words on how the measured order and level compare with the paper's."""
    ours = list(table["method"])
    theirs = list(table.sort_values("paper", ascending=False)["method"])
    names = _names()
    snn = table.set_index("method").loc["snn"] if "snn" in ours else None
    level = (f"Every method lands within {table['difference'].abs().max():.4f} AUC of the "
             f"paper's number (mean difference {table['difference'].mean():+.4f}).")
    order = ("The order of the methods is the paper's." if ours == theirs else
             f"Measured order: {', '.join(names.get(m, m) for m in ours)}; the paper's: "
             f"{', '.join(names.get(m, m) for m in theirs)}.")
    words = [level, order]
    if snn is not None:
        words.append(f"SNN ranks {ours.index('snn') + 1} of {len(ours)} by mean AUC; the "
                     f"seven means span {table['auc'].max() - table['auc'].min():.4f} AUC.")
        others = table[(table["method"] != "snn") & (table["p_snn"] < 0.05)]
        ahead = [names.get(m, m) for m in others.loc[others["auc"] > snn["auc"], "method"]]
        behind = [names.get(m, m) for m in others.loc[others["auc"] < snn["auc"], "method"]]
        if ahead:
            words.append(f"Paired over the folds, {', '.join(ahead)} is ahead of SNN at "
                         "p < 0.05, against the paper's order.")
        if behind:
            words.append(f"Paired over the folds, SNN is ahead of {', '.join(behind)} at "
                         "p < 0.05, as in the paper.")
        if not ahead and not behind:
            words.append("No paired test over the folds separates SNN from another method "
                         "at p < 0.05, so this run neither confirms nor refutes the paper's "
                         "order.")
    top = max(grid["fnn"]["lr"])
    at_top = int((chosen["params"].map(lambda p: p["lr"]) == top).sum())
    full = int((chosen["stop_reason"] == "completed").sum())
    budget = (f"The largest learning rate of the grid ({top}) won {at_top} of {len(chosen)} "
              f"selections, and {full} of the chosen networks trained the whole epoch budget "
              "without early stopping")
    # Budget-limited when most chosen networks were still improving at the last epoch.
    words.append(budget + (": the networks are budget-limited, and a longer budget or a "
                           "larger grid may change the order of methods this close."
                           if 2 * full > len(chosen) else
                           "; most chosen networks stopped early, so the epoch budget is "
                           "not what limits them."))
    return " ".join(words)


def main(argv: Sequence[str] | None = None) -> None:
    """Run (or resume) the experiment and write the page."""
    args = parser("htru2", __doc__.splitlines()[0],
                  data="htru2.csv.gz and snn_paper_htru2_auc.csv",
                  quick="3 folds, a tiny grid, 2 epochs",
                  seed="seeds folds, splits and inits").parse_args(argv)
    store, out = destinations(args, "htru2")
    grid, n_folds = (QUICK, 3) if args.quick else (FULL, N_FOLDS)
    path = args.data / "htru2.csv.gz"
    units = plan(path, grid, METHODS, n_folds=n_folds, seed=args.seed)
    wall = run(units, store, args.jobs, progress=args.progress)
    table, per_fold, chosen = summarize(read_store(store), units, paper_auc(args.data))
    meta = {"command": command("reproduce_htru2.py", argv),
            "machine": machine(), "wall": wall_time(store), "data": path.name,
            "rows": int(sum(len(u.test) for u in units) / len(METHODS)), "seed": args.seed,
            "n_folds": n_folds, "grid": {m: method_grid(grid, m, baseline=False)
                                         for m in METHODS},
            "cut": CUT if not args.quick else ["smoke run: everything"],
            "verdict": verdict(table, chosen, grid)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(table, per_fold, chosen, meta))
    print(table.to_string(index=False))
    print(f"wrote {out} (this run: {wall:.0f} s; all runs: {wall_time(store)})")


if __name__ == "__main__":
    main()
