r"""``fit_ensemble``: k networks of one spec trained as one stacked model, averaged.

The members are k copies of one architecture with their own initial weights (seeds),
optionally their own bootstrap sample of the training rows (bagging, notes 002),
trained together by the stacked engine of :func:`fnnlab.fit_many`, so the whole
ensemble costs about as much as a few single fits. This is the one implementation of
bagging: ``fit(model, data, bagging=k)`` (:func:`~fnnlab.training.bagging.fit_bagged`)
is ``fit_ensemble(model, data, k=k, bootstrap=True, stop_on="member")`` with the
members' histories kept side by side. The result is an
:class:`~fnnlab.training.bagging.Ensemble`, whose prediction is the mean of the
members' predicted distributions: the mean of their class probabilities, or of their
predicted means for regression. If the members' errors have variance v and
correlation c, the mean's error has variance c v + (1 - c) v / k.

Early stopping either watches the ensemble's validation loss (TabM's choice: every
member stops at the epoch where the average is best, and keeps its weights of that
epoch) or each member's own validation loss (``stop_on="member"``).

References
----------
Gorishniy, Kotelnikov, Babenko, "TabM: Advancing Tabular Deep Learning with
Parameter-Efficient Ensembling", ICLR 2025, arXiv:2410.24210 (TabM-packed).
Lakshminarayanan, Pritzel, Blundell, "Simple and Scalable Predictive Uncertainty
Estimation using Deep Ensembles", NeurIPS 2017, arXiv:1612.01474.
Breiman, "Bagging Predictors", Machine Learning 24, 1996.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import types
import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from fnnlab.models import FNN, FNNSpec, build
from fnnlab.training.bagging import Ensemble, bootstrap_indices
from fnnlab.training.callbacks import EarlyStopping
from fnnlab.training.checks import TrainingData, check_positive_int
from fnnlab.training.config import FitConfig
from fnnlab.training.fit import fit
from fnnlab.training.inputs import as_features, as_xy
from fnnlab.training.record import clone_state, monitor_name, monitor_value, validation_row
from fnnlab.training.result import FitResult
from fnnlab.training.stacked.allocator import paused_gc
from fnnlab.training.stacked.model import NotStackable, StackedModel
from fnnlab.training.stacked.run import StackMonitor, stackable, train_stack

__all__ = ["fit_ensemble", "member_predictions", "uncertainty"]

_STOP_ON = ("ensemble", "member")


class _EnsembleMonitor(StackMonitor):
    """The ensemble's validation row every epoch; early stopping on its loss.

    With ``active`` the ensemble's best epoch is the one with the lowest monitored
    loss (smoothed over ``window`` epochs if given, :func:`record.monitor_value`), and
    every member ends with its weights of that epoch; ``patience`` stops the stack.
    """

    def __init__(self, active: bool, patience: int | None, window: int | None) -> None:
        self.active, self.window = active, window
        self.stopper = EarlyStopping(patience) if patience is not None else None
        self.monitor = monitor_name(True, window)
        self.rows: list[dict[str, float]] = []
        self.best_score, self.best_epoch = math.inf, 0
        self.best: list[Tensor] | None = None

    def on_train_start(self, data: TrainingData) -> None:
        self.lik, self.yv, self.metrics = data.likelihoods[0], data.yv, data.metrics
        self.yv_true = None if data.yv is None else data.yv.cpu().numpy()

    def on_epoch_end(self, epoch: int, outs: Tensor | None, active: Tensor,
                     net: StackedModel) -> bool:
        if outs is None or not bool(active.any()):
            return False
        combined = self.lik.combine(list(outs[active.to(outs.device)]))
        row = validation_row(combined, self.yv, self.lik, self.metrics, self.yv_true)
        self.rows.append({"epoch": epoch, **row})
        if not self.active:
            return False
        score = monitor_value(self.rows, self.monitor, self.window)
        if score < self.best_score:
            self.best_score, self.best_epoch = score, epoch
            self.best = net.snapshot()
        return self.stopper is not None and self.stopper.update(score)

    @torch.no_grad()
    def on_train_end(self, net: StackedModel) -> None:
        if self.best is not None:  # every member takes its weights of the best epoch
            for link, saved in zip(net.links, self.best, strict=True):
                link.tensor.copy_(saved)


def fit_ensemble(spec: FNNSpec | nn.Module, train: Any, valid: Any = None, *, k: int = 16,
                 bootstrap: bool = False, seeds: Sequence[int] | None = None,
                 stop_on: str = "ensemble", config: FitConfig | None = None,
                 **options: Any) -> FitResult:
    r"""Train ``k`` networks of ``spec`` as one stacked model and average them.

    Parameters
    ----------
    spec : FNNSpec or nn.Module
        The members' architecture. A module built from a spec (its ``.spec``, as
        :func:`fnnlab.build` sets it) stands for that spec; any other module is
        deep-copied, so its members start equal and differ by their data and shuffles.
    train, valid : Dataset or (X, y)
        As for :func:`fnnlab.fit`.
    k : int, default=16
        Number of members.
    bootstrap : bool, default=False
        Bagging: member i trains on N rows drawn with replacement from the N training
        rows (a generator seeded with ``seed`` draws the samples, as ``fit_bagged``).
    seeds : sequence of int or None
        One seed per member: its initial weights (``build(spec, seed=s)``) and its
        shuffles (for a deep-copied module, only its shuffles). None: ``seed, seed + 1,
        ..., seed + k - 1``. Equal seeds without bootstrap give identical members.
    stop_on : {"ensemble", "member"}, default="ensemble"
        What ``early_stopping`` watches: the ensemble's validation loss (every member
        stops at once and keeps the weights of the ensemble's best epoch), or each
        member's own validation loss.
    config : FitConfig or None
        Training options shared by the members; ``options`` replace its fields.
    **options
        Any field of :class:`~fnnlab.training.config.FitConfig` except ``bagging``.

    Returns
    -------
    FitResult
        ``model`` is the :class:`~fnnlab.training.bagging.Ensemble` (members that
        diverged are left out, with a warning); ``history`` has one row per epoch
        (``epoch``, ``train_loss`` averaged over the members, and the ensemble's
        ``valid_loss`` and ``valid_<metric>``); ``best_epoch`` is the ensemble's best
        epoch (None when not stopping on it); ``members`` holds each member's result.

    Notes
    -----
    All k members train in one stack, so its memory is about k times a single fit's
    (:func:`~fnnlab.training.stacked.loop.member_bytes` estimates one member's share);
    unlike :func:`fnnlab.fit_many` the stack is never split, because early stopping
    on the ensemble needs every member's validation output in the same epoch.
    """
    cfg = FitConfig.from_options(options, config, where="fit_ensemble")
    configs, rows = _member_setup(spec, train, valid, cfg, k, bootstrap, seeds, stop_on)
    members = _new_members(spec, configs)
    on_ensemble = stop_on == "ensemble" and (cfg.early_stopping is not None
                                             or cfg.stopping_window is not None)
    lik_monitor = _EnsembleMonitor(on_ensemble, cfg.early_stopping, cfg.stopping_window)
    results = None
    # Only fnnlab's own networks stack: an arbitrary module's forward need not broadcast
    # over the leading member dimension (as in fit).
    if stackable(cfg) and isinstance(members[0], FNN):
        try:
            with paused_gc():
                results = train_stack(members, configs, train, valid, stacklevel=2,
                                      rows=rows, monitor=lik_monitor)
        except NotStackable:  # raised before any member is touched
            pass
    if results is None:
        if on_ensemble:
            raise ValueError(
                "fit_ensemble: early stopping on the ensemble needs the stacked engine, "
                "which these options or layers do not allow (callbacks, checkpoints, bf16, "
                "a callable optimizer or a layer without a stacked twin). Pass "
                "stop_on='member' to stop each member on its own validation loss.")
        results = _fit_one_by_one(members, configs, train, valid, rows)
    return _ensemble_result(results, lik_monitor, on_ensemble)


def _new_members(spec: FNNSpec | nn.Module, configs: list[FitConfig]) -> list[nn.Module]:
    """One untrained member per config: built from the spec with its seed, or a copy."""
    arch = spec if isinstance(spec, FNNSpec) else getattr(spec, "spec", None)
    if isinstance(arch, FNNSpec):
        return [build(arch, seed=c.seed) for c in configs]
    return [copy.deepcopy(spec) for _ in configs]


def _member_setup(spec: FNNSpec | nn.Module, train: Any, valid: Any, cfg: FitConfig, k: int,
                  bootstrap: bool, seeds: Sequence[int] | None, stop_on: str
                  ) -> tuple[list[FitConfig], Tensor | None]:
    """The members' configs and bootstrap rows (K, N), after checking the arguments."""
    if not isinstance(spec, FNNSpec | nn.Module):
        raise TypeError(f"fit_ensemble: spec must be an FNNSpec or an nn.Module, got "
                        f"{type(spec).__name__}.")
    check_positive_int("k", k)
    if cfg.bagging is not None:
        raise ValueError("fit_ensemble: pass bootstrap=True instead of bagging=n.")
    if cfg.checkpoint is not None or cfg.resume is not None:
        raise ValueError("checkpoint/resume are not supported together with bagging or "
                         "fit_ensemble.")
    if stop_on not in _STOP_ON:
        raise ValueError(f"stop_on must be one of {', '.join(_STOP_ON)}, got {stop_on!r}.")
    if (stop_on == "ensemble" and valid is None
            and (cfg.early_stopping is not None or cfg.stopping_window is not None)):
        raise ValueError("fit_ensemble: early stopping on the ensemble needs valid data; "
                         "pass valid=..., or stop_on='member' (training loss).")
    if seeds is None:
        seeds = [cfg.seed + i for i in range(k)]
    seeds = list(seeds)
    if len(seeds) != k:
        raise ValueError(f"fit_ensemble: seeds has {len(seeds)} values for k={k} members.")
    # Stopping on the ensemble is the monitor's: the members neither stop nor smooth.
    member_stop = cfg.early_stopping if stop_on == "member" else None
    member_window = cfg.stopping_window if stop_on == "member" else None
    configs = [dataclasses.replace(cfg, seed=int(s), early_stopping=member_stop,
                                   stopping_window=member_window) for s in seeds]
    rows = None
    if bootstrap:
        n = len(as_xy(train, "train")[0])
        gen = torch.Generator().manual_seed(cfg.seed)
        rows = torch.stack([bootstrap_indices(n, gen) for _ in range(k)])
    return configs, rows


def _fit_one_by_one(members: list[torch.nn.Module], configs: list[FitConfig], train: Any,
                    valid: Any, rows: Tensor | None) -> list[FitResult]:
    """``fit`` for each member (on its bootstrap sample): layers or options no stack takes."""
    x, y, n_classes = as_xy(train, "train")
    results = []
    for i, (member, c) in enumerate(zip(members, configs, strict=True)):
        sample = train if rows is None else types.SimpleNamespace(
            X=x[rows[i]], y=y[rows[i]], n_classes=n_classes)
        results.append(fit(member, sample, valid, config=c))
    return results


def _ensemble_result(results: list[FitResult], monitor: _EnsembleMonitor,
                     stopped_on_ensemble: bool) -> FitResult:
    kept = [r for r in results if r.stop_reason != "diverged"]
    if len(kept) < len(results):
        warnings.warn(f"fit_ensemble: {len(results) - len(kept)} of {len(results)} members "
                      f"diverged and are left out of the ensemble.", RuntimeWarning,
                      stacklevel=3)
    kept = kept or results
    lik = results[0].likelihood
    ensemble = Ensemble([r.model for r in kept], lik)
    train_loss = pd.concat([r.history[["epoch", "train_loss"]] for r in kept])
    history = train_loss.groupby("epoch", as_index=False)["train_loss"].mean()
    if monitor.rows:
        history = history.merge(pd.DataFrame(monitor.rows), on="epoch", how="left")
    reasons = sorted({r.stop_reason for r in results})
    best_epoch = monitor.best_epoch if stopped_on_ensemble else None
    return FitResult(model=ensemble, history=history, best_epoch=best_epoch,
                     best_state=clone_state(ensemble),
                     stop_reason=", ".join(reasons), likelihood=lik, members=results)


@torch.no_grad()
def member_predictions(ensemble: Ensemble, X: Any, batch_size: int = 4096) -> Tensor:
    """Each member's predicted distribution for ``X``: (K, N, n_classes) probabilities for
    a classification likelihood, (K, N, ...) predicted values otherwise.

    Their mean over the first dimension is the ensemble's prediction (probabilities,
    or the mean of a Gaussian regression).
    """
    from fnnlab.training.predict import outputs

    lik = ensemble.likelihood
    turn = lik.predict_proba if lik.task == "classification" else lik.predict
    x = as_features(X)
    return torch.stack([turn(outputs(member, x, batch_size)) for member in ensemble.members])


def uncertainty(ensemble: Ensemble, X: Any, batch_size: int = 4096) -> Tensor:
    r"""The members' spread: the standard deviation over members of
    :func:`member_predictions`, sqrt((1/K) Σ_k (p_k - p̄)²), same shape as one member's."""
    return member_predictions(ensemble, X, batch_size).std(0, correction=0)

