r"""``FitConfig``: the one definition of every training option of ``fit`` and ``fit_many``.

Each option is a field of the frozen :class:`FitConfig` dataclass with its default,
a one-line description and two marks in its field metadata:

- ``member``: the option may differ between the members of one stacked model in
  :func:`fnnlab.fit_many` (``lr``, ``seed``, ``weight_decay``, ...); members that
  differ in any other option train in separate stacks.
- ``sequence``: one value of the option is itself a sequence (``metrics``,
  ``callbacks``), so a per-member value is a list of lists.

Everything that lists the options reads them from here: ``fit``'s keyword arguments,
``fit_many``'s per-member lists, the benchmark grids (:meth:`FitConfig.field_names`),
the checks (``__post_init__``), and the class docstring below, which is generated
from the fields.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from fnnlab.training.callbacks import Callback
from fnnlab.training.metrics import METRICS

__all__ = ["FitConfig", "PRECISIONS"]

#: Names accepted by ``precision`` and the autocast dtype each one runs forward passes in.
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16}


def _option(default: Any, kind: str, doc: str, *, member: bool = False,
            sequence: bool = False) -> Any:
    return field(default=default,
                 metadata={"doc": doc, "kind": kind, "member": member, "sequence": sequence})


@dataclass(frozen=True)
class FitConfig:
    # The docstring is generated from the fields' metadata after the class (see below).

    likelihood: Any = _option(
        None, "str, Likelihood or None",
        "Name from :data:`fnnlab.likelihoods.LIKELIHOODS` or an instance. None: integer "
        "targets -> \"categorical\", floating targets -> \"gaussian\".")
    optimizer: Any = _option(
        "sgd", "str or callable",
        "Name from :data:`~fnnlab.training.optimizers.OPTIMIZERS` (textbook defaults) or a "
        "factory such as ``torch.optim.SGD``; ``optimizer_options`` are passed on.")
    lr: float = _option(
        0.01, "float",
        "Learning rate ε > 0 (for SGD on a K-Lipschitz gradient it must be below 2/K).",
        member=True)
    epochs: int = _option(100, "int", "Number of passes over ``train``.")
    batch_size: int = _option(
        64, "int",
        "Minibatch size (rows per step). A trailing batch of a single row is skipped (batch norm "
        "cannot train on one row); every row is still seen in other epochs.")
    early_stopping: int | None = _option(
        None, "int or None",
        "Patience: stop after this many epochs without a lower monitored loss (validation "
        "loss, or training loss without ``valid``) and restore the best epoch's weights.",
        member=True)
    stopping_window: int | None = _option(
        None, "int or None",
        "Choose the stopping epoch on the monitored loss smoothed by a trailing moving "
        "average over this many epochs (fewer in the first ones), and return that epoch's "
        "weights; ``early_stopping`` then counts epochs without a lower smoothed loss. The "
        "SNN paper's rule is 10 (Klambauer et al. 2017, supplement A4; see "
        ":func:`fnnlab.training.record.monitor_value`). None: no smoothing.")
    seed: int = _option(
        0, "int",
        "Seeds all randomness of training (see Note [fit determinism] in "
        ":mod:`fnnlab.training.fit`).", member=True)
    device: Any = _option("cpu", "{\"cpu\", \"cuda\", \"auto\"} or torch.device",
                          "Where to train; \"auto\" picks CUDA when it is available.")
    progress: bool | None = _option(
        None, "bool or None", "tqdm bar over epochs. None: only when stderr is a terminal.")
    callbacks: Sequence[Callback] = _option(
        (), "sequence of Callback",
        "User callbacks (see :mod:`fnnlab.training.callbacks`).", sequence=True)
    metrics: Sequence[str] | None = _option(
        None, "sequence of str or None",
        "Validation metrics from :data:`~fnnlab.training.metrics.METRICS`, logged as "
        "``valid_<name>``. None: accuracy (classification) or r2 (regression).",
        sequence=True)
    weight_decay: float = _option(
        0.0, "float", "L2 coefficient λ >= 0, J + λ/2 ‖θ‖² (decoupled for \"adamw\").",
        member=True)
    l1: float = _option(0.0, "float",
                        "L1 coefficient >= 0: J + l1 · Σ abs(w) over the weight matrices.",
                        member=True)
    max_norm: float | None = _option(
        None, "float or None",
        "Constrain each unit's incoming weight vector to ‖w‖ <= max_norm after every step.",
        member=True)
    input_noise: float = _option(
        0.0, "float", "Standard deviation of Gaussian noise added to the inputs of every "
        "training step.", member=True)
    weight_noise: float = _option(
        0.0, "float", "Standard deviation of Gaussian noise added to the weight matrices "
        "for every training step (the step's gradient is taken at the noisy weights).",
        member=True)
    label_smoothing: float = _option(
        0.0, "float", "ε for the classification likelihoods (passed to the likelihood).",
        member=True)
    clip_norm: float | None = _option(
        None, "float or None", "Clip the gradient's total norm before each step.",
        member=True)
    clip_value: float | None = _option(
        None, "float or None", "Clip each gradient entry to [-clip_value, clip_value] "
        "before each step.", member=True)
    schedule: Any = _option(
        "constant", "str or callable",
        "Learning-rate schedule from :data:`~fnnlab.training.schedules.SCHEDULES`, stepped "
        "per epoch; ``schedule_options`` are passed on.", member=True)
    warmup: int = _option(0, "int", "Epochs of linear learning-rate warm-up, in [0, epochs).",
                          member=True)
    optimizer_options: Mapping[str, Any] | None = _option(
        None, "dict or None", "Keyword arguments for the optimizer (``momentum``, "
        "``betas``, ...).")
    schedule_options: Mapping[str, Any] | None = _option(
        None, "dict or None", "Keyword arguments for the schedule.", member=True)
    bagging: int | None = _option(
        None, "int or None",
        "Train this many members on bootstrap resamples and return their "
        ":class:`~fnnlab.training.bagging.Ensemble` (see :func:`fnnlab.training.fit_bagged`).")
    checkpoint: str | Path | None = _option(
        None, "path or None",
        "Write a resumable checkpoint (model, optimizer, schedule, epoch, RNG states, "
        "history, callback states) here every ``checkpoint_every`` epochs, atomically.")
    checkpoint_every: int = _option(1, "int", "Epochs between two checkpoints.")
    resume: str | Path | None = _option(
        None, "path or None",
        "Continue from such a checkpoint. Pass the same options as the original run; the "
        "result then equals an uninterrupted run's, bit for bit on CPU.")
    precision: str = _option(
        "fp32", "{\"fp32\", \"bf16\"}",
        "\"bf16\" runs forward passes under ``torch.autocast`` in bfloat16; weights, "
        "gradients and optimizer state stay float32.")

    def __post_init__(self) -> None:
        for check in (_check_counts, _check_numbers, _check_choices, _check_collections):
            check(self)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Every option's name, in definition order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def member_names(cls) -> tuple[str, ...]:
        """The options that may differ between the members of one stacked model."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata["member"])

    @classmethod
    def sequence_names(cls) -> tuple[str, ...]:
        """The options whose one value is itself a sequence (a per-member value is a list
        of lists)."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata["sequence"])

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every option's default value."""
        return {f.name: f.default for f in dataclasses.fields(cls)}

    @classmethod
    def check_names(cls, names: Iterable[str], where: str = "fit") -> None:
        """Raise ``TypeError`` naming every entry of ``names`` that is not an option."""
        unknown = sorted(set(names) - set(cls.field_names()))
        if unknown:
            raise TypeError(f"{where} got unknown argument(s) {', '.join(unknown)}; it takes "
                            f"the fields of FitConfig: {', '.join(cls.field_names())}.")

    @classmethod
    def from_options(cls, options: Mapping[str, Any], config: FitConfig | None = None,
                     where: str = "fit") -> FitConfig:
        """``config`` (default: the defaults) with ``options`` replaced, unknown names
        rejected with the list of known ones."""
        cls.check_names(options, where)
        if config is None:
            return cls(**options)
        if not isinstance(config, FitConfig):
            raise TypeError(f"{where}: config must be a FitConfig, got "
                            f"{type(config).__name__}.")
        return dataclasses.replace(config, **options) if options else config

    def to_dict(self) -> dict[str, Any]:
        """The options as a flat dict (shallow: callbacks and option dicts are shared)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _set(config: FitConfig, name: str, value: Any) -> None:
    object.__setattr__(config, name, value)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_counts(c: FitConfig) -> None:
    for name, minimum, optional in (("epochs", 1, False), ("batch_size", 1, False),
                                    ("checkpoint_every", 1, False), ("warmup", 0, False),
                                    ("early_stopping", 1, True), ("stopping_window", 1, True),
                                    ("bagging", 1, True)):
        value = getattr(c, name)
        if optional and value is None:
            continue
        if not _is_int(value) or value < minimum:
            raise ValueError(f"{name} must be an int >= {minimum}"
                             f"{' or None' if optional else ''}, got {value!r}.")
        _set(c, name, int(value))
    if not _is_int(c.seed):
        raise TypeError(f"seed must be an int, got {type(c.seed).__name__}.")
    _set(c, "seed", int(c.seed))


def _check_numbers(c: FitConfig) -> None:
    if not (_is_number(c.lr) and math.isfinite(c.lr) and c.lr > 0):
        raise ValueError(f"lr must be a positive number (finite), got {c.lr!r}.")
    for name in ("weight_decay", "l1", "input_noise", "weight_noise", "label_smoothing"):
        value = getattr(c, name)
        if not (_is_number(value) and math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a number >= 0 (finite), got {value!r}.")
    if c.label_smoothing >= 1:
        raise ValueError(f"label_smoothing must be in [0, 1), got {c.label_smoothing!r}.")
    for name in ("max_norm", "clip_norm", "clip_value"):
        value = getattr(c, name)
        if value is not None and not (_is_number(value) and value > 0):
            raise ValueError(f"{name} must be a positive number or None, got {value!r}.")


def _check_choices(c: FitConfig) -> None:
    if c.precision not in PRECISIONS:
        raise ValueError(f"precision must be 'fp32' or 'bf16', got {c.precision!r}.")
    if not isinstance(c.device, str | torch.device):
        raise ValueError(f"device must be 'cpu', 'cuda', 'auto' or a torch.device, got "
                         f"{c.device!r}.")
    if c.progress is not None and not isinstance(c.progress, bool):
        raise TypeError(f"progress must be True, False or None, got {c.progress!r}.")
    for name in ("optimizer", "schedule"):
        value = getattr(c, name)
        if not (isinstance(value, str) or callable(value)):
            raise TypeError(f"{name} must be a name or a callable, got "
                            f"{type(value).__name__}.")
    for name in ("checkpoint", "resume"):
        value = getattr(c, name)
        if value is not None and not isinstance(value, str | Path):
            raise TypeError(f"{name} must be a path or None, got {type(value).__name__}.")
    if c.bagging is not None and (c.checkpoint is not None or c.resume is not None):
        raise ValueError("checkpoint/resume are not supported together with bagging.")


def _check_collections(c: FitConfig) -> None:
    if isinstance(c.callbacks, Callback) or not isinstance(c.callbacks, Sequence):
        raise TypeError(f"callbacks must be a sequence of Callback instances, got "
                        f"{type(c.callbacks).__name__}.")
    for cb in c.callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}.")
    _set(c, "callbacks", tuple(c.callbacks))
    if c.metrics is not None:
        if isinstance(c.metrics, str) or not isinstance(c.metrics, Sequence):
            raise TypeError(f"metrics must be a list of metric names or None, got "
                            f"{c.metrics!r}; e.g. metrics=['accuracy'].")
        for name in c.metrics:
            METRICS.canonical(name)
        _set(c, "metrics", tuple(c.metrics))
    for name in ("optimizer_options", "schedule_options"):
        value = getattr(c, name)
        if value is not None and not isinstance(value, Mapping):
            raise TypeError(f"{name} must be a dict of keyword arguments or None, got "
                            f"{type(value).__name__}.")


def _docstring() -> str:
    lines = [
        "The training options of :func:`fnnlab.fit` and :func:`fnnlab.fit_many`.",
        "",
        "Frozen: make variants with ``dataclasses.replace(config, lr=0.1)``. Every field",
        "is checked when the config is built; a bad value raises with the field's name,",
        "the value and the allowed range. ``fit(model, data, lr=0.1)`` builds one from",
        "its keyword arguments; ``fit(model, data, config=config)`` takes it as it is.",
        "",
        "Parameters",
        "----------",
    ]
    for f in dataclasses.fields(FitConfig):
        lines.append(f"{f.name} : {f.metadata['kind']}, default={f.default!r}")
        lines.append(f"    {f.metadata['doc']}")
        if f.metadata["member"]:
            lines.append("    May differ between the members of one stack in ``fit_many``.")
    return "\n".join(lines) + "\n"


FitConfig.__doc__ = _docstring()
