"""Claim 12: stacked linear layers collapse to one; sums of ReLUs approximate 1-D functions.

Notes 002 ("Linear Layers") and 003 ("Universal Approximation"): a piecewise-linear
function with n knots is a sum of n translated ReLUs, so a one-hidden-layer ReLU
network of width n interpolates any continuous function on [a, b], and for a smooth
target the interpolation error falls like 1/n² (Hornik 1989; Cybenko 1989 prove the
existence for general activations).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from fnnlab.experiments.claims.claim import Outcome, above, below, claim
from fnnlab.models import FNNSpec, build
from fnnlab.training import fit

_A, _B = -2.0, 2.0


def _target(x: torch.Tensor) -> torch.Tensor:
    return torch.sin(3 * x) + 0.3 * x**2


@torch.no_grad()
def _relu_sum(n: int, x: torch.Tensor) -> tuple[torch.nn.Module, float]:
    """A width-n ReLU net whose hidden units are relu(x - k_j) at n knots evenly spaced in
    [a, b) and whose output layer is the least-squares fit on ``x``; returns it and the
    maximum error on ``x``."""
    model = build(FNNSpec(1, 1, depth=1, width=n, method="msra")).double()
    layer = model.hidden[0].linear
    layer.weight.fill_(1.0)
    layer.bias.copy_(-torch.linspace(_A, _B, n + 1, dtype=torch.float64)[:-1])
    features = torch.cat([model.features(x), torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    coef = torch.linalg.lstsq(features, _target(x)).solution
    model.head.weight.copy_(coef[:-1].T)
    model.head.bias.copy_(coef[-1])
    return model, float((model(x) - _target(x)).abs().max())


@claim(
    12,
    "Linear layers collapse to one; sums of ReLUs approximate any 1-D function",
    "“Multiple linear layers <=> single linear layer … y_N = W x + b • We need a "
    "non-linear step in hidden units to go beyond!” (002) and “We can approximate any φ ∈ "
    "ψ([a, b], ℝ) with a linear combination of translated/scaled ReLU functions … "
    "Piece-wise linear function” (003).",
    "002_52ec7ac9540460e1.txt, 003_d0821f8076e7ae51.txt",
)
def expressivity(quick: bool, seed: int) -> Outcome:
    gen = torch.Generator().manual_seed(seed)
    rows, checks = [], []

    # (a) A depth-6 network with identity activations is one affine map W x + b.
    linear = build(FNNSpec(5, 3, depth=6, width=16, method=None, activation="identity",
                           init="glorot_normal"), seed=seed).double().eval()
    with torch.no_grad():
        bias = linear(torch.zeros(1, 5, dtype=torch.float64))            # (1, 3)
        weight = linear(torch.eye(5, dtype=torch.float64)) - bias        # (5, 3) = W^T
        x = torch.randn(1000, 5, generator=gen, dtype=torch.float64)
        error = float((linear(x) - (x @ weight + bias)).abs().max())
    rows.append({"part": "(a) linear stack", "setting": "depth 6, 5 → 3",
                 "quantity": "max |net(x) − (W x + b)|", "value": error})
    checks.append(below("max |deep linear net(x) − (W x + b)|, float64", error, 1e-10))

    # ... so trained on a nonlinear target it can do no better than least squares.
    n_train = 512
    xs = torch.linspace(_A, _B, n_train).unsqueeze(1)
    ys = _target(xs)
    design = torch.cat([xs, torch.ones_like(xs)], dim=1).double()
    ols = torch.linalg.lstsq(design, ys.double()).solution
    mse_ols = float(((design @ ols - ys.double()) ** 2).mean())
    fits = {}
    epochs = 60 if quick else 200
    for name, activation in (("deep linear", "identity"), ("deep ReLU", "relu")):
        net = build(FNNSpec(1, 1, depth=4, width=32, method=None, activation=activation,
                            init="glorot_normal" if activation == "identity" else "he_normal"),
                    seed=seed)
        res = fit(net, (xs, ys), optimizer="adam", lr=3e-3, epochs=epochs, batch_size=64,
                  seed=seed, progress=False)
        with torch.no_grad():
            fits[name] = res.model.eval()(xs)
        mse = float(((fits[name] - ys) ** 2).mean())
        rows.append({"part": "(a) fit sin 3x + 0.3x²", "setting": f"{name}, depth 4",
                     "quantity": "training MSE", "value": mse})
        if name == "deep linear":
            mse_linear = mse
        else:
            mse_relu = mse
    rows.append({"part": "(a) fit sin 3x + 0.3x²", "setting": "least-squares line",
                 "quantity": "training MSE", "value": mse_ols})
    checks.append(above("deep linear net's MSE / least-squares line's MSE (≥ 1: no better)",
                        mse_linear / mse_ols, 0.99))
    checks.append(below("deep ReLU net's MSE / least-squares line's MSE", mse_relu / mse_ols,
                        0.5, 0.1))

    # (b) Sums of n ReLUs: max error against n.
    grid = torch.linspace(_A, _B, 4001, dtype=torch.float64).unsqueeze(1)
    widths = [2, 4, 8, 16, 32, 64] + ([] if quick else [128, 256])
    errors, curves = [], {}
    for n in widths:
        model, err = _relu_sum(n, grid)
        errors.append(err)
        if n in (4, 16):
            with torch.no_grad():
                curves[n] = model(grid)
        rows.append({"part": "(b) sum of n ReLUs", "setting": f"n = {n}",
                     "quantity": "max error on [−2, 2]", "value": err})
    slope = float(np.polyfit(np.log(widths[2:]), np.log(errors[2:]), 1)[0])
    rows.append({"part": "(b) sum of n ReLUs", "setting": f"n = {widths[2]}..{widths[-1]}",
                 "quantity": "slope of log error vs log n", "value": slope})
    checks.append(below("largest ratio error(2n) / error(n) (falls with every doubling if < 1)",
                        max(b / a for a, b in zip(errors, errors[1:], strict=False)), 1.0))
    checks.append(below("slope of log max-error against log n", slope, -1.0, 0.3))

    fig = _figure(xs, ys, design.float() @ ols.float(), fits, grid, curves, widths, errors)
    setup = (
        f"(a) FNNSpec(depth=6, width=16, activation='identity') in float64: W and b read "
        f"off from the outputs for 0 and the unit vectors, then compared with the network "
        f"on 1000 random inputs. Depth-4, width-32 nets with identity and ReLU activations "
        f"trained with Adam (lr 3e-3, {epochs} epochs) on y = sin 3x + 0.3x², {n_train} "
        f"points in [−2, 2], against the least-squares line. (b) A one-hidden-layer FNN of "
        f"width n whose units are relu(x − k_j) at n evenly spaced knots, output layer by "
        f"least squares on 4001 grid points; max error on that grid. Seed {seed}."
    )
    notes = ("The deep linear network's fit is the least-squares line (up to training "
             "error): depth without a nonlinearity adds no capacity. The ReLU sums' error "
             "falls like 1/n², as piecewise-linear interpolation of a smooth function does.")
    return Outcome(setup=setup, numbers=pd.DataFrame(rows), checks=checks, notes=notes,
                   figures=[(fig, "Left: trained deep linear vs ReLU nets. Middle and right: "
                             "sums of n ReLUs.")])


def _figure(xs, ys, line, fits: dict, grid, curves: dict, widths: list,
            errors: list) -> Figure:
    """Left: trained deep linear and ReLU nets; middle and right: sums of n ReLUs."""
    fig = Figure(figsize=(14, 4), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ax1.plot(xs, ys, color="black", linewidth=2, label="target sin 3x + 0.3x²")
    ax1.plot(xs, line, "--", label="least-squares line")
    ax1.plot(xs, fits["deep linear"], ":", linewidth=2, label="depth-4 linear net (trained)")
    ax1.plot(xs, fits["deep ReLU"], label="depth-4 ReLU net (trained)")
    ax1.set_title("Without a nonlinearity depth adds nothing")
    ax1.set_xlabel("x")
    ax1.set_ylabel("y")
    ax1.legend(fontsize="small")
    ax2.plot(grid, _target(grid), color="black", linewidth=2, label="target")
    for n, curve in curves.items():
        ax2.plot(grid, curve, label=f"sum of {n} ReLUs")
    ax2.set_title("Piecewise-linear fits by sums of ReLUs")
    ax2.set_xlabel("x")
    ax2.set_ylabel("y")
    ax2.legend(fontsize="small")
    ax3.loglog(widths, errors, marker="o", label="measured")
    ax3.loglog(widths, errors[2] * (widths[2] / np.array(widths)) ** 2, "--", color="grey",
               label="∝ 1/n² (interpolation theory)")
    ax3.set_xticks(widths, [str(w) for w in widths])
    ax3.minorticks_off()
    ax3.set_xlabel("number of ReLUs n")
    ax3.set_ylabel("max |error| on [−2, 2]")
    ax3.set_title("Approximation error against n")
    ax3.legend(fontsize="small")
    return fig
