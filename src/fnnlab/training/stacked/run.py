r"""The stacked training loop: K built networks trained as one vectorized model.

:func:`train_stack` is what :func:`fnnlab.fit_many` runs for each stack and what
:func:`fnnlab.fit` runs for one network (a stack of one) whenever the options allow:
the batched layers of :mod:`~fnnlab.training.stacked.model`, the fused dense kernels
and, for plain SGD, the step inside the backward pass. :func:`stackable` says when
they allow; anything else (callbacks, checkpoints, bf16, an optimizer given as a
callable or without a vectorized rule) trains in ``fit``'s general loop.

Each member trains as its own ``fit`` call would (the conventions are in
:mod:`fnnlab.training.stacked.loop`): its own ``torch.Generator`` seeded with its
seed draws its data-dependent init rows, permutations and noise; its history, best
epoch, early stopping and divergence are its own; a member that stops leaves the
bookkeeping at once and its weights are copied out.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import torch
from torch import Tensor, nn

from fnnlab.training.callbacks import EarlyStopping
from fnnlab.training.checks import TrainingData, check_outputs, load_data, resolve_device
from fnnlab.training.config import FitConfig
from fnnlab.training.optimizers import make_optimizer
from fnnlab.training.record import (
    divergence_message,
    finish_run,
    history_frame,
    monitor_name,
    monitor_value,
    validation_row,
)
from fnnlab.training.result import FitResult
from fnnlab.training.schedules import Schedule
from fnnlab.training.stacked.allocator import keep_freed_memory
from fnnlab.training.stacked.losses import MemberLosses
from fnnlab.training.stacked.model import StackedModel
from fnnlab.training.stacked.optim import StackedOptimizer, rule_of

__all__ = ["EVAL_ELEMENTS", "StackMonitor", "dummy_optimizer", "seed_global", "stackable",
           "steps_in_backward", "train_stack"]

#: Rows x members per validation chunk (bounds the memory of a validation pass).
EVAL_ELEMENTS = 1 << 16


def dummy_optimizer(config: FitConfig) -> torch.optim.Optimizer:
    """The torch optimizer ``config`` names, on a placeholder parameter (for its rule,
    defaults and the schedule)."""
    return make_optimizer(config.optimizer, [torch.zeros(1, requires_grad=True)], config.lr,
                          weight_decay=config.weight_decay, **(config.optimizer_options or {}))


def stackable(config: FitConfig) -> bool:
    """Whether a network trained with ``config`` can train in a stack.

    Not with callbacks (they see one model and one torch optimizer), checkpoints or
    resume (they store a torch optimizer's state), bagging, bf16 (autocast), or an
    optimizer without a vectorized rule (a callable, amsgrad, ...).
    """
    if (config.callbacks or config.bagging is not None or config.checkpoint is not None
            or config.resume is not None or config.precision != "fp32"
            or not isinstance(config.optimizer, str)):
        return False
    try:
        return rule_of(dummy_optimizer(config)) is not None
    except (TypeError, ValueError):
        return False  # fit's loop raises the proper error


def steps_in_backward(config: FitConfig) -> bool:
    """Whether fused dense layers take ``config``'s optimizer step in the backward pass.

    Plain SGD only (no momentum, weight decay, clipping, L1 or weight noise): every other
    rule needs the whole gradient before any step.
    """
    if not stackable(config) or config.clip_norm is not None or \
            config.clip_value is not None or config.l1 or config.weight_noise:
        return False
    opt = dummy_optimizer(config)
    return rule_of(opt) == "sgd" and not opt.defaults["momentum"] and not config.weight_decay


def seed_global(seed: int, device: torch.device) -> None:
    """``torch.manual_seed(seed)`` for code that draws on ``device`` (inside ``fork_rng``).

    On the CPU only the CPU generator is seeded: ``torch.manual_seed`` also queues the
    seed for every accelerator backend (about 0.2 ms a call, formatting a stack trace
    for each) and, under ``fork_rng(devices=[])``, would change the caller's CUDA
    generator.
    """
    if device.type == "cpu":
        torch.default_generator.manual_seed(seed)
    else:
        torch.manual_seed(seed)


def _column(configs: list[FitConfig], name: str, none: float = math.inf) -> Tensor:
    return torch.tensor([none if getattr(c, name) is None else float(getattr(c, name))
                         for c in configs])


class StackMonitor:
    """Watches a stack as a whole (an ensemble's validation score); a no-op by default.

    :func:`train_stack` calls ``on_train_start`` with the stack's data before the
    first epoch, ``on_epoch_end`` after the members' own bookkeeping of every epoch and
    ``on_train_end`` after the last epoch, before the members' weights are written
    back, so a monitor may set the stacked tensors then.
    """

    def on_train_start(self, data: TrainingData) -> None:
        """The data on the device, the members' likelihoods and the metrics."""

    def on_epoch_end(self, epoch: int, outs: Tensor | None, active: Tensor,
                     net: StackedModel) -> bool:
        """``outs``: (K, N_valid, out) validation outputs (None without ``valid``);
        ``active``: (K,) bool. Return True to stop every member now."""
        return False

    def on_train_end(self, net: StackedModel) -> None:
        """Called once after the last epoch."""


def train_stack(members: list[nn.Module], configs: list[FitConfig], train: Any, valid: Any,
                stacklevel: int = 2, *, rows: Tensor | None = None,
                monitor: StackMonitor | None = None) -> list[FitResult]:
    """Train ``members`` (same architecture) as one stacked model; one result each.

    Member k trains with ``configs[k]``; the configs may differ only in
    :meth:`FitConfig.member_names` and must all be :func:`stackable`. The members are
    trained in place (their weights are written back), as ``fit`` trains its model.
    ``rows`` (K, M), optional, gives member k its own training rows ``train[rows[k]]``
    (a bootstrap sample), shuffled each epoch as ``fit`` shuffles its data;
    ``monitor`` watches the whole stack (:class:`StackMonitor`).

    Raises
    ------
    NotStackable
        Before any member is touched, if a layer has no stacked twin.
    """
    c0 = configs[0]
    dev = resolve_device(c0.device)
    members = [m.to(dev) for m in members]
    # Built before any data-dependent init touches the members, so a NotStackable leaves
    # them untouched; with a data-dependent init it is built again afterwards.
    net = StackedModel(members)
    data = load_data(train, valid, configs, dev)
    check_outputs(members[0], data.x, data.likelihoods[0], data.y, data.n_classes)
    keep_freed_memory()
    fork_devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        run = _Stack(members, net, configs, data, dev, rows, monitor)
        run.train()
    return run.results(stacklevel + 1)


class _Stack:
    """One stacked run: the setup, the epochs, and each member's result."""

    def __init__(self, members: list[nn.Module], net: StackedModel, configs: list[FitConfig],
                 data: TrainingData, dev: torch.device, rows: Tensor | None = None,
                 stack_monitor: StackMonitor | None = None) -> None:
        self.members, self.configs, self.data, self.dev = members, configs, data, dev
        self.rows = None if rows is None else rows.to(dev)
        self.stack_monitor = stack_monitor
        self.k = k = len(members)
        self.epochs, self.batch_size = configs[0].epochs, configs[0].batch_size
        self.gens = self._data_init()
        if self._initialized:
            net = StackedModel(members)
        self.net = net.to(dev).train()
        self.loss_fn = MemberLosses(data.likelihoods)
        dummies = [dummy_optimizer(c) for c in configs]
        self.scheds = [Schedule(c.schedule, opt, self.epochs, warmup=c.warmup,
                                **(c.schedule_options or {}))
                       for c, opt in zip(configs, dummies, strict=True)]
        self.params = self.net.trainable()
        self.opt = StackedOptimizer(rule_of(dummies[0]), self.params, dummies[0].defaults,
                                    _column(configs, "weight_decay").to(dev))
        self._regularizers()
        self.stoppers = [EarlyStopping(c.early_stopping) if c.early_stopping else None
                         for c in configs]
        self.monitor = monitor_name(data.xv is not None, configs[0].stopping_window)
        self.yv_true = data.yv.cpu().numpy() if data.yv is not None else None
        self.best = self.net.snapshot()
        self.best_score, self.best_epoch = [math.inf] * k, [0] * k
        self.history: list[list[dict[str, float]]] = [[] for _ in range(k)]
        self.stop_reason, self.diverged = ["completed"] * k, [""] * k
        self.active = torch.ones(k, dtype=torch.bool, device=dev)
        self.written = [False] * k

    def _data_init(self) -> list[torch.Generator]:
        """Each member's generator; data-dependent init (as ``fit`` draws it) where needed."""
        gens, self._initialized = [], False
        x = self.data.x
        for model, c in zip(self.members, self.configs, strict=True):
            gen = torch.Generator(device="cpu").manual_seed(c.seed)
            if getattr(model, "needs_data_init", False):
                seed_global(c.seed, self.dev)
                rows = torch.randperm(len(x), generator=gen)[: max(self.batch_size, 256)]
                model.data_init_(x[rows.to(self.dev)])
                self._initialized = True
            if not model.training:  # built in training mode; train() walks every module
                model.train()
            gens.append(gen)
        return gens

    def _regularizers(self) -> None:
        """Per-member regularization as tensors, and which of it any member uses."""
        configs, dev = self.configs, self.dev
        self.matrices = self.net.matrices()
        self.l1, self.max_norm = _column(configs, "l1").to(dev), _column(configs, "max_norm")
        self.max_norm = self.max_norm.to(dev)
        in_noise, self.w_noise = _column(configs, "input_noise"), _column(configs,
                                                                           "weight_noise")
        clip_norm, clip_value = _column(configs, "clip_norm"), _column(configs, "clip_value")
        # Decided once: most runs use none of these, and each test would cost a sync per
        # step. An unused clip is None.
        self.noisy_inputs = [i for i, s in enumerate(in_noise.tolist()) if s > 0]
        self.in_noise = in_noise.to(dev).view(-1, 1, 1)
        self.noisy_weights = [i for i, s in enumerate(self.w_noise.tolist()) if s > 0]
        self.noise_links = [link for link in self.net.links
                            if any(link.tensor is w for w in self.matrices)]
        self.use_l1 = bool((self.l1 > 0).any())
        self.use_max_norm = bool(torch.isfinite(self.max_norm).any())
        self.clip_norm = clip_norm.to(dev) if torch.isfinite(clip_norm).any() else None
        self.clip_value = (clip_value.to(dev) if torch.isfinite(clip_value).any() else None)
        self.use_clip = self.clip_norm is not None or self.clip_value is not None
        # Plain SGD: fused dense layers take their step inside the backward pass, where
        # their weights and gradients are still in cache (fnnlab.training.stacked.fused);
        # not with clipping, weight noise or L1, which need every gradient before any step.
        self.fused_sgd = (self.net.fused_layers() if self.opt.plain_sgd and not
                          (self.use_clip or self.noisy_weights or self.use_l1) else [])

    def train(self) -> None:
        """All epochs, until every member has stopped."""
        if self.stack_monitor is not None:
            self.stack_monitor.on_train_start(self.data)
        seed_global(self.configs[0].seed, self.dev)
        progress = self.configs[0].progress
        bar = None
        if sys.stderr.isatty() if progress is None else progress:
            from tqdm.auto import tqdm

            desc = f"{self.k} stacked" if self.k > 1 else None
            bar = tqdm(total=self.epochs, unit="epoch", leave=False, desc=desc)
        try:
            for epoch in range(1, self.epochs + 1):
                if not bool(self.active.any()):
                    break
                lrs = [s.lr for s in self.scheds]
                t0 = time.perf_counter()
                total, seen = self._train_epoch(epoch, lrs, t0)
                self._record_epoch(epoch, lrs, total, seen, t0)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        if self.stack_monitor is not None:
            self.stack_monitor.on_train_end(self.net)

    def _batch(self, perms: Tensor, lo: int) -> tuple[Tensor, Tensor]:
        """Member k's rows ``perms[k, lo:lo + batch_size]`` of x and y, (K, m, ...)."""
        x, y = self.data.x, self.data.y
        idx = perms[:, lo:lo + self.batch_size]
        m = idx.shape[1]
        # index_select on the flat index: about half the time of x[idx] for K = 64.
        flat = idx.reshape(-1)
        xb = x.index_select(0, flat).view(self.k, m, *x.shape[1:])
        yb = y.index_select(0, flat).view(self.k, m, *y.shape[1:])
        if self.noisy_inputs:
            noise = torch.zeros_like(xb)
            for i in self.noisy_inputs:
                noise[i] = torch.randn(xb.shape[1:], generator=self.gens[i]).to(self.dev)
            xb = xb + self.in_noise * noise
        return xb, yb

    def _train_epoch(self, epoch: int, lrs: list[float], t0: float) -> tuple[Tensor, int]:
        """One pass over the data for every active member; (K,) summed losses, rows."""
        n, dev = len(self.data.x) if self.rows is None else self.rows.shape[1], self.dev
        lr = torch.tensor(lrs, dtype=torch.float64, device=dev)
        if self.fused_sgd:
            sgd_step = -lr.float().view(-1, 1, 1)  # StackedOptimizer's ε, as float32
            for layer in self.fused_sgd:
                layer.sgd_step = sgd_step
        perms = torch.stack([torch.randperm(n, generator=g) for g in self.gens]).to(dev)
        if self.rows is not None:
            perms = self.rows.gather(1, perms)
        total = torch.zeros(self.k, device=dev)
        seen = 0
        # Decided per epoch, not per step: while every member runs, no loss is masked.
        all_active = bool(self.active.all())
        for b, lo in enumerate(range(0, n, self.batch_size)):
            m = min(self.batch_size, n - lo)
            if m == 1 and n > 1:
                break
            xb, yb = self._batch(perms, lo)
            saved = _add_weight_noise(self.noise_links, self.matrices, self.w_noise,
                                      self.noisy_weights, self.gens) \
                if self.noisy_weights else None
            losses = self.loss_fn(self.net(xb).float(), yb)
            # One number per step while all is well: a non-finite loss makes the sum
            # non-finite, and only then are the members looked at one by one.
            objective = losses.sum()
            if not math.isfinite(float(objective.detach())):
                bad = self.active & ~torch.isfinite(losses)
                if bool(bad.any()):
                    self._diverge(torch.nonzero(bad).flatten().tolist(), losses, epoch, b, lrs,
                                  t0)
                    all_active = False
                    if not bool(self.active.any()):
                        break
            if not all_active:
                losses = torch.where(self.active, losses, torch.zeros_like(losses))
                objective = losses.sum()
            self._step(objective, saved, lr)
            total.add_(losses.detach(), alpha=m)
            seen += m
        return total, seen

    def _diverge(self, which: list[int], losses: Tensor, epoch: int, batch: int,
                 lrs: list[float], t0: float) -> None:
        for i in which:
            self.diverged[i] = divergence_message(float(losses[i].detach()), epoch, batch,
                                                  lrs[i])
            self.history[i].append({"epoch": epoch, "train_loss": math.nan, "lr": lrs[i],
                                    "seconds": time.perf_counter() - t0})
            self.stop_reason[i] = "diverged"
            self.active[i] = False

    def _step(self, objective: Tensor, saved: list[Tensor] | None, lr: Tensor) -> None:
        """Backward pass of the summed losses ``objective`` and optimizer step (fit's
        order: clip, step, max-norm)."""
        if self.use_l1:
            penalty = sum(w.abs().flatten(1).sum(1) for w in self.matrices)
            objective = objective + (self.l1 * penalty).sum()
        grads = list(torch.autograd.grad(objective, self.params, allow_unused=True))
        if not self.fused_sgd:  # with it, None marks a step already taken
            grads = [torch.zeros_like(p) if g is None else g
                     for p, g in zip(self.params, grads, strict=True)]
        if saved is not None:
            with torch.no_grad():
                for w, s in zip(self.matrices, saved, strict=True):
                    w.copy_(s)
        if self.use_clip:
            _clip_(grads, self.clip_norm, self.clip_value)
        self.opt.step(grads, lr)
        if self.use_max_norm:
            with torch.no_grad():
                view = self.max_norm.view(-1, 1, 1)
                for w in self.matrices:
                    norms = w.norm(dim=1, keepdim=True)  # member rows are columns
                    w.mul_(torch.clamp(view / (norms + 1e-12), max=1.0))

    def _record_epoch(self, epoch: int, lrs: list[float], total: Tensor, seen: int,
                      t0: float) -> None:
        """History rows, best epochs, early stopping and schedules of the active members."""
        data = self.data
        if bool(self.active.any()) and data.xv is not None:
            outs = self._evaluate(data.xv)
        train_loss = (total / max(seen, 1)).tolist()
        running = torch.nonzero(self.active).flatten().tolist()
        seconds = (time.perf_counter() - t0) / max(len(running), 1)
        improved = torch.zeros(self.k, dtype=torch.bool)
        stopped = []
        for i in running:
            row: dict[str, float] = {"epoch": epoch, "train_loss": train_loss[i]}
            if data.xv is not None:
                row.update(validation_row(outs[i], data.yv, data.likelihoods[i], data.metrics,
                                          self.yv_true))
            row["lr"], row["seconds"] = lrs[i], seconds
            self.history[i].append(row)
            score = monitor_value(self.history[i], self.monitor, self.configs[i].stopping_window)
            if score < self.best_score[i]:
                self.best_epoch[i], self.best_score[i] = epoch, score
                improved[i] = True
            stopper = self.stoppers[i]
            if stopper is not None and stopper.update(score):
                self.stop_reason[i] = "early_stopping"
                stopped.append(i)
            self.scheds[i].step(score if math.isfinite(score) else math.inf)
        if bool(improved.any()):
            self.net.update_snapshot_(self.best, improved.to(self.dev))
        # Before the stopped members leave: the monitor sees every member of this epoch.
        stop_all = self.stack_monitor is not None and self.stack_monitor.on_epoch_end(
            epoch, outs if data.xv is not None and running else None, self.active.clone(),
            self.net)
        for i in stopped:
            self.net.write_member_(i)
            self.written[i] = True
            self.active[i] = False
        if stop_all:  # written back after on_train_end, which may set their weights
            for i in torch.nonzero(self.active).flatten().tolist():
                self.stop_reason[i] = "early_stopping"
            self.active.zero_()

    @torch.no_grad()
    def _evaluate(self, x: Tensor) -> Tensor:
        net = self.net
        net.eval()
        try:
            rows = max(1, EVAL_ELEMENTS // net.k)
            outs = [net(x[i:i + rows].expand(net.k, -1, -1)) for i in range(0, len(x), rows)]
        finally:
            net.train()
        return torch.cat(outs, dim=1).float()

    def results(self, stacklevel: int) -> list[FitResult]:
        """Write every member back and build its result (restoring its best weights)."""
        out = []
        for i, model in enumerate(self.members):
            if not self.written[i]:
                self.net.write_member_(i)
            best_state = _member_state(self.net, self.best, model, i)
            message = finish_run(model, best_state, self.best_epoch[i], self.diverged[i],
                                 restore=self.stoppers[i] is not None
                                 or self.configs[i].stopping_window is not None,
                                 stacklevel=stacklevel + 1)
            frame = history_frame(self.history[i], self.data.metrics,
                                  self.data.xv is not None)
            out.append(FitResult(model=model, history=frame, best_epoch=self.best_epoch[i],
                                 best_state=best_state, stop_reason=self.stop_reason[i],
                                 likelihood=self.data.likelihoods[i], message=message))
        return out


@torch.no_grad()
def _add_weight_noise(links: list, matrices: list[Tensor], std: Tensor, noisy: list[int],
                      gens: list[torch.Generator]) -> list[Tensor]:
    """fit's WeightNoise for the ``noisy`` members (std > 0), from each one's generator.

    ``links`` are the stacked model's links of ``matrices``, in their order.
    """
    saved = [w.detach().clone() for w in matrices]
    noises = [torch.zeros_like(w) for w in matrices]
    for i in noisy:
        for link, noise in zip(links, noises, strict=True):
            shape = link.members[i].shape
            link.view(noise, i).copy_(torch.randn(shape, generator=gens[i]))
    view = std.to(matrices[0].device).view(-1, 1, 1)
    for w, noise in zip(matrices, noises, strict=True):
        w.add_(noise * view)
    return saved


@torch.no_grad()
def _clip_(grads: list[Tensor], clip_norm: Tensor | None, clip_value: Tensor | None) -> None:
    """torch's clip_grad_value_ then clip_grad_norm_, per member (inf or None: no clipping)."""
    if clip_value is not None:
        for g in grads:
            bound = clip_value.view(-1, *([1] * (g.dim() - 1)))
            torch.clamp(g, min=-bound, max=bound, out=g)
    if clip_norm is not None:
        norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads], 1)
        total = torch.linalg.vector_norm(norms, dim=1)
        coef = torch.clamp(clip_norm / (total + 1e-6), max=1.0)
        for g in grads:
            g.mul_(coef.view(-1, *([1] * (g.dim() - 1))))


def _member_state(net: StackedModel, snapshot: list[Tensor], model: nn.Module,
                  i: int) -> dict[str, Tensor]:
    """Member ``i``'s state_dict with the stacked tensors taken from ``snapshot``."""
    saved = {id(link.members[i]): link.view(tensor, i)
             for link, tensor in zip(net.links, snapshot, strict=True)}
    return {key: saved.get(id(t), t).detach().to("cpu", copy=True,
                                                  memory_format=torch.contiguous_format)
            for key, t in model.state_dict(keep_vars=True).items()}
