"""Claim 23: parameter tying (sharing one weight matrix across layers) as regularization.

Goodfellow, Bengio, Courville, "Deep Learning", 2016, Sec. 7.9 (parameter tying and
sharing), as listed in note 002; tying the hidden layers of a deep net across depth is
the recurrent view of a feedforward net (as in the tied Grid LSTM of claim 16).
"""

from __future__ import annotations

import pandas as pd
import torch

from fnnlab import data
from fnnlab.experiments.claims.claim import Outcome, above, below, claim
from fnnlab.models import FNNSpec, build
from fnnlab.training import fit


def tie_hidden_layers(model: torch.nn.Module) -> torch.nn.Module:
    """Make hidden blocks 2..depth one shared module (the first changes the width)."""
    for i in range(2, len(model.hidden)):
        model.hidden[i] = model.hidden[1]
    return model


def tying_checks(gap_untied: float, gap_tied: float, acc_untied: float,
                 acc_tied: float) -> list:
    """Claim 23's rule: tying shrinks the generalization gap (train minus test accuracy;
    untied minus tied above 0.01, margin 0.01); secondary: it does not cost more than 2
    points of test accuracy."""
    return [above("generalization gap (train − test accuracy), untied minus tied",
                  gap_untied - gap_tied, 0.01, 0.01),
            below("test accuracy, untied minus tied", acc_untied - acc_tied, 0.02, 0.01,
                  main=False)]


@torch.no_grad()
def _accuracy(model: torch.nn.Module, part) -> float:
    """Classification accuracy of ``model`` (eval mode) on ``part``."""
    model.eval()
    return float((model(part.X).argmax(1) == part.y).float().mean())


@claim(
    23,
    "Parameter tying across layers regularizes",
    "“Regularization • Reduce overfitting, improve generalization … Architecture • "
    "Parameter Tying … Decrease the number of parameters • Share parameters across layers”",
    "002_52ec7ac9540460e1.txt",
)
def tying(quick: bool, seed: int) -> Outcome:
    parts = data.split(data.load("digits"), valid=0.15, test=0.2, seed=seed)
    train = parts.train.subset(range(300))
    seeds = [seed] if quick else [seed, seed + 1, seed + 2]
    epochs = 30 if quick else 60
    rows = []
    for tied in (False, True):
        for s in seeds:
            model = build(FNNSpec(parts.n_features, parts.n_outputs, depth=6, width=256,
                                  method="resnet"), seed=s)
            if tied:
                tie_hidden_layers(model)
            res = fit(model, train, optimizer="momentum", lr=0.01, epochs=epochs,
                      batch_size=32, seed=s, progress=False)
            rows.append({"network": "tied" if tied else "untied", "seed": s,
                         "parameters": sum(p.numel() for p in res.model.parameters()),
                         "train accuracy": _accuracy(res.model, train),
                         "test accuracy": _accuracy(res.model, parts.test)})
    runs = pd.DataFrame(rows)
    runs["gap"] = runs["train accuracy"] - runs["test accuracy"]
    mean = runs.groupby("network")[["gap", "test accuracy"]].mean()
    checks = tying_checks(mean.loc["untied", "gap"], mean.loc["tied", "gap"],
                          mean.loc["untied", "test accuracy"], mean.loc["tied", "test accuracy"])
    setup = (
        f"Digits, the first 300 training rows (so the nets can overfit), test on the "
        f"usual 20% test split. Residual nets (resnet preset, 6 blocks of 256 units): "
        f"untied, and tied (blocks 2-6 are one shared module, "
        f"fnnlab.experiments.claims.tying.tie_hidden_layers), momentum SGD lr 0.01, batch "
        f"32, {epochs} epochs, seeds {seeds}. Residual blocks keep a tied stack trainable "
        f"(a tied plain stack is a deep linear-ReLU iteration of one matrix)."
    )
    return Outcome(setup=setup, numbers=runs, checks=checks, notes=(
        "Tying divides the hidden parameters by five here; the generalization gap is the "
        "regularization effect, the test accuracy its price or gain. Goodfellow et al. "
        "(Sec. 7.9) discuss sharing mainly as convolution and across tasks, where it "
        "encodes a known invariance; tying the layers of a deep net encodes none, so a "
        "smaller gap is not guaranteed, and on 300 rows both nets fit the training set."))
