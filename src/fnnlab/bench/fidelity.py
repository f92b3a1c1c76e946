"""How close the paper protocol comes to the SNN paper: in its settings and in its numbers.

Klambauer et al. (2017, "Self-Normalizing Neural Networks", arXiv:1706.02515,
supplement A4) compared seven FNN methods on 121 UCI data sets. ``compare`` with
``protocol="paper"`` follows that comparison where it can, and :func:`deviations`
lists, from the comparison's own settings (data sets, grid, fit options, seeds,
metric, tie rule), everything it still does differently, so the printed table and
its JSON say it instead of a docstring. :func:`fidelity` measures the result against
the published accuracies per method.

:data:`PUBLISHED_GRID` is the grid of the supplement as transcribed in the
``fnnlab.bench.grids`` docstring, without the choices that are ours (the highway
width and gate bias, the layer form of highway and residual nets): each method's
grid is compared with it value by value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

import pandas as pd

from fnnlab.bench.datasets import PAPER_FOLD, VALID_FRACTION
from fnnlab.bench.grids import FIT_PARAMETERS, grid_points, method_grid
from fnnlab.bench.plan import DEFAULT_METHODS
from fnnlab.models import METHODS, FNNSpec
from fnnlab.training import FitConfig

__all__ = ["PAPER_DATASETS", "PAPER_TRAINING", "PUBLISHED_GRID", "deviations", "fidelity",
           "format_fidelity"]

# The number of UCI data sets of the paper's comparison.
PAPER_DATASETS = 121

_DENSE = {"width": [1024, 512, 256], "depth": [2, 3, 4, 8, 16, 32], "lr": [0.01, 0.1, 1.0],
          "layer_form": ["rectangular", "conic"]}

# Each method's hyperparameters as the supplement lists them (SELU nets take alpha
# dropout, ReLU and highway nets standard dropout; the normalized nets no dropout).
PUBLISHED_GRID: dict[str, dict[str, list[Any]]] = {
    "snn": {**_DENSE, "dropout": [0.0, 0.05]},
    "msra": {**_DENSE, "dropout": [0.0, 0.5]},
    "batchnorm": dict(_DENSE),
    "layernorm": dict(_DENSE),
    "weightnorm": dict(_DENSE),
    "highway": {"depth": _DENSE["depth"], "lr": _DENSE["lr"], "dropout": [0.0, 0.5]},
    "resnet": {"depth": [2, 3, 4, 8, 16], "width": _DENSE["width"], "lr": _DENSE["lr"],
               "block_form": ["rectangular", "diavolo"], "bottleneck": [0.25, 0.5]},
}

# What every net of a method must set but the supplement leaves open: whatever we
# train with, searched or default, is our choice.
_LEFT_OPEN: dict[str, tuple[str, ...]] = {"highway": ("gate_bias", "width")}

# Training as the paper describes it: the stopping epoch chosen on the validation
# curve smoothed by a moving average over 10 epochs, within 100 epochs. It names no
# optimizer and no batch size for these experiments; plain SGD is the reading of the
# public reproductions (its lr grid reaches 1).
PAPER_TRAINING: dict[str, Any] = {"optimizer": "sgd", "epochs": 100, "stopping_window": 10,
                                  "early_stopping": None}

# Options ``deviations`` words itself; any other fit option a grid sets is listed as ours.
_TRAINING_TOPICS = frozenset({"optimizer", "epochs", "batch_size", "stopping_window",
                              "early_stopping", "lr"})


def deviations(config: Mapping[str, Any]) -> list[str]:
    """Everything a paper-protocol comparison does differently from the SNN paper.

    Parameters
    ----------
    config : mapping
        The settings of a comparison (``Plan.config`` / ``ComparisonResult.config``).

    Returns
    -------
    list of str
        One line per difference, each starting with its topic ("data:", "split:",
        "grid snn:", ...); empty unless ``config["protocol"]`` is "paper" (the other
        protocols do not claim to be the paper's).
    """
    if config.get("protocol") != "paper":
        return []
    grid = config["grid"]
    networks = [m for m in config["methods"] if m not in config.get("baseline_grids", {})]
    lines = _data_lines(config)
    lines += _selection_lines(config)
    lines += _training_lines(grid, networks)
    lines += _grid_lines(grid, networks)
    others = [m for m in networks if m not in PUBLISHED_GRID]
    if others:
        lines.append(f"methods: {', '.join(others)} not among the paper's seven "
                     f"({', '.join(DEFAULT_METHODS)}); compared here only.")
    baselines = list(config.get("baseline_grids", {}))
    if baselines:
        lines.append(f"baselines: {', '.join(baselines)} trained here with scikit-learn on "
                     f"the same splits; the paper's ML methods' accuracies come from "
                     f"Fernandez-Delgado et al. (2014).")
    return lines


def _data_lines(config: Mapping[str, Any]) -> list[str]:
    seeds = list(config["seeds"])
    n = len(config["datasets"])
    lines = []
    if n != PAPER_DATASETS:
        lines.append(f"data: {n} of the paper's {PAPER_DATASETS} UCI data sets; ranks, "
                     f"Wilcoxon tests and averages are over these only.")
    lines.append(f"split: test part = k-fold split {PAPER_FOLD} of the collection's four "
                 f"(or the original test file); the paper does not say which split it used.")
    lines.append(f"validation: {VALID_FRACTION:.0%} of the training part, stratified and "
                 f"drawn anew by every seed; the paper's validation rows are not published.")
    scaling = config.get("scaling", "standard")
    if scaling not in ("standard", "none"):
        lines.append(f"scaling: {scaling!r}, fitted on each training part; the paper used the "
                     f"collection's standardized features.")
    lines.append(f"seeds: {len(seeds)} ({', '.join(map(str, seeds))}), each with its own "
                 f"validation rows, initial weights and chosen grid point; scores are means "
                 f"over seeds, the paper reports one run per data set.")
    return lines


def _selection_lines(config: Mapping[str, Any]) -> list[str]:
    lines = []
    metrics = sorted(set((config.get("metrics") or {}).values()) or {config.get("metric")})
    if metrics != ["accuracy"]:
        lines.append(f"metric: grid points chosen and methods ranked by {', '.join(metrics)}; "
                     f"the paper used accuracy (pass metric='accuracy').")
    ties = config.get("ties", "paper")
    if ties != "paper":
        lines.append(f"ties: equal validation scores broken by the {ties!r} rule; the "
                     f"paper's is more layers, then lower lr, then higher dropout.")
    lines.append("selection: the network chosen on validation is kept as trained, not "
                 "refitted on training + validation rows; the supplement as transcribed "
                 "does not say whether the paper refitted.")
    return lines


def _training_lines(grid: Mapping[str, Any], networks: list[str]) -> list[str]:
    """Optimizer, epochs, batch size, stopping rule and other fit options, per method."""
    by_text: dict[str, list[str]] = {}
    for method in networks:
        options = _fit_values(method_grid(grid, method, baseline=False))
        for text in _training_texts(options):
            by_text.setdefault(text, []).append(method)
    return [_for_methods(text, methods, networks) for text, methods in by_text.items()]


def _training_texts(options: dict[str, list[Any]]) -> list[str]:
    texts = []
    optimizer = options["optimizer"]
    reading = ("our reading" if optimizer == [PAPER_TRAINING["optimizer"]] else
               "not the usual reading, plain SGD")
    texts.append(f"optimizer: {_values(optimizer)}, {reading}; the paper names no optimizer "
                 f"for these experiments.")
    texts.append(f"batch size: {_values(options['batch_size'])}, our choice; the paper "
                 f"gives no batch size.")
    epochs, window = options["epochs"], options.get("stopping_window", [None])
    patience = options["early_stopping"]
    paper = "; the paper took the best epoch of the validation curve smoothed over 10 epochs"
    if epochs != [PAPER_TRAINING["epochs"]]:
        texts.append(f"epochs: at most {_values(epochs)}; the paper trained 100.")
    if window == [PAPER_TRAINING["stopping_window"]] and patience == [None]:
        texts.append("stopping: best epoch of the validation loss under a trailing 10-epoch "
                     "moving average; the paper names neither the curve nor where the "
                     "window sits, so loss and trailing are our reading.")
    elif window == [None]:
        rule = ("the last epoch" if patience == [None] else
                f"patience {_values(patience)} on the unsmoothed validation loss, best epoch kept")
        texts.append(f"stopping: {rule}{paper}.")
    else:
        texts.append(f"stopping: validation loss smoothed over {_values(window)} epochs, "
                     f"patience {_values(patience)}{paper}.")
    defaults = FitConfig.defaults()
    for name, values in sorted(options.items()):
        if name not in _TRAINING_TOPICS and values != [defaults[name]]:
            texts.append(f"training: {name} = {_values(values)} is ours; the paper "
                         f"sets no {name}.")
    return texts


def _grid_lines(grid: Mapping[str, Any], networks: list[str]) -> list[str]:
    """Per method: the paper's values our grid lacks, values it adds, parameters of ours."""
    by_text: dict[str, list[str]] = {}
    conic = False
    for method in networks:
        if method not in PUBLISHED_GRID:
            continue
        ours = method_grid(grid, method, baseline=False)
        conic = conic or "conic" in ours.get("layer_form", [])
        texts = _grid_texts(method, ours, PUBLISHED_GRID[method])
        if texts:
            n_ours = len(grid_points({k: v for k, v in ours.items() if k not in FIT_PARAMETERS
                                      or k == "lr"}))
            n_paper = len(grid_points(PUBLISHED_GRID[method]))
            text = "; ".join(texts) + f" ({n_ours} grid points, the paper's {n_paper})."
            by_text.setdefault(text, []).append(method)
    lines = [_for_methods(text, methods, networks, topic="grid")
             for text, methods in by_text.items()]
    if conic:
        lines.append("conic layers: widths shrink geometrically from width to width // 8 "
                     "(at least the number of outputs), our choice; the paper gives no "
                     "widths for its conic nets.")
    return lines


def _grid_texts(method: str, ours: dict[str, list[Any]],
                paper: dict[str, list[Any]]) -> list[str]:
    texts = []
    for name, published in paper.items():
        values = ours.get(name, [_default(method, name)])
        cut = [v for v in published if v not in values]
        added = [v for v in values if v not in published]
        if cut and added and len(cut) == len(published):
            texts.append(f"{name} {_values(added)} instead of {_values(published)}")
        elif cut or added:
            texts.append(f"{name} " + "; ".join(
                part for part in (cut and f"without {_values(cut)}",
                                  added and f"adds {_values(added)}") if part))
    open_ = _LEFT_OPEN.get(method, ())
    for name in sorted(set(ours) | set(open_)):
        values = ours.get(name, [_default(method, name)])
        # A single value the preset takes anyway (no dropout for batch norm) changes
        # nothing, unless the paper leaves open what every net must set.
        if name in paper or name in FIT_PARAMETERS or (
                values == [_default(method, name)] and name not in open_):
            continue
        shown = "chosen from the depth" if values == [None] else _values(values)
        texts.append(f"{name} {shown} (ours; the paper gives none)")
    return texts


def _default(method: str, name: str) -> Any:
    # What a grid that does not search ``name`` trains with: the preset's choice, else
    # FNNSpec's or fit's default.
    preset = METHODS.get(method)
    if hasattr(preset, name):
        return getattr(preset, name)
    spec = {f.name: f.default for f in fields(FNNSpec)}
    return spec[name] if name in spec else FitConfig.defaults()[name]


def _fit_values(params: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
    # Every fit option's values in a method's grid, the default where the grid is silent.
    out = {name: [value] for name, value in FitConfig.defaults().items()
           if name in FIT_PARAMETERS}
    out.update({name: list(values) for name, values in params.items()
                if name in FIT_PARAMETERS})
    return out


def _for_methods(text: str, methods: list[str], everyone: list[str],
                 topic: str | None = None) -> str:
    if topic is None:
        topic, _, rest = text.partition(": ")
    else:
        rest = text
    who = "" if methods == everyone else f" {', '.join(methods)}"
    return f"{topic}{who}: {rest}"


def _values(values: list[Any]) -> str:
    return ", ".join(json.dumps(v) if isinstance(v, str) else str(v) for v in values)


def fidelity(per_dataset: pd.DataFrame, methods: list[str] | None = None) -> pd.DataFrame:
    r"""Per method, how far our accuracies lie from the published ones.

    With d_i = ours_i - published_i over the N data sets that have both numbers:
    ``mean_difference`` = mean d_i (positive: we score higher), ``mean_abs_difference``
    = mean abs(d_i), and ``within_2sd`` = the number of data sets with
    abs(d_i) <= 2 s_i, s_i being the standard deviation of our score over seeds (and
    folds), out of ``n_with_sd`` data sets where s_i exists (two seeds or more).

    Parameters
    ----------
    per_dataset : DataFrame
        ``ComparisonResult.per_dataset`` with the ``published`` column.
    methods : list of str, optional
        The order of the rows; default the order of ``per_dataset``.

    Returns
    -------
    DataFrame
        ``method``, ``n_datasets``, ``mean_difference``, ``mean_abs_difference``,
        ``within_2sd``, ``n_with_sd``; one row per method with a published number.
    """
    columns = ["method", "n_datasets", "mean_difference", "mean_abs_difference",
               "within_2sd", "n_with_sd"]
    if "published" not in per_dataset:
        return pd.DataFrame(columns=columns)
    both = per_dataset.dropna(subset=["published", "score"])
    difference = both["score"] - both["published"]
    frame = both.assign(d=difference, abs_d=difference.abs(),
                        within=difference.abs() <= 2 * both["std"],
                        has_sd=both["std"].notna())
    out = frame.groupby("method", sort=False).agg(
        n_datasets=("d", "size"), mean_difference=("d", "mean"),
        mean_abs_difference=("abs_d", "mean"), within_2sd=("within", "sum"),
        n_with_sd=("has_sd", "sum")).reset_index()
    if methods is not None:
        order = {m: i for i, m in enumerate(methods)}
        out = out.sort_values("method", key=lambda s: s.map(order), kind="stable")
    out[["within_2sd", "n_with_sd"]] = out[["within_2sd", "n_with_sd"]].astype(int)
    return out[columns].reset_index(drop=True)


def format_fidelity(table: pd.DataFrame) -> str:
    """The fidelity table as text: mean (ours - published), mean abs. difference, n/N."""
    shown = pd.DataFrame({
        "method": table["method"], "datasets": table["n_datasets"],
        "mean(ours-published)": table["mean_difference"].map(lambda x: f"{x:+.4f}"),
        "mean|ours-published|": table["mean_abs_difference"].map(lambda x: f"{x:.4f}"),
        "within 2 sd": [f"{k}/{n}" for k, n in zip(table["within_2sd"], table["n_with_sd"],
                                                   strict=True)],
    })
    return shown.to_string(index=False)
