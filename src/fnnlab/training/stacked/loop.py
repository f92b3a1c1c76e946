r"""``fit_many``: train K networks as one stacked model, each as its own ``fit`` call would.

This module groups the members into stacks (same shape, same shared options) and
splits a stack by memory; the loop that trains a stack is
:func:`fnnlab.training.stacked.run.train_stack`, which ``fit`` also runs for one
network trained with plain SGD.

Why hand-written batched layers, not ``torch.func.vmap``
---------------------------------------------------------
Both were measured on this project's benchmark shape (K = 64 members, depth 4, width
64, batch 64, one forward + backward, 1 thread, CPU): ``vmap(functional_call)`` over
``stack_module_state`` took 25 ms per step, the batched layers of
:mod:`fnnlab.training.stacked.model` (``baddbmm``; batch norm as one (N, K·F) call)
14 ms, against 0.83 ms for one member alone. On a CPU the step is bound by the small
matrix multiplies, and vmap adds its own dispatch to every op and to the backward
pass; the hand-written layers also let batch norm keep per-member running statistics
with a plain reshape, and make the optimizer's per-member learning rate a tensor
(:mod:`~fnnlab.training.stacked.optim`). Layers without a stacked twin are not
guessed at: their members are trained with ``fit``.

Conventions (what "each member as its own fit call" means)
----------------------------------------------------------
Member k is built as ``build(spec_k, seed=seed_k)`` (seeded inside
``torch.random.fork_rng``, so the caller's generator is untouched), then trained with
the member's own ``torch.Generator`` seeded with ``seed_k``: the same data-dependent
init rows, the same permutation every epoch, the same input and weight noise that
``fit(model, ..., seed=seed_k)`` draws. Without dropout, every member therefore ends
with the weights of that single ``fit`` call up to float32 rounding (batched and
single matrix multiplies round differently). Dropout masks come from torch's global
generator, seeded with the first member's seed, one draw for all members: they are
independent across members but differ from a single run's, so dropout runs agree with
sequential ones in distribution. A member that stops early (early stopping,
divergence) leaves the stack's bookkeeping at once: its history ends, its weights are
copied out, and later steps (which still compute it) never touch them.

Each history row's ``seconds`` is the stacked epoch's wall time divided by the number
of members still training, so summing it over members gives the total time.

Memory
------
:func:`member_bytes` estimates one member's share of the peak (float32, 4 bytes):

    4 · [P (6 + s) + 2 B + |B| (15 A + 2 F) + min(N_valid, R) · 3 W]

P parameters (stacked value, gradient, best-epoch copy, one update temporary, the
member network's own copy and its ``best_state``) plus s optimizer state tensors per
parameter (0 for sgd, 1 for momentum/adagrad/rmsprop, 2 for adam/adadelta); B buffer
entries (live and best copy); |B| the batch size, A the sum of the layer widths (about
15 tensors of shape (|B|, width) per layer: linear output, activation intermediates,
their gradients, and freed blocks the allocator keeps, see
:mod:`~fnnlab.training.stacked.allocator`), F input features (gathered batch and
noise); R the rows of one validation chunk and W the widest layer. Calibrated with
``benchmarks/bench_stacked.py``: 82 MiB estimated for its 64 SNN members against
75–83 MiB measured (peak RSS growth of the stacked run) with optimizers that store
∂W; plain SGD, whose step the fused layers take inside the backward pass, stays below
(62–65 MiB). The estimate keeps the larger figure. ``fit_many`` trains at most
``memory_budget // member_bytes`` members per stack and runs the rest in further chunks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from torch import nn

from fnnlab.models import FNNSpec, build
from fnnlab.training.config import FitConfig
from fnnlab.training.fit import fit
from fnnlab.training.inputs import as_xy
from fnnlab.training.result import FitResult
from fnnlab.training.stacked.allocator import paused_gc
from fnnlab.training.stacked.model import NotStackable
from fnnlab.training.stacked.optim import rule_of
from fnnlab.training.stacked.run import (
    EVAL_ELEMENTS,
    dummy_optimizer,
    stackable,
    train_stack,
)

__all__ = ["fit_many", "member_bytes"]

_STATE_TENSORS = {"sgd": 0, "adagrad": 1, "adadelta": 2, "rmsprop": 1, "adam": 2, "adamw": 2}


def _per_member_value(name: str, value: Any, k: int) -> bool:
    if not isinstance(value, list):
        return False
    if name in FitConfig.sequence_names() and not all(isinstance(v, list | tuple) for v in value):
        return False
    if len(value) != k:
        raise ValueError(f"fit_many: {name} has {len(value)} values for {k} specs. Pass one "
                         f"value, or a list with one value per spec.")
    return True


def _group_key(spec: FNNSpec, config: FitConfig) -> Any:
    """Members with equal keys can share a stack; None: train with ``fit``."""
    if not stackable(config):
        return None
    arch = dataclasses.replace(spec.resolved(), method=None, init=None, gate_bias=None,
                               dropout=None, input_dropout=None, branch_scale=None)
    shared = tuple((name, repr(value)) for name, value in sorted(config.to_dict().items())
                   if name not in FitConfig.member_names() and name != "progress")
    return arch, shared


def member_bytes(model: nn.Module, batch_size: int, optimizer_rule: str = "sgd",
                 n_valid: int = 0, members: int = 1) -> int:
    """Estimated peak bytes one member adds to a stack (see the module docstring)."""
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    mats = [p for p in model.parameters() if p.dim() >= 2]
    widths = sum(m.shape[0] for m in mats)
    widest = max((m.shape[0] for m in mats), default=1)
    features = mats[0].shape[1] if mats else 1
    rows = min(n_valid, max(1, EVAL_ELEMENTS // members))
    floats = (params * (6 + _STATE_TENSORS.get(optimizer_rule, 2)) + 2 * buffers
              + batch_size * (15 * widths + 2 * features) + rows * 3 * widest)
    return 4 * floats


def fit_many(
    specs: Sequence[FNNSpec],
    train: Any,
    valid: Any = None,
    *,
    config: FitConfig | None = None,
    memory_budget: int | None = 2**30,
    vectorize: bool = True,
    **options: Any,
) -> list[FitResult]:
    r"""Train one network per spec, stacking same-shaped ones into one vectorized model.

    Returns what ``[fit(build(spec_k), train, valid, **kwargs_k) for k]`` returns, with
    member k built as ``build(spec_k, seed=seed_k)`` (see the module
    docstring for the exact conventions and what "equal" means with dropout).

    Parameters
    ----------
    specs : sequence of FNNSpec
        K architectures. Members that agree in shape (depth, width, features, block,
        norm, reparam, activation; dropout rate, init, gate bias and branch scale may
        differ) and in the shared fit arguments train together.
    train, valid : Dataset or (X, y)
        As for :func:`fnnlab.fit`; every member sees the same data.
    config : FitConfig or None
        Options every member shares (:class:`~fnnlab.training.config.FitConfig`); None:
        the defaults. ``options`` replace its fields.
    memory_budget : int or None, default=2**30
        Bytes one stack may use; larger groups are split into chunks of
        ``memory_budget // member_bytes(...)`` members. None: no limit.
    vectorize : bool, default=True
        False trains every member with ``fit``, one after the other (the reference).
    **options
        Any field of :class:`~fnnlab.training.config.FitConfig`. A list of K values gives
        one value per member (a tuple is one value). Per-member values are allowed inside
        a stack for the fields :meth:`FitConfig.member_names` lists (lr, seed,
        weight_decay, ...); members that differ in any other option (batch_size,
        epochs, optimizer, ...) form separate stacks. Callbacks, checkpoints, bagging,
        bf16 and optimizers given as callables are trained with ``fit``.

    Returns
    -------
    list of FitResult
        One per spec, in order, with the columns and fields ``fit`` gives.
    """
    specs = list(specs)
    for i, spec in enumerate(specs):
        if not isinstance(spec, FNNSpec):
            raise TypeError(f"fit_many: specs[{i}] must be an FNNSpec, got "
                            f"{type(spec).__name__}.")
    FitConfig.check_names(options, where="fit_many")
    base = FitConfig.from_options({}, config, where="fit_many")
    if memory_budget is not None and not (isinstance(memory_budget, int) and memory_budget > 0):
        raise ValueError(f"memory_budget must be a positive number of bytes or None, got "
                         f"{memory_budget!r}.")
    k = len(specs)
    values: list[dict[str, Any]] = [{} for _ in specs]
    for name, value in options.items():
        per_member = _per_member_value(name, value, k)
        for i, member in enumerate(values):
            member[name] = value[i] if per_member else value
    configs = [dataclasses.replace(base, **member) for member in values]

    groups: dict[Any, list[int]] = {}
    for i, (spec, config) in enumerate(zip(specs, configs, strict=True)):
        key = _group_key(spec, config) if vectorize else None
        groups.setdefault(key if key is not None else ("alone", i), []).append(i)

    results: list[FitResult | None] = [None] * k
    for index in groups.values():
        if len(index) == 1:
            results[index[0]] = _fit_one(specs[index[0]], train, valid, configs[index[0]])
            continue
        for chunk in _chunks(index, specs, configs, valid, memory_budget):
            try:
                members = [build(specs[i], seed=configs[i].seed) for i in chunk]
                with paused_gc():
                    done = train_stack(members, [configs[i] for i in chunk], train, valid,
                                       stacklevel=2)
            except NotStackable:
                done = [_fit_one(specs[i], train, valid, configs[i]) for i in chunk]
            for i, result in zip(chunk, done, strict=True):
                results[i] = result
    return results  # type: ignore[return-value]


def _fit_one(spec: FNNSpec, train: Any, valid: Any, config: FitConfig) -> FitResult:
    return fit(build(spec, seed=config.seed), train, valid, config=config)


def _chunks(index: list[int], specs: list[FNNSpec], configs: list[FitConfig],
            valid: Any, budget: int | None) -> list[list[int]]:
    if budget is None:
        return [index]
    config = configs[index[0]]
    model = build(specs[index[0]], seed=0)
    rule = rule_of(dummy_optimizer(config)) or "adam"
    n_valid = len(as_xy(valid, "valid")[0]) if valid is not None else 0
    per = member_bytes(model, config.batch_size, rule, n_valid, len(index))
    size = max(1, budget // per)
    return [index[i:i + size] for i in range(0, len(index), size)]
