"""Bagging: an ensemble of members trained on bootstrap resamples, predictions averaged.

Each member sees a bootstrap sample (N draws with replacement from the N training
rows), so members make partly independent errors. If k members' errors have variance
v and correlation c, the averaged prediction's error has variance c v + (1 - c) v / k:
for uncorrelated members the squared error falls like 1/k (notes 002, "bagging").
Averaging happens in prediction space (probabilities, means, rates), through the
likelihood's ``combine``.

References
----------
Breiman, "Bagging Predictors", Machine Learning 24, 1996.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fnnlab.likelihoods import Likelihood

__all__ = ["Ensemble", "bootstrap_indices"]


def bootstrap_indices(n: int, generator: torch.Generator) -> Tensor:
    """N indices drawn uniformly with replacement from range(n)."""
    return torch.randint(n, (n,), generator=generator)


class Ensemble(nn.Module):
    """Average the predictions of ``members``; forward returns raw outputs again.

    ``forward(x) = likelihood.combine([m(x) for m in members])``, so the ensemble can be
    used wherever one trained model can (``predict``, metrics): e.g. for a categorical
    likelihood the output is T log(mean_k softmax(z_k / T)), whose softmax is the mean of
    the members' probabilities.

    Parameters
    ----------
    members : sequence of nn.Module
        Trained models with the same input and output shapes.
    likelihood : Likelihood
        The likelihood they were trained with.
    """

    def __init__(self, members: list[nn.Module], likelihood: Likelihood) -> None:
        super().__init__()
        if not members:
            raise ValueError("Ensemble needs at least one member.")
        self.members = nn.ModuleList(members)
        self.likelihood = likelihood

    def forward(self, x: Tensor) -> Tensor:
        return self.likelihood.combine([member(x) for member in self.members])

    def extra_repr(self) -> str:
        return f"n_members={len(self.members)}, likelihood={self.likelihood!r}"
