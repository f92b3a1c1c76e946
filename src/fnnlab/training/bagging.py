"""Bagging: an ensemble of members trained on bootstrap resamples, predictions averaged.

Each member sees a bootstrap sample (N draws with replacement from the N training
rows), so members make partly independent errors. If k members' errors have variance
v and correlation c, the averaged prediction's error has variance c v + (1 - c) v / k:
for uncorrelated members the squared error falls like 1/k (notes 002, "bagging").
Averaging happens in prediction space (probabilities, means, rates), through the
likelihood's ``combine``. Bagging is trained by
:func:`~fnnlab.training.ensemble.fit_ensemble` with ``bootstrap=True``;
``fit(model, data, bagging=k)`` (:func:`fit_bagged`) is the route to it for a model in
hand, and returns the :class:`Ensemble`.

References
----------
Breiman, "Bagging Predictors", Machine Learning 24, 1996.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from fnnlab.likelihoods import Likelihood
from fnnlab.training.checks import check_positive_int
from fnnlab.training.config import FitConfig
from fnnlab.training.result import FitResult

__all__ = ["Ensemble", "bootstrap_indices", "fit_bagged"]


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


def fit_bagged(model: nn.Module, train: Any, valid: Any = None, *, n_members: int,
               config: FitConfig | None = None, **options: Any) -> FitResult:
    """Bagging: train ``n_members`` copies on bootstrap resamples and average them.

    What ``fit(model, train, valid, bagging=n_members)`` runs; a thin route to
    :func:`~fnnlab.training.ensemble.fit_ensemble`, the one implementation, as
    ``fit_ensemble(model, train, valid, k=n_members, bootstrap=True, stop_on="member")``.
    Member k trains on N rows drawn with replacement from ``train`` (one generator
    seeded with ``seed`` draws the samples in member order) with ``seed + k``. A model
    with a ``.spec`` is rebuilt for each member as ``build(spec, seed=seed + k)``
    (fresh, different initial weights); any other module is deep-copied, so members
    start equal and differ by their data. Members train in one stack where the options
    and layers allow (:func:`fnnlab.fit_many`'s engine), else one after another with
    :func:`fnnlab.fit`; each stops early on its own validation loss.

    Returns
    -------
    FitResult
        ``model`` is the :class:`Ensemble` (members that diverged are left out, with a
        warning), ``history`` stacks the members' histories with a ``member`` column,
        ``best_epoch`` is None and ``members`` holds each member's result. ``config``
        and ``options`` are :class:`~fnnlab.training.config.FitConfig`'s, as for
        :func:`fit`.
    """
    # Imported here: ensemble.py builds on this module's Ensemble.
    from fnnlab.training.ensemble import fit_ensemble

    check_positive_int("n_members", n_members)
    cfg = FitConfig.from_options(options, config, where="fit_bagged")
    result = fit_ensemble(model, train, valid, k=n_members, bootstrap=True, stop_on="member",
                          config=dataclasses.replace(cfg, bagging=None))
    history = pd.concat([r.history.assign(member=k) for k, r in enumerate(result.members)],
                        ignore_index=True)
    return dataclasses.replace(result, history=history, best_epoch=None)
