"""Claim 14: regularization, measured: dropout as an ensemble, L1 vs L2, label smoothing,
input noise, early stopping.

Srivastava et al., "Dropout", JMLR 2014 (weight scaling approximates the geometric mean
of the thinned nets); Goodfellow, Bengio, Courville, "Deep Learning", 2016, ch. 7
(L1/L2, noise robustness, early stopping); Müller, Kornblith, Hinton, "When Does Label
Smoothing Help?", NeurIPS 2019 (calibration).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from fnnlab import data
from fnnlab.experiments.claims.claim import Outcome, above, below, claim
from fnnlab.models import FNNSpec, build
from fnnlab.plots import training_curves
from fnnlab.training import fit
from fnnlab.training.predict import outputs
from fnnlab.training.regularization import weight_matrices


def _net(parts, seed: int, width: int, **options) -> torch.nn.Module:
    return build(FNNSpec(parts.n_features, parts.n_outputs, depth=2, width=width,
                         method="msra", **options), seed=seed)


def _calibration(proba: torch.Tensor, y: torch.Tensor, bins: int = 10) -> tuple[float, float]:
    """Expected calibration error (|accuracy − confidence| weighted over confidence bins)
    and mean confidence."""
    conf, pred = proba.max(1)
    correct = (pred == y).float()
    edges = torch.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            ece += float(inside.float().mean() * (correct[inside].mean() - conf[inside].mean())
                         .abs())
    return ece, float(conf.mean())


@claim(
    14,
    "Regularization: dropout as an ensemble, L1 vs L2, noise, label smoothing, early stopping",
    "“Dropout … Equivalent to bagging with an ensemble of subnets • Inference on the full "
    "network is geometric mean” ; “L1-norm • Sparse solution” ; “Noise in Inputs … "
    "Increases invariance (robustness) to noise” ; “Noise in Outputs • Label smoothing” ; "
    "“Early Stopping”.",
    "002_52ec7ac9540460e1.txt, 003_d0821f8076e7ae51.txt",
)
def regularization(quick: bool, seed: int) -> Outcome:
    parts = data.split(data.load("digits"), valid=0.15, test=0.2, seed=seed)
    test = parts.test
    epochs = 10 if quick else 30
    width = 128 if quick else 256
    common = dict(optimizer="sgd", lr=0.1, epochs=epochs, batch_size=64, seed=seed,
                  progress=False)
    rows, checks = [], []

    # (a) Weight scaling against the geometric mean of sampled thinned networks.
    res = fit(_net(parts, seed, width, dropout=0.5), parts.train, **common)
    model = res.model
    n_masks = 100 if quick else 1000
    with torch.no_grad():
        scaled = torch.softmax(outputs(model.eval(), test.X), 1)
        model.train()
        torch.manual_seed(seed)
        logp = torch.stack([torch.log_softmax(model(test.X), 1) for _ in range(n_masks)])
        model.eval()
    geometric = torch.softmax(logp.mean(0), 1)
    arithmetic = logp.exp().mean(0)
    agree = float((scaled.argmax(1) == geometric.argmax(1)).float().mean())
    tv_geo = float(0.5 * (scaled - geometric).abs().sum(1).mean())
    tv_ari = float(0.5 * (scaled - arithmetic).abs().sum(1).mean())
    rows += [{"part": "(a) dropout 0.5", "setting": f"{n_masks} thinned nets", "quantity": q,
              "value": v} for q, v in (
        ("argmax agreement, weight scaling vs geometric mean", agree),
        ("mean total variation, weight scaling vs geometric mean", tv_geo),
        ("mean total variation, weight scaling vs arithmetic mean", tv_ari))]
    checks.append(above("(a) argmax agreement of weight scaling with the geometric-mean "
                        "ensemble", agree, 0.95, 0.02))

    # (b) L1 makes weights sparse, L2 makes them small.
    weights = {}
    for name, options in (("none", {}), ("L1 (0.005)", {"l1": 0.005}),
                          ("L2 (weight_decay 0.005)", {"weight_decay": 0.005})):
        r = fit(_net(parts, seed, width), parts.train, **options, **common)
        w = torch.cat([m.detach().flatten() for m in weight_matrices(r.model)])
        weights[name] = w.abs().numpy()
        rows += [{"part": "(b) L1 / L2", "setting": name, "quantity": q, "value": v}
                 for q, v in (("share of |w| < 1e-3", float((w.abs() < 1e-3).float().mean())),
                              ("‖w‖₂ of all weight matrices", float(w.norm())))]
    b = pd.DataFrame([r for r in rows if r["part"] == "(b) L1 / L2"]).set_index(
        ["setting", "quantity"])["value"]
    checks.append(above("(b) share of |w| < 1e-3, L1 minus none",
                        b[("L1 (0.005)", "share of |w| < 1e-3")]
                        - b[("none", "share of |w| < 1e-3")], 0.2, 0.1))
    checks.append(below("(b) ‖w‖₂, L2 / none", b[("L2 (weight_decay 0.005)",
                                                   "‖w‖₂ of all weight matrices")]
                        / b[("none", "‖w‖₂ of all weight matrices")], 1.0, 0.05))

    # (c) Label smoothing lowers confidence; input noise buys robustness to noisy inputs.
    calib = {}
    for name, options in (("none", {}), ("label smoothing 0.1", {"label_smoothing": 0.1}),
                          ("input noise σ=0.5", {"input_noise": 0.5})):
        r = fit(_net(parts, seed, width), parts.train, **options, **common)
        with torch.no_grad():
            proba = torch.softmax(outputs(r.model.eval(), test.X), 1)
            gen = torch.Generator().manual_seed(seed)
            noisy = test.X + torch.randn(test.X.shape, generator=gen)
            noisy_acc = float((outputs(r.model, noisy).argmax(1) == test.y).float().mean())
        ece, conf = _calibration(proba, test.y)
        calib[name] = (ece, conf, noisy_acc, proba)
        rows += [{"part": "(c) noise", "setting": name, "quantity": q, "value": v}
                 for q, v in (("test accuracy", float((proba.argmax(1) == test.y).float()
                                                      .mean())),
                              ("expected calibration error", ece),
                              ("mean confidence", conf),
                              ("test accuracy with N(0, 1) input noise", noisy_acc))]
    checks.append(above("(c) mean confidence, none minus label smoothing",
                        calib["none"][1] - calib["label smoothing 0.1"][1], 0.02, 0.01))
    checks.append(above("(c) accuracy on noisy test inputs, input-noise training minus none",
                        calib["input noise σ=0.5"][2] - calib["none"][2], 0.0, 0.02))

    # (d) Early stopping returns the weights of the validation minimum.
    r, d_rows, d_checks = _early_stopping(parts, seed, width, common, quick)
    hist = r.history
    rows += d_rows
    checks += d_checks

    fig = _figure(scaled, geometric, arithmetic, n_masks, weights, calib, test.y)
    fig2 = training_curves(hist, ["train_loss", "valid_loss"], best_epoch=r.best_epoch,
                           title="(d) Early stopping (patience 5) on 300 training rows")
    setup = (
        f"Digits data set (65/15/20 split). 2-layer, {width}-unit ReLU nets (He init), SGD lr "
        f"0.1, batch 64, {epochs} epochs. (a) dropout 0.5; test-set class probabilities of "
        f"the weight-scaled net (eval mode) against the normalized geometric mean and the "
        f"arithmetic mean of {n_masks} sampled thinned nets. (b) l1=0.005 or "
        f"weight_decay=0.005 in fit. (c) label_smoothing=0.1 or input_noise=0.5 in fit; "
        f"confidence, 10-bin expected calibration error, and accuracy on test inputs with "
        f"N(0, 1) noise added (features are standardized). (d) early_stopping=5 on 300 "
        f"training rows, so the net overfits. Seed {seed}."
    )
    return Outcome(setup=setup, numbers=pd.DataFrame(rows), checks=checks, figures=[
        (fig, "(a) dropout as an ensemble, (b) L1 vs L2 weights, (c) calibration."),
        (fig2, "(d) Training and validation loss; the dotted line is the returned epoch."),
    ], notes="Weight scaling matches the geometric mean closely but not exactly (the net is "
             "not linear between the dropout layers and the softmax). L1's subgradient "
             "steps leave weights oscillating within lr · l1 of zero rather than exactly "
             "zero, hence the 1e-3 threshold.")


def _early_stopping(parts, seed: int, width: int, common: dict, quick: bool):
    """Part (d): train on 300 rows with patience 5; the fit result, rows and checks."""
    rows, checks = [], []
    small = parts.train.subset(torch.arange(300))
    r = fit(_net(parts, seed, width), small, parts.valid, early_stopping=5,
            **{**common, "epochs": 60 if quick else 150})
    hist = r.history
    argmin = int(hist.loc[hist["valid_loss"].idxmin(), "epoch"])
    with torch.no_grad():
        returned = float(r.likelihood.loss(outputs(r.model.eval(), parts.valid.X),
                                           parts.valid.y))
    rows += [{"part": "(d) early stopping", "setting": "300 training rows", "quantity": q,
              "value": v} for q, v in (("best_epoch", r.best_epoch),
                                       ("epoch of minimum validation loss", argmin),
                                       ("epochs run", len(hist)),
                                       ("validation loss of the returned model", returned),
                                       ("minimum validation loss", hist["valid_loss"].min()))]
    checks.append(below("(d) |best_epoch − epoch of minimum validation loss|",
                        abs(r.best_epoch - argmin), 0.5))
    checks.append(below("(d) |validation loss of returned model − minimum| (nats)",
                        abs(returned - float(hist["valid_loss"].min())), 1e-5))
    return r, rows, checks


def _figure(scaled, geometric, arithmetic, n_masks: int, weights: dict, calib: dict,
            y: torch.Tensor) -> Figure:
    """(a) weight scaling against the ensembles, (b) weight magnitudes, (c) reliability."""
    fig = Figure(figsize=(14, 4), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    top = scaled.argmax(1, keepdim=True)
    ax1.scatter(geometric.gather(1, top), scaled.gather(1, top), s=8, alpha=0.6,
                label="geometric mean")
    ax1.scatter(arithmetic.gather(1, top), scaled.gather(1, top), s=8, alpha=0.6,
                label="arithmetic mean")
    ax1.plot([0, 1], [0, 1], "k--", linewidth=0.8)
    ax1.set_xlabel(f"ensemble of {n_masks} thinned nets: p(top class)")
    ax1.set_ylabel("weight-scaled net: p(top class)")
    ax1.set_title("(a) Dropout at test time vs ensembles")
    ax1.legend(fontsize="small")
    bins = np.logspace(-6, 0, 40)
    for name, w in weights.items():
        ax2.hist(np.clip(w, 1e-6, None), bins=bins, histtype="step", linewidth=1.5,
                 label=name)
    ax2.set_xscale("log")
    ax2.set_xlabel("|w| (log scale; values below 1e-6 in the first bin)")
    ax2.set_ylabel("number of weights")
    ax2.set_title("(b) Weight magnitudes")
    ax2.legend(fontsize="small")
    for name in ("none", "label smoothing 0.1"):
        proba = calib[name][3]
        conf, pred = proba.max(1)
        correct = (pred == y).float()
        edges = np.linspace(0, 1, 11)
        idx = np.clip(np.digitize(conf.numpy(), edges) - 1, 0, 9)
        xs, ys = [], []
        for k in range(10):
            if (idx == k).any():
                xs.append(float(conf[idx == k].mean()))
                ys.append(float(correct[idx == k].mean()))
        ax3.plot(xs, ys, marker="o", label=f"{name} (ECE {calib[name][0]:.3f})")
    ax3.plot([0, 1], [0, 1], "k--", linewidth=0.8, label="perfect calibration")
    ax3.set_xlabel("confidence (mean top-class probability in bin)")
    ax3.set_ylabel("accuracy in bin (fraction)")
    ax3.set_title("(c) Reliability on the test split")
    ax3.legend(fontsize="small")
    return fig
