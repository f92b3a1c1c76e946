"""Claim 8: batch norm and residual connections make the loss landscape smoother.

Santurkar, Tsipras, Ilyas, Madry, "How Does Batch Normalization Help Optimization?",
NeurIPS 2018, arXiv:1805.11604 (loss range and gradient change along the gradient);
Li, Xu, Taylor, Studer, Goldstein, "Visualizing the Loss Landscape of Neural Nets",
NeurIPS 2018, arXiv:1712.09913 (filter-normalized surfaces). Both measurements come
from :mod:`fnnlab.diagnostics`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fnnlab import data
from fnnlab.experiments.claims.claim import Outcome, above, below, claim
from fnnlab.models import FNNSpec, build
from fnnlab.training import fit


def _excess_variation(loss: np.ndarray) -> float:
    """Total variation of a 1-D loss curve over the variation a unimodal curve with the same
    end and centre values would have, minus 1: 0 for a bowl, > 0 for every extra bump."""
    centre = len(loss) // 2
    base = abs(loss[0] - loss[centre:].min()) + abs(loss[-1] - loss[:centre + 1].min())
    return float(np.abs(np.diff(loss)).sum() / max(base, 1e-12) - 1.0)


@claim(
    8,
    "Batch norm and residual connections smooth the loss landscape",
    "“BN decreases Lipschitz constant of the loss making it more smooth” (Santurkar et al.) "
    "and “RC makes the loss surface smoother” (Li et al., Visualizing the loss landscape).",
    "002_52ec7ac9540460e1.txt",
)
def landscape(quick: bool, seed: int) -> Outcome:
    from fnnlab.diagnostics import loss_smoothness, loss_surface_1d
    from fnnlab.plots.diagnostics import loss_smoothness as plot_smoothness

    parts = data.split(data.load("digits"), valid=0.15, test=0.2, seed=seed)
    X, y = parts.train.X, parts.train.y
    depth = 10 if quick else 20
    steps = 60 if quick else 200
    checks, rows, smooth = [], [], []
    for method in ("msra", "batchnorm"):
        model = build(FNNSpec(parts.n_features, parts.n_outputs, depth=depth, width=64,
                              method=method), seed=seed)
        table = loss_smoothness(model, X, y, lr=0.05, steps=steps, every=max(steps // 12, 1),
                                seed=seed).assign(method=method)
        smooth.append(table)
        for column in ("loss_range", "beta_smoothness"):
            rows.append({"part": "smoothness along SGD", "network": method,
                         "quantity": f"median {column}", "value": float(table[column].median())})
    med = pd.DataFrame(rows).set_index(["network", "quantity"])["value"]
    for column in ("loss_range", "beta_smoothness"):
        ratio = med[("batchnorm", f"median {column}")] / med[("msra", f"median {column}")]
        checks.append(below(f"median {column}: batch norm / plain", ratio, 1.0, 0.2))

    # Li et al.: 1-D surfaces around trained plain and residual nets of equal depth.
    epochs = 8 if quick else 20
    n_dirs = 2 if quick else 4
    curves, excess = {}, {}
    for method, label in (("msra", "plain"), ("resnet", "residual")):
        blocks = depth if method == "msra" else (depth + 1) // 2   # equal number of layers
        model = build(FNNSpec(parts.n_features, parts.n_outputs, depth=blocks, width=64,
                              method=method, norm="none"), seed=seed)
        res = fit(model, parts.train, optimizer="momentum", lr=0.01, epochs=epochs,
                  batch_size=64, seed=seed, progress=False)
        values = []
        for d in range(n_dirs):
            surface = loss_surface_1d(res.model, X, y, seed=seed + d)
            curves.setdefault(label, []).append(surface)
            values.append(_excess_variation(surface["loss"].to_numpy()))
        excess[label] = float(np.mean(values))
        rows.append({"part": "1-D surface (Li et al.)", "network": label,
                     "quantity": "excess variation (0 = one bowl)", "value": excess[label]})
        rows.append({"part": "1-D surface (Li et al.)", "network": label,
                     "quantity": "loss at α = ±1 (mean over directions)",
                     "value": float(np.mean([c["loss"].iloc[[0, -1]].mean()
                                             for c in curves[label]]))})
    checks.append(above("excess variation: plain minus residual", excess["plain"]
                        - excess["residual"], 0.0, 0.05))

    fig1 = plot_smoothness(pd.concat(smooth, ignore_index=True))
    fig2 = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig2.add_subplot()
    for (label, surfaces), color in zip(curves.items(), ("tab:red", "tab:blue"), strict=True):
        for i, s in enumerate(surfaces):
            ax.plot(s["alpha"], s["loss"], color=color, alpha=0.8,
                    label=f"{label} ({depth} layers)" if i == 0 else None)
    ax.set_yscale("log")
    ax.set_xlabel("step α along a filter-normalized random direction")
    ax.set_ylabel("training loss (nats, log scale)")
    ax.set_title("1-D loss surfaces around trained nets")
    ax.legend()
    setup = (
        f"Digits data set (train split). Smoothness: fnnlab.diagnostics.loss_smoothness on "
        f"{depth}-layer, 64-unit ReLU nets with and without batch norm (He init), plain SGD "
        f"lr 0.05 for {steps} steps; at every probed step the loss range and the gradient "
        f"change over steps of 0.5–4× the learning rate along the gradient. Surfaces: a "
        f"plain and a residual net (no normalization) with {depth} linear layers trained "
        f"{epochs} epochs (momentum, lr 0.01), then fnnlab.diagnostics.loss_surface_1d along "
        f"{n_dirs} filter-normalized directions, 51 points on [−1, 1]. Seed {seed}."
    )
    notes = (
        "Excess variation is the total variation of a 1-D loss curve beyond what one bowl "
        "through the same end and centre points has: bumps and plateaus raise it. Li et al. "
        "saw chaotic surfaces only for much deeper convolutional nets (56+ layers) without "
        "skip connections; at MLP scale both surfaces may be bowls."
    )
    return Outcome(setup=setup, numbers=pd.DataFrame(rows), checks=checks, notes=notes,
                   figures=[(fig1, "Loss range and gradient change along the SGD trajectory."),
                            (fig2, "Loss along random filter-normalized directions.")])
