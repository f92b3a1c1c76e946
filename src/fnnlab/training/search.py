r"""``search``: successive halving over per-member hyperparameters inside one stack.

The configurations of a search differ only in what members of one stacked model may
differ in (learning rate, weight decay, L1, noise, dropout rate, seed, ...), so all of
them train together as one vectorized model. Successive halving (Jamieson &
Talwalkar, 2016) spends the epochs where they matter: with n configurations, a
budget of R epochs and a rate η, there are s = ⌊log_η n⌋ halvings; rung i trains
the survivors up to epoch r_i = max(1, round(R η^{i - s})), ranks them by their
validation loss at that epoch and keeps the best ⌈n_i / η⌉. Halved members leave the
stack: the next rung is a new, smaller stack of the survivors, which continue from
their weights, so they are no longer computed on. The total cost is about
n r_0 (s + 1) member-epochs instead of n R.

Each rung is one :func:`~fnnlab.training.stacked.run.train_stack` call. Rung 0 of a
configuration is exactly the first r_0 epochs of ``fit(build(spec, seed=s), ...,
seed=s)``; rung j > 0 shuffles with seed s + j, and the optimizer's state (momentum,
Adam's moments) and the schedule start again at each rung, so plain SGD with a
constant learning rate (the default) continues exactly as one run would, and other
rules approximately.

References
----------
Jamieson, Talwalkar, "Non-stochastic Best Arm Identification and Hyperparameter
Optimization", AISTATS 2016, arXiv:1502.07943.
Li, Jamieson, DeSalvo, Rostamizadeh, Talwalkar, "Hyperband", JMLR 18, 2018.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from torch import nn

from fnnlab.models import FNNSpec, build
from fnnlab.training.config import FitConfig
from fnnlab.training.fit import fit
from fnnlab.training.result import FitResult
from fnnlab.training.stacked.allocator import paused_gc
from fnnlab.training.stacked.model import NotStackable
from fnnlab.training.stacked.run import stackable, train_stack

__all__ = ["SearchResult", "rung_epochs", "search"]

# Architecture fields members of one stack may differ in (the rest are FitConfig's).
_SPEC_FIELDS = ("dropout", "input_dropout")


@dataclass
class SearchResult:
    """What :func:`search` returns.

    Attributes
    ----------
    trials : pandas.DataFrame
        One row per configuration, in the order of the space's product: its values,
        ``epochs`` trained, ``rung`` reached, ``valid_loss`` (and ``valid_<metric>``)
        at its last epoch, and ``rank`` (1 = best).
    best : FitResult
        The winning configuration's result; its ``model`` holds its final weights and
        its ``history`` covers every rung.
    params : dict
        The winning configuration's values.
    """

    trials: pd.DataFrame
    best: FitResult
    params: dict[str, Any]


def rung_epochs(n: int, budget: int, eta: int) -> list[int]:
    """The epoch each rung ends at, r_i = max(1, round(R η^{i - s})), s = ⌊log_η n⌋;
    strictly increasing, the last one ``budget``."""
    s = int(math.floor(math.log(n, eta) + 1e-9)) if n > 1 else 0
    ends = [max(1, round(budget * eta ** (i - s))) for i in range(s + 1)]
    return sorted(set(ends))


def _configurations(space: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    if not isinstance(space, Mapping) or not space:
        raise TypeError("search: space must be a non-empty dict of name -> list of values, "
                        "e.g. {'lr': [0.01, 0.1], 'seed': [0, 1]}.")
    allowed = (*FitConfig.member_names(), *_SPEC_FIELDS)
    for name, values in space.items():
        if name not in allowed:
            raise ValueError(f"search: {name!r} cannot differ inside a stack; the space may "
                             f"hold {', '.join(sorted(allowed))}.")
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise TypeError(f"search: space[{name!r}] must be a non-empty list of values, "
                            f"got {values!r}.")
    names = list(space)
    return [dict(zip(names, combo, strict=True)) for combo in
            itertools.product(*(space[name] for name in names))]


def search(spec: FNNSpec, train: Any, valid: Any, *, space: Mapping[str, Sequence[Any]],
           budget: int | None = None, eta: int = 2, config: FitConfig | None = None,
           **options: Any) -> SearchResult:
    r"""Successive halving over ``space``, every rung one stacked model of the survivors.

    Parameters
    ----------
    spec : FNNSpec
        The architecture every configuration shares (``dropout`` and
        ``input_dropout`` may be searched).
    train, valid : Dataset or (X, y)
        Training data and the validation data that ranks the configurations.
    space : dict of str to list
        Values to search; the configurations are the product of the lists. Keys are
        the per-member fields of :class:`~fnnlab.training.config.FitConfig` (``lr``,
        ``weight_decay``, ``seed``, ...) and ``dropout``, ``input_dropout``.
    budget : int or None
        Epochs of the last rung, the most any configuration trains. None: ``epochs``.
    eta : int, default=2
        Keep the best 1/η of the members at each rung.
    config : FitConfig or None
        Options every configuration shares; ``options`` replace its fields.
    **options
        Any field of :class:`~fnnlab.training.config.FitConfig` (``optimizer``,
        ``batch_size``, ...) except ``early_stopping`` and ``bagging``.

    Returns
    -------
    SearchResult
        The trials table, the best configuration's result and its values.
    """
    cfg = FitConfig.from_options(options, config, where="search")
    if valid is None:
        raise ValueError("search ranks configurations on validation data; pass valid=...")
    if isinstance(eta, bool) or not isinstance(eta, int) or eta < 2:
        raise ValueError(f"search: eta must be an int >= 2, got {eta!r}.")
    if cfg.early_stopping is not None or cfg.bagging is not None:
        raise ValueError("search: early_stopping and bagging do not combine with halving; "
                         "the rungs decide when a configuration stops.")
    budget = cfg.epochs if budget is None else budget
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"search: budget must be an int >= 1 (epochs), got {budget!r}.")
    trials = _configurations(space)
    specs, configs = [], []
    for trial in trials:
        arch = {k: v for k, v in trial.items() if k in _SPEC_FIELDS}
        specs.append(dataclasses.replace(spec, **arch))
        configs.append(dataclasses.replace(cfg, **{k: v for k, v in trial.items()
                                                   if k not in _SPEC_FIELDS}))
    models = [build(s, seed=c.seed) for s, c in zip(specs, configs, strict=True)]
    histories: list[list[pd.DataFrame]] = [[] for _ in trials]
    last: list[FitResult | None] = [None] * len(trials)
    reached = [0] * len(trials)
    alive = list(range(len(trials)))
    start = 0
    ends = rung_epochs(len(trials), budget, eta)
    for rung, end in enumerate(ends):
        rung_configs = [dataclasses.replace(configs[i], epochs=end - start,
                                            seed=configs[i].seed + rung) for i in alive]
        results = _train_rung([models[i] for i in alive], rung_configs, train, valid)
        for i, result in zip(alive, results, strict=True):
            histories[i].append(result.history.assign(epoch=result.history["epoch"] + start))
            last[i], reached[i] = result, rung
        if rung < len(ends) - 1:
            alive = sorted(alive, key=lambda i: _score(last[i]))[:math.ceil(len(alive) / eta)]
        start = end
    return _search_result(trials, last, histories, reached)


def _train_rung(models: list[nn.Module], configs: list[FitConfig], train: Any,
                valid: Any) -> list[FitResult]:
    """One rung: the survivors as one stack (``fit`` one by one if no stack takes them)."""
    if stackable(configs[0]):
        try:
            with paused_gc():
                return train_stack(models, configs, train, valid, stacklevel=3)
        except NotStackable:
            pass
    return [fit(m, train, valid, config=c) for m, c in zip(models, configs, strict=True)]


def _score(result: FitResult | None) -> float:
    """The validation loss at a member's last epoch; inf after divergence."""
    if result is None or result.stop_reason == "diverged" or not len(result.history):
        return math.inf
    score = float(result.history["valid_loss"].iloc[-1])
    return score if math.isfinite(score) else math.inf


def _search_result(trials: list[dict[str, Any]], last: list[FitResult | None],
                   histories: list[list[pd.DataFrame]], reached: list[int]) -> SearchResult:
    rows = []
    for trial, result, parts, rung in zip(trials, last, histories, reached, strict=True):
        final = parts[-1].iloc[-1] if len(parts[-1]) else pd.Series(dtype=float)
        rows.append({**trial, "epochs": int(sum(len(p) for p in parts)), "rung": rung,
                     **{k: float(v) for k, v in final.items() if k.startswith("valid_")},
                     "score": _score(result)})
    table = pd.DataFrame(rows)
    # The last rung's members rank first, then by score, so the winner is a finisher.
    order = sorted(range(len(rows)), key=lambda i: (-reached[i], rows[i]["score"]))
    table["rank"] = 0
    table.loc[order, "rank"] = range(1, len(order) + 1)
    best = order[0]
    won = last[best]
    history = pd.concat(histories[best], ignore_index=True)
    offset = len(history) - len(histories[best][-1])  # epochs before the last rung
    return SearchResult(trials=table.drop(columns="score"),
                        best=dataclasses.replace(won, history=history,
                                                 best_epoch=won.best_epoch + offset),
                        params=dict(trials[best]))
