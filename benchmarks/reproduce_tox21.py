"""The SNN paper's Tox21 experiment: mean AUC over 12 assays by depth, seven FNN methods.

Klambauer et al. (2017, "Self-Normalizing Neural Networks", NeurIPS, Sec. 4.2 and
Table 2) train one network with 12 sigmoid outputs on the Tox21 challenge data and
report, per method and number of hidden layers {2, 3, 4, 6, 8, 16, 32}, the mean test
ROC AUC over the 12 assays: SNNs stay near 84 % up to 8 layers and lose least at 16 and
32, while batch norm and weight norm fall off with depth. This script runs the same
comparison on fnnlab's public API and writes ``docs/results/tox21.md`` and the figure
``docs/results/tox21_depth.png``:

- data: ``../shared/data/tox21/tox21.csv.gz`` (7,831 compounds, 214 RDKit descriptors
  and 1024 ECFP4 bits; a label is missing where a compound was not measured). It is not
  the paper's data release nor its DeepTox features, so the paper's numbers are a
  yardstick, not a target;
- split: a seeded random 80 / 10 / 10 split of the rows (train / validation / test),
  the same for every method and depth;
- features: quantile-transformed to a normal on the training rows
  (``fnnlab.data.SCALINGS``; the descriptors are unscaled and heavy-tailed);
- one network per (method, depth, learning rate) with 12 Bernoulli outputs, trained
  with the masked loss (``likelihood="bernoulli"``: only observed labels count), the
  learning rates of one (method, depth) stacked in one ``fnnlab.fit_many`` call;
- the stopping epoch is chosen by early stopping on the validation loss, the learning
  rate by the validation mean AUC; the test mean AUC of that network is reported.

Results go to a JSON-lines store as each (method, depth) unit finishes; a rerun trains
only the missing units. Run it with

    nice python benchmarks/reproduce_tox21.py [--jobs 2] [--quick]
        [--data ../shared/data/tox21] [--store results/tox21.jsonl]
        [--out docs/results/tox21.md]

``--quick`` is a smoke run (depths 2 and 3, width 16, 1 epoch, page in ``results/``).
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import torch
from _reproduce import command, destinations, machine, parser, read_store, run_units, wall_time

from fnnlab.data import SCALINGS
from fnnlab.models import FNNSpec
from fnnlab.training import fit_many
from fnnlab.training.metrics import per_task
from fnnlab.training.predict import outputs

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file backend)

METHODS: tuple[str, ...] = ("snn", "batchnorm", "weightnorm", "layernorm", "highway", "msra",
                            "resnet")
# The paper's names in snn_paper_tox21_auc_by_depth.csv.
PAPER_NAMES = {"SNN": "snn", "Batchnorm": "batchnorm", "WeightNorm": "weightnorm",
               "LayerNorm": "layernorm", "Highway": "highway", "MSRAinit": "msra",
               "ResNet": "resnet"}
NAMES = {name: paper for paper, name in PAPER_NAMES.items()}  # preset -> the paper's name
DEPTHS: tuple[int, ...] = (2, 3, 4, 6, 8, 16, 32)
PARTS = {"test": 0.1, "valid": 0.1}

# The paper's Tox21 grid (supplement Sec. A4, as transcribed in the public repository
# AdrienLE/SNN_repro, SNN.ipynb, TOX21_HYPER): widths {1024, 2048}, learning rates
# {0.01, 0.05, 0.1}, dropout {0.05, 0.1} (SNN, alpha dropout) or {0, 0.5} (ReLU nets),
# L2 {1e-3, 1e-4, 1e-5}, layer form rectangular or conic; ResNet bottleneck {0.25, 0.5},
# block form rectangular or diavolo, at most 16 blocks. FULL is what fits about 25
# minutes on two shared cores; the page lists what was cut (CUT).
FULL: dict[str, Any] = {"width": 128, "lr": [0.01, 0.1], "epochs": 12, "batch_size": 128,
                        "early_stopping": 3}
CUT = [
    "width 128 (paper: 1024 and 2048)",
    "learning rate {0.01, 0.1} (paper: also 0.05)",
    "no dropout and no L2 penalty (paper: dropout {0.05, 0.1} for SNN, {0, 0.5} for ReLU "
    "nets; L2 {1e-3, 1e-4, 1e-5})",
    "rectangular layers only (paper: also conic; ResNet also diavolo blocks, bottleneck 25 %)",
    "at most 12 epochs of SGD, batch 128, early stopping after 3 epochs without a lower "
    "validation loss",
    "one seed (the paper's ± is over repeated runs)",
    "ResNet at most 16 blocks, as in the paper (its 32-layer entry is 'na')",
]
QUICK: dict[str, Any] = {"width": 16, "lr": [0.1], "epochs": 1, "batch_size": 256,
                         "early_stopping": 1}
QUICK_DEPTHS: tuple[int, ...] = (2, 3)


@dataclass(frozen=True)
class Unit:
    """One (method, depth): its learning rates train in one ``fit_many`` call."""

    method: str
    depth: int
    settings: str  # the training settings as sorted JSON (width, lr list, epochs, ...)
    prepared: str  # the .npz written by :func:`prepare`
    seed: int


def split_rows(n: int, seed: int) -> dict[str, np.ndarray]:
    """A seeded random 80 / 10 / 10 split of ``n`` rows into sorted train, valid, test rows.

    The first ceil(0.1 n) rows of a ``numpy.random.default_rng(seed)`` permutation are
    the test rows, the next ceil(0.1 n) the validation rows, the rest the training rows.
    """
    order = np.random.default_rng(seed).permutation(n)
    n_test, n_valid = (int(np.ceil(PARTS[p] * n)) for p in ("test", "valid"))
    return {"test": np.sort(order[:n_test]), "valid": np.sort(order[n_test:n_test + n_valid]),
            "train": np.sort(order[n_test + n_valid:])}


def read_table(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features (float64), labels (float32, NaN = not measured) and the task names."""
    frame = pd.read_csv(path)
    targets = [c for c in frame.columns if c.startswith("target_")]
    if not targets:
        raise ValueError(f"{path} has no target_* columns; expected the Tox21 file of "
                         f"../shared/data/tox21.")
    X = frame.drop(columns=targets).to_numpy(np.float64)
    Y = frame[targets].to_numpy(np.float32)
    return X, Y, [t.removeprefix("target_") for t in targets]


def prepare(path: Path, out: Path, *, seed: int, scaling: str) -> Path:
    """Split, scale on the training rows, and save what every unit reads (once per setting)."""
    file = out / f"tox21-prepared-seed{seed}-{scaling}.npz"
    if file.exists():
        return file
    X, Y, tasks = read_table(path)
    parts = split_rows(len(X), seed)
    scaler = SCALINGS.create(scaling).fit(X[parts["train"]])
    out.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp.npz")
    np.savez(tmp, X=scaler.transform(X).astype(np.float32), Y=Y, tasks=np.array(tasks),
             **parts)
    tmp.replace(file)
    return file


def plan(prepared: Path, settings: dict[str, Any], methods: Sequence[str],
         depths: Sequence[int], seed: int = 0) -> list[Unit]:
    """Every (method, depth) unit, deepest first (they take longest); ResNet up to 16.

    A unit's settings name the prepared file (its split seed and scaling), so a run with
    another ``--scaling`` trains its own units instead of finding the others' rows.
    """
    text = json.dumps({**settings, "data": Path(prepared).name}, sort_keys=True)
    return [Unit(m, d, text, str(prepared), seed) for d in sorted(depths, reverse=True)
            for m in methods if not (m == "resnet" and d > 16)]


def run_unit(unit: Unit) -> list[dict[str, Any]]:
    """Train one (method, depth) at every learning rate; score each on valid and test.

    Returns one row per learning rate: the mean and per-task AUCs on both parts.
    """
    torch.set_num_threads(1)
    data = np.load(unit.prepared)
    X, Y = torch.from_numpy(data["X"]), torch.from_numpy(data["Y"])
    train, valid, test = (torch.from_numpy(data[p]) for p in ("train", "valid", "test"))
    settings = json.loads(unit.settings)
    lrs = settings["lr"]
    spec = FNNSpec(in_features=X.shape[1], out_features=Y.shape[1], method=unit.method,
                   depth=unit.depth, width=settings["width"])
    start = time.perf_counter()
    with warnings.catch_warnings():
        # A diverging learning rate is a legal outcome (fit restores its initial weights,
        # and the validation AUC then rules it out); the page counts them.
        warnings.simplefilter("ignore", RuntimeWarning)
        results = fit_many([spec] * len(lrs), (X[train], Y[train]), (X[valid], Y[valid]),
                           likelihood="bernoulli", lr=lrs, seed=unit.seed, progress=False,
                           epochs=settings["epochs"], batch_size=settings["batch_size"],
                           early_stopping=settings["early_stopping"])
    seconds = (time.perf_counter() - start) / len(lrs)
    rows = []
    for lr, result in zip(lrs, results, strict=True):
        row = {"method": unit.method, "depth": unit.depth, "lr": lr, "seed": unit.seed,
               "settings": unit.settings, "epochs": len(result.history),
               "best_epoch": result.best_epoch, "stop_reason": result.stop_reason,
               "train_seconds": seconds}
        for part, rows_of in (("valid", valid), ("test", test)):
            p = result.likelihood.predict_proba(outputs(result.model, X[rows_of])).numpy()
            aucs = per_task("roc_auc", Y[rows_of].numpy(), None, p)
            row[f"{part}_auc"] = float(np.nanmean(aucs))
            row[f"{part}_task_auc"] = [float(a) for a in aucs]
        rows.append(row)
    return rows


def _key(item: Any) -> tuple[str, int, int, str]:
    if isinstance(item, Unit):
        return item.method, item.depth, item.seed, item.settings
    return item["method"], item["depth"], item["seed"], item["settings"]


def pending(units: Iterable[Unit], rows: Iterable[dict[str, Any]]) -> list[Unit]:
    """Units without stored rows."""
    done = {_key(row) for row in rows}
    return [u for u in units if _key(u) not in done]


def select(rows: Sequence[dict[str, Any]], units: Sequence[Unit]) -> pd.DataFrame:
    """Per (method, depth), the learning rate with the best validation mean AUC.

    Ties go to the smaller learning rate. Returns one row per unit with ``lr``,
    ``valid_auc``, ``test_auc``, ``test_task_auc``, ``best_epoch`` and ``diverged``
    (learning rates of the unit whose loss became NaN).
    """
    keys = {_key(u) for u in units}
    frame = pd.DataFrame([r for r in rows if _key(r) in keys])
    frame["diverged"] = frame["stop_reason"] == "diverged"
    frame["_score"] = frame["valid_auc"].fillna(-np.inf)
    frame = frame.sort_values(["method", "depth", "_score", "lr"],
                              ascending=[True, True, False, True], kind="stable")
    diverged = frame.groupby(["method", "depth"])["diverged"].sum().rename("diverged")
    best = frame.drop_duplicates(["method", "depth"]).drop(columns=["diverged", "_score"])
    return best.merge(diverged.reset_index(), on=["method", "depth"]).reset_index(drop=True)


def paper_table(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The paper's mean AUC (%) and its ± by method (fnnlab names) x depth; NaN for 'na'."""
    frame = pd.read_csv(folder / "snn_paper_tox21_auc_by_depth.csv", dtype=str)
    frame = frame.set_index(frame["method"].map(PAPER_NAMES)).drop(columns="method")
    frame.columns = [int(c) for c in frame.columns]

    def part(i: int) -> pd.DataFrame:
        return frame.apply(lambda col: pd.to_numeric(
            col.str.split("±").str[i].str.strip(), errors="coerce"))

    return part(0), part(1)


def depth_table(chosen: pd.DataFrame, methods: Sequence[str]) -> pd.DataFrame:
    """Methods x depths test mean AUC in %, in ``methods`` order."""
    out = chosen.pivot(index="method", columns="depth", values="test_auc") * 100
    return out.reindex([m for m in methods if m in out.index])


def figure(ours: pd.DataFrame, paper: pd.DataFrame, path: Path) -> None:
    """AUC against depth per method: ours solid, the paper's dashed, same colour."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, method in enumerate(ours.index):
        color = f"C{i}"
        ax.plot(ours.columns, ours.loc[method], "o-", color=color,
                label=NAMES.get(method, method), linewidth=2 if method == "snn" else 1.2)
        if method in paper.index:
            ax.plot(paper.columns, paper.loc[method], "--", color=color, alpha=0.5)
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(ours.columns), [str(d) for d in ours.columns])
    ax.set_xlabel("hidden layers")
    ax.set_ylabel("mean test AUC over 12 assays (%)")
    ax.set_title("Tox21: fnnlab (solid) and the SNN paper (dashed)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cell(value: float, spread: float | None = None) -> str:
    if np.isnan(value):
        return "na"
    return f"{value:.1f}" if spread is None or np.isnan(spread) else f"{value:.1f} ± {spread:.1f}"


def page(ours: pd.DataFrame, paper: tuple[pd.DataFrame, pd.DataFrame], chosen: pd.DataFrame,
         meta: dict[str, Any]) -> str:
    """The results page (Markdown)."""
    mean, spread = paper
    depths = list(ours.columns)
    head = "| method | " + " | ".join(str(d) for d in depths) + " | best |"
    rule = "|---|" + "---|" * (len(depths) + 1)
    lines = [
        "# Tox21: mean AUC over 12 assays by depth, seven FNN methods", "",
        "The SNN paper's drug-discovery experiment (Klambauer et al. 2017, Sec. 4.2, "
        "Table 2): one network with 12 sigmoid outputs, the loss over the observed labels "
        "only, mean test ROC AUC over the 12 assays by number of hidden layers.", "",
        f"- command: `{meta['command']}`",
        f"- machine: {meta['machine']}",
        f"- wall time: {meta['wall']}",
        f"- data: `{meta['data']}`, {meta['rows']} compounds, {meta['features']} features "
        f"({meta['scaling']} scaling fitted on the training rows), 12 assays",
        f"- split: seeded random {meta['split']} (numpy `default_rng({meta['seed']})` "
        "permutation: first 10 % test, next 10 % validation, rest training); the paper "
        "used the challenge's own split of a different data release", "",
        "## Mean test AUC (%) by number of hidden layers", "",
        "Ours (one seed; the learning rate chosen on the validation mean AUC, the epoch by "
        "early stopping on the validation loss):", "", head, rule,
    ]
    failed = _all_diverged(chosen, len(json.loads(meta["settings"])["lr"]))
    for method in ours.index:
        row = ours.loc[method]
        lines.append(f"| {NAMES.get(method, method)} | " + " | ".join(
            _cell(v) + (" †" if (method, d) in failed else "") for d, v in row.items())
            + f" | {int(row.idxmax())} |")
    lines += ["", *(["†: every learning rate diverged (loss NaN in the first epoch), so "
                     "the cell is the network at its initial weights.", ""] if failed else []),
              "The paper (mean ± std, its Table 2 as transcribed in "
              "`snn_paper_tox21_auc_by_depth.csv`):", "", head, rule]
    for method in ours.index:
        if method in mean.index:
            row = mean.loc[method, depths]
            lines.append(f"| {NAMES.get(method, method)} | " + " | ".join(
                _cell(v, spread.loc[method, d]) for d, v in row.items())
                + f" | {int(row.idxmax())} |")
    lines += ["", f"![Mean AUC against depth]({meta['figure']})", "",
              "## Agreement with the paper", "", meta["verdict"], "", "## Setting", "",
              f"- grid per (method, depth): {meta['settings']}", "",
              "Cut from the paper's Tox21 grid (supplement Sec. A4, as transcribed in the "
              "public repository AdrienLE/SNN_repro):", ""]
    lines += [f"- {cut}" for cut in meta["cut"]]
    lines += ["", "## Selected learning rate and stopping epoch", "",
              "| method | " + " | ".join(str(d) for d in depths) + " |",
              "|---|" + "---|" * len(depths)]
    for method in ours.index:
        sub = chosen[chosen["method"] == method].set_index("depth")
        lines.append(f"| {NAMES.get(method, method)} | " + " | ".join(
            f"{sub.loc[d, 'lr']:g} @ {sub.loc[d, 'best_epoch']}"
            + (f" ({sub.loc[d, 'diverged']} diverged)" if sub.loc[d, "diverged"] else "")
            if d in sub.index else "na" for d in depths) + " |")
    lines += ["", "Each cell: learning rate @ epoch of the kept weights.", ""]
    lines += _task_lines(chosen, meta["tasks"])
    return "\n".join(lines) + "\n"


def _task_lines(chosen: pd.DataFrame, tasks: Sequence[str]) -> list[str]:
    # Per-assay test AUC of each method's best depth (by validation mean AUC).
    best = chosen.sort_values("valid_auc", ascending=False).drop_duplicates("method")
    lines = ["## Per-assay test AUC at each method's best depth", "",
             "The depth with the best validation mean AUC per method.", "",
             "| assay | " + " | ".join(f"{NAMES.get(m, m)} ({d})" for m, d in
                                       zip(best["method"], best["depth"], strict=True)) + " |",
             "|---|" + "---|" * len(best)]
    for i, task in enumerate(tasks):
        lines.append(f"| {task} | " + " | ".join(f"{100 * a[i]:.1f}"
                                                 for a in best["test_task_auc"]) + " |")
    return lines


def _all_diverged(chosen: pd.DataFrame, n_lr: int) -> set[tuple[str, int]]:
    # (method, depth) pairs whose every learning rate diverged.
    out = chosen[chosen["diverged"] >= n_lr]
    return set(zip(out["method"], out["depth"], strict=True))


def verdict(ours: pd.DataFrame, paper: pd.DataFrame, chosen: pd.DataFrame,
            settings: dict[str, Any], n_test: int) -> str:
    """Plain words: the level, who is best per depth, and how each method holds up with depth."""
    best = ours.idxmax()
    wins = (best == "snn").sum()
    shallow = [d for d in ours.columns if d <= 4]
    deep = [d for d in ours.columns if d >= 16]
    common = paper.reindex(index=ours.index, columns=ours.columns)
    gap = (ours - common).stack().mean()
    words = [
        f"Our AUCs are on average {gap:+.1f} points from the paper's (other data release, "
        "other features, a much smaller grid, so only the shape can be compared).",
        f"SNN is the best method at {wins} of {len(ours.columns)} depths "
        f"(best per depth: {', '.join(f'{d}: {NAMES.get(m, m)}' for d, m in best.items())}).",
    ]
    if shallow and deep:
        drop = (ours[shallow].max(axis=1) - ours[deep].min(axis=1)).dropna().sort_values()
        words.append("Loss from the best shallow (2-4 layers) to the worst deep (16-32 "
                     "layers) network, smallest first: " + ", ".join(
                         f"{NAMES.get(m, m)} {v:.1f}" for m, v in drop.items()) + " points.")
    top, epochs = max(settings["lr"]), settings["epochs"]
    at_top = int((chosen["lr"] == top).sum())
    capped = int((chosen["best_epoch"] >= epochs - 1).sum())
    # Budget-limited when most chosen networks were still improving at the end.
    budget = ("most networks are budget-limited, so wider nets, a longer budget and the "
              "paper's dropout and L2 grid may move every curve up" if 2 * capped > len(chosen)
              else "most chosen networks stopped early, so the epoch budget is not what "
              "limits them; wider nets and the paper's dropout and L2 grid may still move "
              "the curves")
    words.append(
        f"The larger learning rate ({top}) won {at_top} of {len(chosen)} selections, and "
        f"{capped} of the chosen networks kept one of the last two of the {epochs} epochs: "
        f"{budget}. This is one seed on one split of {n_test} test compounds, with no test "
        "of significance: a margin of about one point at one depth is weak evidence; the "
        "trend with depth is the stronger result.")
    return " ".join(words)


def main(argv: Sequence[str] | None = None) -> None:
    """Run (or resume) the experiment, write the page and the figure."""
    options = parser("tox21", __doc__.splitlines()[0],
                     data="tox21.csv.gz and snn_paper_tox21_auc_by_depth.csv",
                     quick="depths 2 and 3, width 16, 1 epoch",
                     seed="seeds the split and the inits")
    options.add_argument("--scaling", default="quantile", help="name in fnnlab.data.SCALINGS")
    args = options.parse_args(argv)
    store, out = destinations(args, "tox21")
    settings, depths = (QUICK, QUICK_DEPTHS) if args.quick else (FULL, DEPTHS)
    prepared = prepare(args.data / "tox21.csv.gz", store.parent, seed=args.seed,
                       scaling=args.scaling)
    units = plan(prepared, settings, METHODS, depths, seed=args.seed)
    todo = pending(units, read_store(store))
    wall = run_units(run_unit, todo, store, args.jobs, progress=args.progress,
                     desc=f"tox21: {len(todo)} of {len(units)} units")
    chosen = select(read_store(store), units)
    ours = depth_table(chosen, METHODS)
    paper = paper_table(args.data)
    figure(ours, paper[0], out.with_name(out.stem + "_depth.png"))
    with np.load(prepared) as data:
        n_rows, n_features, tasks = len(data["X"]), data["X"].shape[1], list(data["tasks"])
        split = "/".join(str(len(data[p])) for p in ("train", "valid", "test"))
        n_test = len(data["test"])
    meta = {"command": command("reproduce_tox21.py", argv),
            "machine": machine(), "wall": wall_time(store), "data": "tox21.csv.gz",
            "rows": n_rows, "features": n_features, "scaling": args.scaling,
            "split": f"80/10/10 ({split} rows)", "seed": args.seed, "tasks": tasks,
            "figure": out.stem + "_depth.png", "settings": json.dumps(settings),
            "cut": CUT if not args.quick else ["smoke run: everything"],
            "verdict": verdict(ours, paper[0], chosen, settings, n_test)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(ours, paper, chosen, meta))
    print(ours.round(1).to_string())
    print(f"wrote {out} (this run: {wall:.0f} s; all runs: {wall_time(store)})")


if __name__ == "__main__":
    main()
