"""Claim 9: highway networks train at depths where plain networks fail, and their gates
decide how many layers to use.

Srivastava, Greff, Schmidhuber, "Highway Networks", 2015, arXiv:1505.00387, and
"Training Very Deep Networks", NeurIPS 2015, arXiv:1507.06228 (plain vs highway nets
of 10-100 layers, best learning rate of each; transform-gate activity per layer).
"""

from __future__ import annotations

import warnings

import pandas as pd
import torch
from matplotlib.figure import Figure

from fnnlab import data
from fnnlab.experiments.claims.claim import Outcome, above, below, claim
from fnnlab.models import FNNSpec, build
from fnnlab.nn import Highway
from fnnlab.training import fit

_USED = 0.05  # a layer is "used" when training raised its mean transform gate by this much


@torch.no_grad()
def _gate_means(model: torch.nn.Module, x: torch.Tensor) -> list[float]:
    """Mean transform gate T(x) of every highway block on the batch ``x`` (eval mode)."""
    means: list[float] = []
    hooks = [b.register_forward_pre_hook(
        lambda block, inp: means.append(float(block.transform_gate(inp[0]).mean())))
        for b in model.hidden if isinstance(b, Highway)]
    model.eval()
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    return means


@claim(
    9,
    "Highway networks train deep; the gates choose how many layers to use",
    "“Highway Network … Training Very Deep Networks … a^t = z ⊙ a^(t−1) + (1 − z) ⊙ h” ; "
    "“Highway Network automatically determines the layers needed!”",
    "001_3b6e40b80fa3dc00.txt",
)
def highway(quick: bool, seed: int) -> Outcome:
    parts = data.split(data.load("digits"), valid=0.15, test=0.2, seed=seed)
    depth = 24 if quick else 50
    epochs = 5 if quick else 15
    rates = (1e-3, 3e-3) if quick else (3e-4, 1e-3, 3e-3)
    rows, best = [], {}
    for method in ("msra", "highway"):
        for lr in rates:
            torch.manual_seed(seed)
            model = build(FNNSpec(parts.n_features, parts.n_outputs, depth=depth, width=64,
                                  method=method))
            init_gates = _gate_means(model, parts.train.X) if method == "highway" else []
            with warnings.catch_warnings():  # a plain deep net may diverge: that is measured
                warnings.simplefilter("ignore", RuntimeWarning)
                res = fit(model, parts.train, parts.valid, optimizer="adam", lr=lr,
                          epochs=epochs, seed=seed, progress=False)
            loss = float(res.history["train_loss"].iloc[-1])
            acc = res.history["valid_accuracy"].dropna()
            rows.append({"network": method, "lr": lr, "final train loss": loss,
                         "valid accuracy": float(acc.iloc[-1]) if len(acc) else float("nan"),
                         "stop reason": res.stop_reason})
            if loss == loss and loss < best.get(method, (float("inf"),))[0]:
                best[method] = (loss, lr, res, init_gates)
    plain_loss = best.get("msra", (float("inf"),))[0]
    hw_loss, hw_lr, hw_res, init_gates = best["highway"]
    gates = _gate_means(hw_res.model, parts.train.X)
    rise = [g - g0 for g, g0 in zip(gates, init_gates, strict=True)]
    used = sum(r > _USED for r in rise) / len(rise)
    checks = [
        below(f"final training loss, highway / plain (best lr each, depth {depth})",
              hw_loss / plain_loss, 0.5, 0.2),
        above("share of highway layers whose gate opened (> 0: the net uses some layers)",
              used, 0.05),
        below("share of highway layers whose gate opened (< 1: it leaves some unused)",
              used, 0.95),
    ]
    numbers = pd.concat([pd.DataFrame(rows), pd.DataFrame({
        "network": "highway (best lr)", "layer": range(1, len(gates) + 1),
        "mean gate at init": init_gates, "mean gate trained": gates})], ignore_index=True)

    fig = Figure(figsize=(12, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    for method, (_, lr, res, _) in best.items():
        ax1.semilogy(res.history["epoch"], res.history["train_loss"], marker=".",
                     label=f"{'plain ReLU' if method == 'msra' else 'highway'} (lr {lr:g})")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss (nats, log scale)")
    ax1.set_title(f"{depth}-layer nets, 64 units, on digits")
    ax1.legend()
    layers = range(2, len(gates) + 2)
    ax2.plot(layers, init_gates, "--", color="grey", label="at initialization")
    ax2.plot(layers, gates, marker="o", label="after training")
    ax2.set_xlabel("hidden layer (highway blocks start at 2)")
    ax2.set_ylabel("mean transform gate T(x) (fraction)")
    ax2.set_title("Where the highway net transforms (T → 1) or carries (T → 0)")
    ax2.legend()
    setup = (
        f"Digits data set. {depth}-layer, 64-unit nets: plain ReLU (METHODS 'msra', He init) "
        f"and highway (METHODS 'highway': ReLU transform, sigmoid gates with bias −2), Adam "
        f"for {epochs} epochs at lr {rates}; each net at its best rate (lowest final "
        f"training loss). Gates: the mean of every block's transform gate T(x) over the "
        f"training set, before and after training; a layer is 'used' when training raised it "
        f"by more than {_USED}. Seed {seed}."
    )
    return Outcome(setup=setup, numbers=numbers, checks=checks, figures=[
        (fig, "Left: training loss. Right: mean transform gate per layer."),
    ], notes="A highway block starts out mostly carrying its input (T ≈ sigmoid(−2) = 0.12), "
             "so a deep stack starts as a shallow one; training opens the gates of the "
             "layers it needs. With momentum SGD at rates 0.001-0.03 neither net learned in "
             "the quick budget here, so both use Adam (Srivastava et al. used momentum SGD "
             "with a wider search on MNIST and CIFAR).")
