r"""Learning-rate schedules by name, stepped once per epoch, with optional warm-up.

Every entry of :data:`SCHEDULES` is a factory ``(optimizer, *, epochs, **options) ->
torch.optim.lr_scheduler.LRScheduler`` (or ``ReduceLROnPlateau``). ε₀ is the
optimizer's ``lr`` and e the epoch (0-based, after warm-up):

=========  ===================================================================  ============
name       learning rate in epoch e                                             torch class
=========  ===================================================================  ============
constant   ε₀                                                                   ConstantLR
linear     (1 - e/E) ε₀ + (e/E) ε_E, ε_E = ``end_factor`` ε₀ = 0.01 ε₀           LinearLR
step       ε₀ γ^⌊e / s⌋, γ = 0.1, s = ⌈E / 3⌉                                    StepLR
plateau    ε × ``factor`` (0.1) after ``patience`` (5) epochs without a new     ReduceLROn-
           best validation loss                                                 Plateau
cyclic     triangle between ``base_factor`` ε₀ (0.1 ε₀) and ε₀, half a cycle    CyclicLR
           lasting ``step_size_up`` = max(1, ⌊E / 6⌋) epochs (three cycles)
cosine     ε₀ (1 + cos(π e / E)) / 2                                            CosineAnnealing
=========  ===================================================================  ============

E is the number of epochs after warm-up. ``warmup = w > 0`` first raises the rate
linearly, ε_s (k + 1) / (w + 1) in epoch k < w, where ε_s is the schedule's first rate
(ε₀; 0.1 ε₀ for cyclic, which starts at the bottom of its triangle), then hands over to
the schedule (Goyal et al., 2017). Schedules step per epoch, not per batch, so their
meaning does not change with the batch size.

References
----------
Goodfellow, Bengio, Courville, "Deep Learning", 2016, section 8.3.1 (linear decay).
Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017.
Loshchilov, Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017.
Goyal et al., "Accurate, Large Minibatch SGD", 2017, arXiv:1706.02677 (warm-up).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from torch.optim import lr_scheduler

from fnnlab.registry import Registry

__all__ = ["SCHEDULES", "Schedule"]

SCHEDULES: Registry = Registry("schedule")


@SCHEDULES.register("constant", "none")
def constant(optimizer: torch.optim.Optimizer, *, epochs: int) -> lr_scheduler.LRScheduler:
    """Keep ε₀."""
    return lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


@SCHEDULES.register("linear")
def linear(optimizer: torch.optim.Optimizer, *, epochs: int,
           end_factor: float = 0.01) -> lr_scheduler.LRScheduler:
    """Decay linearly from ε₀ to ``end_factor`` ε₀ over the epochs, then stay there."""
    return lr_scheduler.LinearLR(optimizer, start_factor=1.0, end_factor=end_factor,
                                 total_iters=max(1, epochs - 1))


@SCHEDULES.register("step")
def step(optimizer: torch.optim.Optimizer, *, epochs: int, step_size: int | None = None,
         gamma: float = 0.1) -> lr_scheduler.LRScheduler:
    """Multiply by γ every ``step_size`` epochs (default: a third of the run)."""
    step_size = step_size or max(1, math.ceil(epochs / 3))
    return lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)


@SCHEDULES.register("plateau", "reduce_on_plateau")
def plateau(optimizer: torch.optim.Optimizer, *, epochs: int, factor: float = 0.1,
            patience: int = 5, threshold: float = 1e-4,
            min_lr: float = 0.0) -> lr_scheduler.ReduceLROnPlateau:
    """Multiply by ``factor`` when the monitored loss stalls for ``patience`` epochs."""
    return lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=factor,
                                          patience=patience, threshold=threshold,
                                          min_lr=min_lr)


@SCHEDULES.register("cyclic", "triangular")
def cyclic(optimizer: torch.optim.Optimizer, *, epochs: int, base_factor: float = 0.1,
           step_size_up: int | None = None) -> lr_scheduler.LRScheduler:
    """Triangular cycles between ``base_factor`` ε₀ and ε₀ (Smith, 2017)."""
    max_lrs = [group["lr"] for group in optimizer.param_groups]
    return lr_scheduler.CyclicLR(
        optimizer, base_lr=[base_factor * lr for lr in max_lrs], max_lr=max_lrs,
        step_size_up=step_size_up or max(1, epochs // 6), mode="triangular",
        cycle_momentum=False,
    )


@SCHEDULES.register("cosine")
def cosine(optimizer: torch.optim.Optimizer, *, epochs: int,
           eta_min: float = 0.0) -> lr_scheduler.LRScheduler:
    """Half a cosine from ε₀ down to ``eta_min`` (Loshchilov & Hutter, 2017, no restarts)."""
    return lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs), eta_min=eta_min)


class Schedule:
    """A named schedule with optional linear warm-up, stepped once per epoch.

    Parameters
    ----------
    schedule : str or callable
        A name from :data:`SCHEDULES` or a factory ``(optimizer, *, epochs, **options)``.
    optimizer : torch.optim.Optimizer
    epochs : int
        Total number of epochs (warm-up included).
    warmup : int, default=0
        Warm-up epochs w ≥ 0.
    **options
        Passed to the factory (``gamma``, ``patience``, ...).
    """

    def __init__(self, schedule: str | Any, optimizer: torch.optim.Optimizer, epochs: int,
                 warmup: int = 0, **options: Any) -> None:
        if not (isinstance(warmup, int) and 0 <= warmup < max(epochs, 1)):
            raise ValueError(
                f"warmup must be an int in [0, epochs={epochs}), got {warmup!r}."
            )
        self.name = schedule if isinstance(schedule, str) else getattr(
            schedule, "__name__", type(schedule).__name__)
        self.optimizer = optimizer
        self.warmup = warmup
        factory = SCHEDULES.get(schedule)
        try:
            main = factory(optimizer, epochs=max(1, epochs - warmup), **options)
        except TypeError as error:
            raise ValueError(
                f"Schedule {self.name!r} does not accept options {sorted(options)}: {error}"
            ) from None
        self.plateau = isinstance(main, lr_scheduler.ReduceLROnPlateau)
        self.main = main
        self.warm = None
        with warnings.catch_warnings():
            # Building a scheduler takes its initial step before any optimizer.step();
            # torch warns about that order, which is the intended one here.
            warnings.simplefilter("ignore", UserWarning)
            if warmup and self.plateau:
                self.warm = lr_scheduler.LinearLR(optimizer, start_factor=1 / (warmup + 1),
                                                  total_iters=warmup)
            elif warmup:
                warm = lr_scheduler.LinearLR(optimizer, start_factor=1 / (warmup + 1),
                                             total_iters=warmup)
                self.main = lr_scheduler.SequentialLR(optimizer, [warm, main],
                                                      milestones=[warmup])
        self.epoch = 0
        # A constant rate without warm-up never changes: stepping it only costs time
        # (torch's scheduler step is tens of µs, paid per member and epoch in a stack).
        self.fixed = isinstance(main, lr_scheduler.ConstantLR) and main.factor == 1.0 \
            and not warmup

    @property
    def lr(self) -> float:
        """The learning rate of the first parameter group."""
        return float(self.optimizer.param_groups[0]["lr"])

    def step(self, metric: float | None = None) -> None:
        """Advance one epoch; ``metric`` (the monitored loss) drives ``plateau``."""
        self.epoch += 1
        if self.fixed:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            if self.warm is not None and self.epoch <= self.warmup:
                self.warm.step()
            elif self.plateau:
                if metric is None:
                    raise ValueError("The plateau schedule needs the monitored loss.")
                self.main.step(metric)
            else:
                self.main.step()

    def state_dict(self) -> dict[str, Any]:
        state = {"epoch": self.epoch, "main": self.main.state_dict()}
        if self.warm is not None:
            state["warm"] = self.warm.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = state["epoch"]
        self.main.load_state_dict(state["main"])
        if self.warm is not None:
            self.warm.load_state_dict(state["warm"])

    def __repr__(self) -> str:
        return f"Schedule({self.name!r}, warmup={self.warmup})"
