"""Claim 22: residual networks behave like ensembles of shallow networks.

Veit, Wilber, Belongie, "Residual Networks Behave Like Ensembles of Relatively Shallow
Networks", NeurIPS 2016, arXiv:1605.06431 (lesion study: deleting one residual block
at test time barely changes a resnet's error, while deleting a layer of a plain
VGG-style net drops it to chance), cited in note 000.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from fnnlab import data
from fnnlab.experiments.claims.claim import Outcome, above, below, claim
from fnnlab.models import FNNSpec, build
from fnnlab.training import fit


@torch.no_grad()
def lesion_accuracies(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """Accuracy (argmax of the outputs against class labels ``y``) with each hidden block
    after the first replaced by the identity, one at a time (the first block changes the
    width and cannot be deleted)."""
    model.eval()
    out = []
    for i in range(1, len(model.hidden)):
        block = model.hidden[i]
        model.hidden[i] = nn.Identity()
        try:
            out.append(float((model(x).argmax(1) == y).float().mean()))
        finally:
            model.hidden[i] = block
    return out


def lesion_checks(drop_resnet: float, drop_plain: float) -> list:
    """Claim 22's rule on the mean accuracy lost by deleting one block: below 0.05 for the
    resnet (margin 0.03), and at least 0.2 more for the plain net (margin 0.1)."""
    return [below("resnet: mean test accuracy lost by deleting one block", drop_resnet,
                  0.05, 0.03),
            above("plain minus resnet: mean test accuracy lost by deleting one block",
                  drop_plain - drop_resnet, 0.2, 0.1)]


@claim(
    22,
    "Residual networks behave like ensembles of shallow networks (lesion study)",
    "“I also like to point Veit et al. (2016) demystifying Resnet as an ensemble of many "
    "shallow networks … since Resnet behaves like a ensemble of shallow networks this "
    "effects is rehabilitated.”",
    "000_d0c808358b96fac2.txt",
)
def lesion(quick: bool, seed: int) -> Outcome:
    parts = data.split(data.load("digits"), valid=0.15, test=0.2, seed=seed)
    depth = 8 if quick else 12
    epochs = 8 if quick else 15
    rows, drops = [], {}
    for method, label in (("resnet", "resnet"), ("batchnorm", "plain (ReLU + BN)")):
        model = build(FNNSpec(parts.n_features, parts.n_outputs, depth=depth, width=128,
                              method=method), seed=seed)
        res = fit(model, parts.train, parts.valid, optimizer="momentum", lr=0.01,
                  epochs=epochs, seed=seed, progress=False)
        lesioned = lesion_accuracies(res.model, parts.test.X, parts.test.y)
        with torch.no_grad():
            full = float((res.model(parts.test.X).argmax(1) == parts.test.y).float().mean())
        drops[method] = full - sum(lesioned) / len(lesioned)
        rows.append({"network": label, "deleted block": "none", "test accuracy": full})
        rows += [{"network": label, "deleted block": i + 2, "test accuracy": a}
                 for i, a in enumerate(lesioned)]
    checks = lesion_checks(drops["resnet"], drops["batchnorm"])
    setup = (
        f"Digits (65/15/20 split). A pre-activation residual net (resnet preset: {depth} "
        f"blocks, two-layer branches with batch norm) and a plain ReLU + batch norm net of "
        f"{depth} layers, 128 units, momentum SGD lr 0.01, {epochs} epochs, seed {seed}. "
        f"Lesion: at test time, each hidden block after the first is replaced by the "
        f"identity in turn (for the resnet this deletes its residual branch, as Veit et al. "
        f"did); the mean test accuracy lost over the {depth - 1} deletions."
    )
    notes = ("A resnet's output is a sum over paths of many lengths; deleting one block "
             "removes half the paths but leaves every other path intact. A plain net has "
             "one path, and deleting a layer feeds the next layer inputs it never saw. "
             "Veit et al. lesioned a 110-layer resnet (54 blocks) on CIFAR-10; here a block "
             f"is one of only {depth}, so each deletion removes a larger share of the net "
             "and the resnet's loss is expected to be larger than theirs.")
    return Outcome(setup=setup, numbers=pd.DataFrame(rows), checks=checks, notes=notes)
