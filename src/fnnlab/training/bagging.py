"""Bagging: an ensemble of members trained on bootstrap resamples, predictions averaged.

Each member sees a bootstrap sample (N draws with replacement from the N training
rows), so members make partly independent errors. If k members' errors have variance
v and correlation c, the averaged prediction's error has variance c v + (1 - c) v / k:
for uncorrelated members the squared error falls like 1/k (notes 002, "bagging").
Averaging happens in prediction space (probabilities, means, rates), through the
likelihood's ``combine``. The entrance is ``fit(model, data, bagging=k)``, which runs
:func:`fit_bagged` and returns the :class:`Ensemble`.

References
----------
Breiman, "Bagging Predictors", Machine Learning 24, 1996.
"""

from __future__ import annotations

import copy
import dataclasses
import types
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from fnnlab.likelihoods import Likelihood
from fnnlab.models import build
from fnnlab.training.checks import check_positive_int
from fnnlab.training.config import FitConfig
from fnnlab.training.fit import fit
from fnnlab.training.inputs import as_xy
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

    Member k trains on N rows drawn with replacement from ``train`` (generator seeded
    with ``seed``) by ``fit(member, ..., seed=seed + k, **options)``. A model with a
    ``.spec`` is rebuilt for each member from that spec with torch's generator seeded
    to ``seed + k`` inside ``fork_rng`` (fresh, different initial weights; the
    caller's RNG state is untouched); any other module is deep-copied, so members start
    equal and differ by their data. Returns a :class:`FitResult` whose ``model`` is the
    :class:`~fnnlab.training.bagging.Ensemble`, ``history`` stacks the members' histories
    with a ``member`` column, and ``members`` holds their results. ``config`` and
    ``options`` are :class:`~fnnlab.training.config.FitConfig`'s, as for :func:`fit`.
    """
    # The one entrance is fit(..., bagging=n_members), which calls this.
    check_positive_int("n_members", n_members)
    cfg = FitConfig.from_options(options, config, where="fit_bagged")
    seed = cfg.seed
    if cfg.checkpoint is not None or cfg.resume is not None:
        raise ValueError("checkpoint/resume are not supported together with bagging.")
    x, y, n_classes = as_xy(train, "train")
    gen = torch.Generator().manual_seed(seed)
    spec = getattr(model, "spec", None)
    results = []
    for k in range(n_members):
        if spec is not None:
            member = build(spec, seed=seed + k)
        else:
            member = copy.deepcopy(model)
        rows = bootstrap_indices(len(x), gen)
        sample = types.SimpleNamespace(X=x[rows], y=y[rows], n_classes=n_classes)
        results.append(fit(member, sample, valid,
                           config=dataclasses.replace(cfg, seed=seed + k, bagging=None)))
    lik = results[0].likelihood
    ensemble = Ensemble([r.model for r in results], lik)
    history = pd.concat([r.history.assign(member=k) for k, r in enumerate(results)],
                        ignore_index=True)
    reasons = sorted({r.stop_reason for r in results})
    best_state = {key: value.detach().to("cpu", copy=True)
                  for key, value in ensemble.state_dict().items()}
    return FitResult(model=ensemble, history=history, best_epoch=None, best_state=best_state,
                     stop_reason=", ".join(reasons), likelihood=lik, members=results)
