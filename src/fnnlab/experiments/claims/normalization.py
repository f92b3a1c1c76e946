"""Claims 4, 5 and 10: batch normalization, its cost, and its cheaper alternatives.

Ioffe & Szegedy, "Batch Normalization", ICML 2015, arXiv:1502.03167; Salimans & Kingma,
"Weight Normalization", NeurIPS 2016, arXiv:1602.07868 (BN about 16% slower than WN;
data-dependent init; mean-only batch norm); Klambauer et al. 2017 (SELU avoids BN's cost).

Note [step timing]: the cost per training step of each architecture is the median of
``fit``'s per-epoch wall time (``history.seconds``) divided by the batches per epoch,
over several one-epoch fits that alternate between the architectures (the fastest of
them: a busy machine only ever adds time), so load slows all of them alike. Everything
runs on one thread (see ``reproduce``), so the ratios compare arithmetic, not threading.
"""

from __future__ import annotations

import functools
import math
import time
import warnings

import pandas as pd
import torch
from torch import nn

from fnnlab import data
from fnnlab.experiments.claims.claim import Outcome, above, below, claim
from fnnlab.models import FNNSpec, build
from fnnlab.plots import training_curves
from fnnlab.training import fit, predict

_TIMED = ("msra", "snn", "batchnorm", "weightnorm", "weightnorm_mean_only", "layernorm")
# Batch norm's extra work grows with the activations (batch x width), weight norm's with
# the weights (width x width): the large batch is the regime of the papers' convnets,
# where activations far outnumber weights.
_SMALL_BATCH, _LARGE_BATCH = 128, 1024


_RATES = {True: (0.1, 0.3, 1.0), False: (0.03, 0.1, 0.3, 1.0, 3.0)}


@functools.lru_cache(maxsize=4)
def largest_usable_rate(quick: bool, seed: int) -> tuple[dict[str, float], list[dict]]:
    """The largest SGD rate at which an 8-layer ReLU net with (batchnorm) and without
    (msra) batch norm trains on digits: no divergence and validation accuracy >= 0.8.

    Shared by claims 4(c) and 20(a) (computed once per run). Returns the rate per method
    (0 when none works) and the measured rows."""
    parts = _digits(seed)
    rows, largest = [], {}
    for method in ("msra", "batchnorm"):
        largest[method] = 0.0
        for lr in _RATES[quick]:
            with warnings.catch_warnings():  # the largest rates are meant to diverge
                warnings.simplefilter("ignore", RuntimeWarning)
                r = fit(build(FNNSpec(parts.n_features, parts.n_outputs, depth=8, width=128,
                                      method=method), seed=seed),
                        parts.train, parts.valid, optimizer="sgd", lr=lr,
                        epochs=3 if quick else 6, seed=seed, progress=False)
            a = float(r.history["valid_accuracy"].iloc[-1])
            rows.append({"part": "(c) usable learning rate, depth 8", "setting":
                         f"{method}, lr {lr:g}", "quantity": "valid accuracy", "value": a})
            if r.stop_reason != "diverged" and a >= 0.8:
                largest[method] = lr
    for method, lr in largest.items():
        rows.append({"part": "(c) usable learning rate, depth 8", "setting": method,
                     "quantity": "largest lr with valid accuracy ≥ 0.8", "value": lr})
    return largest, rows



@functools.lru_cache(maxsize=4)
def _step_seconds(quick: bool, seed: int) -> pd.DataFrame:
    """Milliseconds per training step of each method in ``_TIMED`` at a small and a large
    batch (Note [step timing])."""
    width, rows, repeats = (128, 2048, 3) if quick else (256, 4096, 7)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, 64, generator=gen)
    y = torch.randint(0, 10, (rows,), generator=gen)
    models = {}
    for method in _TIMED:
        models[method] = build(FNNSpec(64, 10, depth=8, width=width, method=method), seed=seed)
    out = []
    for batch in (_SMALL_BATCH, _LARGE_BATCH):
        times: dict[str, list[float]] = {m: [] for m in _TIMED}
        for r in range(repeats + 1):
            for method, model in models.items():
                res = fit(model, (x, y), optimizer="sgd", lr=0.01, epochs=1, batch_size=batch,
                          seed=seed + r, progress=False)
                if r:  # the first round warms up allocators and caches
                    times[method].append(float(res.history["seconds"].iloc[0]))
        steps = math.ceil(rows / batch)
        # The fastest repeat: other processes only ever add time.
        out += [{"method": m, "batch": batch, "ms per step": 1000 * min(t) / steps,
                 "width": width, "depth": 8} for m, t in times.items()]
    return pd.DataFrame(out)


def _ms(quick: bool, seed: int, batch: int) -> pd.Series:
    timing = _step_seconds(quick, seed)
    return timing[timing["batch"] == batch].set_index("method")["ms per step"]


def _digits(seed: int):
    return data.split(data.load("digits"), valid=0.15, test=0.2, seed=seed)


def _accuracy(result, part) -> float:
    return float((predict(result.model, part.X, result.likelihood) == part.y).float().mean())


@torch.no_grad()
def _running_vs_full(model: nn.Module, x: torch.Tensor) -> list[dict[str, float]]:
    """Each batch-norm layer's running mean/var against the mean/var of its inputs over
    all of ``x`` (eval mode: earlier layers use their running statistics too)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    seen: dict[int, torch.Tensor] = {}
    handles = [m.register_forward_pre_hook(
        lambda mod, inp, i=i: seen.__setitem__(i, inp[0])) for i, m in enumerate(norms)]
    model.eval()
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    rows = []
    for i, m in enumerate(norms):
        mean, var = seen[i].mean(0), seen[i].var(0, unbiased=False)
        rows.append({
            "layer": i,
            "median |running mean − mean| / std": float(
                ((m.running_mean - mean).abs() / var.sqrt().clamp_min(1e-8)).median()),
            "median |running var / var − 1|": float(
                (m.running_var / var.clamp_min(1e-12) - 1).abs().median()),
        })
    return rows


@claim(
    4,
    "Batch norm: moving averages at test time, deep sigmoid nets, larger rates, cost",
    "“At testing stage … Computing the moving average of μ and σ of the batches during "
    "training.” ; “BN reduces training times, and make very deep net trainable. Because of "
    "less Covariate Shift, we can use larger learning rates … Especially effective for "
    "sigmoid, tanh” (001) ; “batch normalization is 16% slower than weight normalization” "
    "(000).",
    "001_3b6e40b80fa3dc00.txt, 000_d0c808358b96fac2.txt",
)
def batch_norm(quick: bool, seed: int) -> Outcome:
    parts = _digits(seed)
    n_in, n_out = parts.n_features, parts.n_outputs
    rows, checks, histories = [], [], []

    # (a) Running statistics approximate the whole training set's.
    res = fit(build(FNNSpec(n_in, n_out, depth=4, width=128, method="batchnorm"), seed=seed),
              parts.train, optimizer="momentum", lr=0.01, epochs=5 if quick else 15,
              seed=seed, progress=False)
    stats = pd.DataFrame(_running_vs_full(res.model, parts.train.X))
    worst_var = float(stats["median |running var / var − 1|"].max())
    worst_mean = float(stats["median |running mean − mean| / std"].max())
    rows += [{"part": "(a) running statistics", "setting": "worst layer", "quantity": q,
              "value": v} for q, v in (("median |running var / var − 1|", worst_var),
                                       ("median |running mean − mean| / std", worst_mean))]
    checks.append(below("(a) worst layer's median |running var / full-data var − 1|",
                        worst_var, 0.1, 0.05))
    checks.append(below("(a) worst layer's median |running mean − full-data mean| / std",
                        worst_mean, 0.1, 0.05))

    # (b) A deep sigmoid net trains with batch norm and barely without.
    depth = 10 if quick else 20
    epochs = 5 if quick else 12
    acc = {}
    for norm in ("none", "batch"):
        spec = FNNSpec(n_in, n_out, depth=depth, width=128, method=None, activation="sigmoid",
                       init="glorot_normal", norm=norm)
        r = fit(build(spec, seed=seed), parts.train, parts.valid, optimizer="sgd", lr=0.1,
                epochs=epochs, batch_size=32, seed=seed, progress=False)
        acc[norm] = float(r.history["valid_accuracy"].iloc[-1])
        histories.append(r.history.assign(run=f"sigmoid, depth {depth}, norm={norm}"))
        rows.append({"part": f"(b) sigmoid, depth {depth}", "setting": f"norm={norm}",
                     "quantity": "valid accuracy", "value": acc[norm]})
    checks.append(above(f"(b) sigmoid depth {depth}: valid accuracy with BN minus without",
                        acc["batch"] - acc["none"], 0.2, 0.1))

    # (c) The largest usable SGD learning rate, with and without batch norm.
    largest, rate_rows = largest_usable_rate(quick, seed)
    rows += rate_rows
    rates = _RATES[quick]
    checks.append(above("(c) log10(largest usable lr with BN / without)",
                        math.log10(max(largest["batchnorm"], 1e-9) / max(largest["msra"], 1e-9)),
                        0.0, 0.1))

    # (d) Cost per step against weight normalization.
    for batch in (_SMALL_BATCH, _LARGE_BATCH):
        ms = _ms(quick, seed, batch)
        rows.append({"part": "(d) cost", "setting": f"batchnorm / weightnorm, batch {batch}",
                     "quantity": "time per step ratio (paper: 1.16)",
                     "value": float(ms["batchnorm"] / ms["weightnorm"])})
    # Whole-net step times compare fnnlab's implementations (claim 10 has the
    # equal-effort comparison), so this check is secondary.
    checks.append(above(f"(d) time per step, batch norm / weight norm, batch {_LARGE_BATCH}",
                        rows[-1]["value"], 1.0, 0.05, main=False))

    fig = training_curves(pd.concat(histories, ignore_index=True),
                          ["train_loss", "valid_accuracy"], hue="run",
                          title=f"A {depth}-layer sigmoid net with and without batch norm")
    setup = (
        f"Digits data set (stratified 65/15/20 split, seed {seed}). (a) A 4-layer ReLU+BN net "
        f"trained with momentum SGD; each BN layer's running mean/variance against the "
        f"mean/variance of its inputs over the whole training set (eval mode). (b) "
        f"{depth}-layer sigmoid nets (128 units, Glorot init) with and without BN, SGD lr 0.1,"
        f" {epochs} epochs. (c) 8-layer ReLU nets (He init) with and without BN, SGD at lr "
        f"{', '.join(map(str, rates))}; a rate is usable if training does not diverge and "
        f"validation accuracy reaches 0.8. (d) Milliseconds per training step (Note [step "
        f"timing] in the module) of 8-layer nets at batch {_SMALL_BATCH} and {_LARGE_BATCH}, "
        f"one thread."
    )
    notes = (
        "The Weight Normalization paper's 16% is for a CIFAR-10 convnet on a GPU, where "
        "activations far outnumber weights. Batch norm's extra work scales with batch × "
        "width, weight norm's (recomputing w = g v/||v|| and its gradient every step) with "
        "width²: at a small batch weight norm is the costlier one, at a large batch (the "
        "checked regime) batch norm is."
    )
    return Outcome(setup=setup, numbers=pd.DataFrame(rows), checks=checks, notes=notes,
                   figures=[(fig, "Training loss and validation accuracy of the deep sigmoid "
                             "nets.")])


@claim(
    5,
    "SELU without batch norm is cheaper per step than ReLU + batch norm",
    "“In a practical point of view, SELU seems promising by reducing the computation time "
    "relative to RELU+BN for normalizing the network.”",
    "000_d0c808358b96fac2.txt",
)
def selu_cost(quick: bool, seed: int) -> Outcome:
    timing = _step_seconds(quick, seed)
    checks = []
    for batch in (_SMALL_BATCH, _LARGE_BATCH):
        ms = _ms(quick, seed, batch)
        checks.append(below(f"time per step, SNN / ReLU+BN, batch {batch}",
                            float(ms["snn"] / ms["batchnorm"]), 1.0, 0.05))
    fig = _timing_figure(timing)
    w = int(timing["width"].iloc[0])
    setup = (
        f"Milliseconds per SGD training step (forward, backward, update) of 8-layer, "
        f"{w}-unit networks of each METHODS preset on 64 random features and 10 classes, "
        f"batches of {_SMALL_BATCH} and {_LARGE_BATCH}, one thread: the fastest of "
        f"alternating one-epoch fits (Note [step timing] in "
        f"fnnlab.experiments.claims.normalization). The timings are taken once per run and "
        f"shared with claims 4 and 10 (whichever runs first pays for them). Seed {seed}."
    )
    return Outcome(setup=setup, numbers=timing, checks=checks,
                   figures=[(fig, "Time per training step by method.")],
                   notes="SELU adds one elementwise op to a ReLU net; batch norm adds two "
                         "reductions over the batch and an elementwise affine map per layer, "
                         "forward and backward.")


def _timing_figure(timing: pd.DataFrame):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 3.8), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, (batch, part) in zip(axes, timing.groupby("batch"), strict=True):
        order = part.sort_values("ms per step")
        bars = ax.barh(order["method"], order["ms per step"], color="tab:blue")
        ax.bar_label(bars, fmt="%.2f ms", padding=3, fontsize="small")
        ax.set_xlabel("time per training step (ms, 1 CPU thread)")
        ax.set_xlim(0, float(order["ms per step"].max()) * 1.3)
        ax.set_title(f"batch {batch}")
    fig.suptitle(f"Cost per SGD step, depth 8, width {int(timing['width'].iloc[0])}")
    return fig


@claim(
    10,
    "Weight norm with data-dependent init and mean-only BN match batch norm, cheaper",
    "“WN has lower computational burden compared to BN” ; data-dependent init “set g = 1 / "
    "std and b = - mean / std” ; Mean-Only Batch Normalization “is a lighter operation … "
    "provides less distracted gradient feedbacks and therefore better learning.”",
    "000_d0c808358b96fac2.txt",
)
def weight_norm(quick: bool, seed: int) -> Outcome:
    parts = _digits(seed)
    epochs = 8 if quick else 20
    seeds = [seed] if quick else [seed, seed + 1, seed + 2]
    rows, histories = [], []
    methods = ("batchnorm", "weightnorm", "weightnorm_mean_only")
    for method in methods:
        for s in seeds:
            model = build(FNNSpec(parts.n_features, parts.n_outputs, depth=6, width=128,
                                  method=method), seed=s)
            r = fit(model, parts.train, parts.valid, optimizer="momentum", lr=0.01,
                    epochs=epochs, seed=s, progress=False)
            rows.append({"method": method, "seed": s, "test accuracy": _accuracy(r, parts.test),
                         "final train loss": float(r.history["train_loss"].iloc[-1])})
            if s == seed:
                histories.append(r.history.assign(method=method))
    results = pd.DataFrame(rows)
    mean_acc = results.groupby("method")["test accuracy"].mean()
    timing = _ms(quick, seed, _LARGE_BATCH)
    ops = normalization_op_costs(_LARGE_BATCH, 128, repeats=5 if quick else 9, seed=seed)
    op_ms = ops.set_index("operation")["ms (fwd + bwd)"]
    checks = weight_norm_checks(
        mean_acc["batchnorm"] - mean_acc["weightnorm_mean_only"],
        op_ms["weight norm (torch._weight_norm)"] / op_ms["batch norm (F.batch_norm)"],
        op_ms["mean-only batch norm (x - mean)"] / op_ms["batch norm (F.batch_norm)"],
        timing["weightnorm"] / timing["batchnorm"],
        timing["weightnorm_mean_only"] / timing["batchnorm"])
    summary = results.groupby("method", sort=False).mean(numeric_only=True).drop(
        columns="seed").reset_index()
    summary[f"ms per step, batch {_LARGE_BATCH}"] = summary["method"].map(timing)
    numbers = pd.concat([summary, ops], ignore_index=True)
    fig = training_curves(pd.concat(histories, ignore_index=True),
                          ["train_loss", "valid_accuracy"], hue="method",
                          title="Batch norm vs weight norm (+ mean-only BN), depth 6")
    setup = (
        f"Digits data set (65/15/20 split). 6-layer, 128-unit ReLU nets of the METHODS presets "
        f"batchnorm, weightnorm (weight normalization with data-dependent init of g and b on "
        f"a batch of 256 rows, done by fit) and weightnorm_mean_only (the same plus mean-only "
        f"batch norm), momentum SGD lr 0.01, {epochs} epochs, seeds {seeds}; test accuracy "
        f"averaged over seeds. Cost, equal effort: each normalization as one fused torch "
        f"kernel, forward and backward, on one thread, in the regime where activations "
        f"outnumber weights (batch {_LARGE_BATCH} × width 128 = {_LARGE_BATCH * 128:,} "
        f"activations against 128² = {128 * 128:,} weights): F.batch_norm on the (batch, "
        f"width) pre-activations against torch._weight_norm on the (width, width) weight "
        f"(Note [op timing] in the module); mean-only batch norm has no fused kernel and runs "
        f"as x − mean(x) (two kernels). FLOPs and memory traffic are counted analytically "
        f"beside the times. Secondary: ms per training step of the whole nets as fnnlab "
        f"implements them (claims 4 and 5), which depends on the implementation."
    )
    notes = (
        "'As well as' means at most 2 points of test accuracy below batch norm (margin 1 "
        "point); the test split has 360 rows, so one point is about 4 rows. Weight norm's "
        "work scales with the weights (width²), batch norm's with the activations (batch × "
        "width): with fused kernels on both sides, the time follows the FLOPs and bytes "
        "columns. The whole-net step times compare fnnlab's implementations (torch's fused "
        "batch norm against weight norm built from several small ops) and are "
        "implementation-dependent, hence secondary."
    )
    return Outcome(setup=setup, numbers=numbers, checks=checks, notes=notes,
                   figures=[(fig, "Training curves (first seed).")])


def weight_norm_checks(acc_gap: float, wn_op: float, mean_only_op: float, wn_step: float,
                       mean_only_step: float) -> list:
    """Claim 10's rule on its numbers: the test-accuracy gap (batch norm minus WN +
    mean-only BN) below 0.02 (margin 0.01), and the equal-effort op-time ratios (weight
    norm / batch norm, mean-only / batch norm) below 1 (margin 0.05): main. The whole-net
    step-time ratios of fnnlab's implementations: secondary."""
    return [
        below("test accuracy, batch norm minus WN + mean-only BN", acc_gap, 0.02, 0.01),
        below(f"fused op time (fwd + bwd), weight norm / batch norm, batch {_LARGE_BATCH}, "
              f"width 128", wn_op, 1.0, 0.05),
        below(f"op time (fwd + bwd), mean-only batch norm / batch norm, batch "
              f"{_LARGE_BATCH}, width 128", mean_only_op, 1.0, 0.05),
        below(f"whole-net step time as implemented, WN / batch norm, batch {_LARGE_BATCH}",
              wn_step, 1.0, 0.05, main=False),
        below(f"whole-net step time as implemented, WN + mean-only BN / batch norm, batch "
              f"{_LARGE_BATCH}", mean_only_step, 1.0, 0.05, main=False),
    ]


def normalization_op_costs(batch: int, width: int, *, repeats: int = 7,
                           seed: int = 0) -> pd.DataFrame:
    """Time, FLOPs and memory traffic of one normalization, forward and backward.

    Note [op timing]: each operation runs ``n`` times per repeat (forward, then backward
    of the sum of its output), the repeats alternate between the operations, and the
    fastest repeat counts (a busy machine only ever adds time). FLOPs and bytes are
    analytic counts (float32) of the minimal work: batch norm reads and writes the
    (batch, width) activations, weight norm the (width, width) weight.
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, width, generator=gen, requires_grad=True)
    v = torch.randn(width, width, generator=gen, requires_grad=True)
    g = torch.ones(width, 1, requires_grad=True)
    gamma, beta = torch.ones(width, requires_grad=True), torch.zeros(width, requires_grad=True)
    ops = {
        "batch norm (F.batch_norm)": lambda: torch.nn.functional.batch_norm(
            x, None, None, gamma, beta, training=True),
        "weight norm (torch._weight_norm)": lambda: torch._weight_norm(v, g, 0),
        "mean-only batch norm (x - mean)": lambda: x - x.mean(0, keepdim=True),
    }
    act, wts = batch * width, width * width
    # (FLOPs, bytes) forward + backward: batch norm ~ 7 + 10 flops and 2 + 3 reads/writes
    # per activation; weight norm ~ 3 + 5 flops and 2 + 3 per weight; mean-only 2 + 2
    # flops and 2 + 2 per activation.
    counts = {"batch norm (F.batch_norm)": (17 * act, 5 * 4 * act),
              "weight norm (torch._weight_norm)": (8 * wts, 5 * 4 * wts),
              "mean-only batch norm (x - mean)": (4 * act, 4 * 4 * act)}
    n = 50
    best = dict.fromkeys(ops, float("inf"))
    for r in range(repeats + 1):
        for name, op in ops.items():
            t0 = time.perf_counter()
            for _ in range(n):
                op().sum().backward()
            if r:  # the first round warms up allocators and caches
                best[name] = min(best[name], (time.perf_counter() - t0) / n)
    return pd.DataFrame([{"operation": name, "batch": batch, "width": width,
                          "ms (fwd + bwd)": 1000 * best[name], "FLOPs": counts[name][0],
                          "bytes moved (min.)": counts[name][1]} for name in ops])
