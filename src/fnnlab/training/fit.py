r"""The fit loop: minibatch training of any ``nn.Module`` by maximum likelihood.

``fit`` minimizes the empirical risk J(θ) = (1/|B|) Σ_{i∈B} -log q(y_i | x_i; θ) with
minibatch gradient steps (notes 002: "batch vs minibatch gradient methods"), plus the
regularizers asked for. The loop is plain tensor code, like a good single-file training
script: the data live on the device as two tensors, each epoch draws one permutation
and indexes the tensors with slices of it (no DataLoader for in-memory data), and the
epoch loss accumulates as a tensor so there is no ``.item()`` per batch.

Randomness (Note [fit determinism]): shuffling, bootstrap, input and weight noise draw
from a ``torch.Generator`` seeded with ``seed``. Layers such as dropout draw from
torch's global generator, so ``fit`` runs inside ``torch.random.fork_rng`` and seeds
the global generator with ``seed`` there; the caller's global RNG state is restored
when ``fit`` returns. With the same seed (and the same initial model and thread
count) two runs on CPU give bit-identical weights, and a run resumed from a
checkpoint ends with the same weights as an uninterrupted one, because the checkpoint
stores both generators' states.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from fnnlab.training import checkpoint as _ckpt
from fnnlab.training.callbacks import Callback, EarlyStopping, FitState, ProgressBar
from fnnlab.training.checks import check_outputs, load_data, resolve_device
from fnnlab.training.config import PRECISIONS, FitConfig
from fnnlab.training.optimizers import make_optimizer
from fnnlab.training.record import (
    clone_state,
    divergence_message,
    finish_run,
    history_frame,
    monitor_name,
    monitor_value,
    validation_row,
)
from fnnlab.training.regularization import (
    WeightNoise,
    clip_,
    l1_penalty,
    max_norm_,
    weight_matrices,
)
from fnnlab.training.regularization import (
    input_noise as _add_input_noise,
)
from fnnlab.training.result import FitResult
from fnnlab.training.schedules import Schedule

__all__ = ["fit"]

_EVAL_CHUNK = 8192
# The options a resumed run must share with the run that wrote the checkpoint.
_RESUME_KEYS = ("optimizer", "lr", "epochs", "batch_size", "seed", "schedule", "warmup",
                "stopping_window")


def fit(model: nn.Module, train: Any, valid: Any = None, *, config: FitConfig | None = None,
        **options: Any) -> FitResult:
    r"""Train ``model`` on ``train`` by minibatch gradient descent on a likelihood's NLL.

    Parameters
    ----------
    model : nn.Module
        Any module mapping (N, F) float inputs to raw outputs (an FNN from
        :func:`fnnlab.build`, or your own). It is trained in place and moved to
        ``device``. If ``model.needs_data_init`` is true, ``model.data_init_(x)`` runs
        once on a training batch first (weight-norm data-dependent init, LSUV).
    train, valid : Dataset or (X, y)
        A :class:`fnnlab.data.Dataset` or a pair of arrays/tensors/frames. Integer
        targets are class codes 0..K-1, floating targets are regression values.
    config : FitConfig or None
        The training options (:class:`~fnnlab.training.config.FitConfig`); None: its
        defaults.
    **options
        Any field of :class:`~fnnlab.training.config.FitConfig` (``lr``, ``epochs``,
        ``batch_size``, ``optimizer``, ``seed``, ``early_stopping``, ...), replacing the
        one in ``config``. ``bagging=n`` trains n members on bootstrap resamples and
        returns their ensemble (:func:`~fnnlab.training.bagging.fit_bagged`).

    Returns
    -------
    FitResult
        ``model``, ``history`` (epoch, train_loss, valid_loss, valid_<metric>, lr,
        seconds), ``best_epoch``, ``best_state``, ``stop_reason``, ``likelihood``.

    Notes
    -----
    A NaN or infinite loss stops training at once: the step is not taken, the best
    weights so far are restored (the initial ones if no epoch finished),
    ``stop_reason`` is "diverged" and a ``RuntimeWarning`` names the epoch and batch.
    """
    cfg = FitConfig.from_options(options, config, where="fit")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    if cfg.bagging is not None:
        # Imported here: bagging.py trains its members with this module's fit.
        from fnnlab.training.bagging import fit_bagged

        return fit_bagged(model, train, valid, n_members=cfg.bagging, config=cfg)
    result = _fit_as_stack(model, train, valid, cfg)
    return result if result is not None else _Loop(model, train, valid, cfg).run()


def _fit_as_stack(model: nn.Module, train: Any, valid: Any, cfg: FitConfig
                  ) -> FitResult | None:
    """Train ``model`` as a stack of one if it and ``cfg`` allow; None otherwise."""
    # Imported here: the stacked package imports this module (fit_many falls back to fit).
    from fnnlab.models import FNN
    from fnnlab.training.stacked.allocator import paused_gc
    from fnnlab.training.stacked.model import NotStackable
    from fnnlab.training.stacked.run import steps_in_backward, train_stack

    # Only fnnlab's own networks: their containers are known to broadcast over the
    # leading member dimension, which an arbitrary module's forward need not do. Only
    # plain SGD, whose step the fused layers take inside the backward pass: that is
    # where a stack of one gains; with any other rule the general loop's torch.optim
    # step keeps fit bit-identical to the runs that must use it (the estimators,
    # callbacks, checkpoints).
    if not (isinstance(model, FNN) and steps_in_backward(cfg)):
        return None
    try:
        with paused_gc():
            return train_stack([model], [cfg], train, valid, stacklevel=3)[0]
    except NotStackable:
        return None


class _Loop:
    """fit's general loop: one model, a torch optimizer, callbacks and checkpoints."""

    def __init__(self, model: nn.Module, train: Any, valid: Any, cfg: FitConfig) -> None:
        self.model, self.cfg = model, cfg
        self.dev = dev = resolve_device(cfg.device)
        self.data = data = load_data(train, valid, [cfg], dev)
        self.lik = data.likelihoods[0]
        model.to(dev)
        check_outputs(model, data.x, self.lik, data.y, data.n_classes)
        dtype = PRECISIONS[cfg.precision]
        self.autocast: Callable[[], Any] = contextlib.nullcontext if dtype is None else (
            lambda: torch.autocast(device_type=dev.type, dtype=dtype))
        self.weights = weight_matrices(model)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.cbs: list[Callback] = [EarlyStopping(cfg.early_stopping)] \
            if cfg.early_stopping is not None else []
        self.cbs.extend(cfg.callbacks)
        self.after_backward = [cb for cb in self.cbs
                               if type(cb).on_after_backward is not Callback.on_after_backward]
        self.run_config = {k: (v if isinstance(v, str | int | float | type(None)) else repr(v))
                           for k, v in [*((k, getattr(cfg, k)) for k in _RESUME_KEYS),
                                        ("n_train", len(data.x)),
                                        ("likelihood", self.lik.name)]}

    def run(self) -> FitResult:
        cfg, model, dev = self.cfg, self.model, self.dev
        fork_devices = [dev.index or 0] if dev.type == "cuda" else []
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(cfg.seed)
            self.gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
            self.noise_gen = self.gen if dev.type == "cpu" else \
                torch.Generator(device=dev).manual_seed(cfg.seed)
            if getattr(model, "needs_data_init", False) and cfg.resume is None:
                # Data-dependent init needs stable statistics: use at least 256 rows.
                rows = torch.randperm(len(self.data.x), generator=self.gen)
                model.data_init_(self.data.x[rows[: max(cfg.batch_size, 256)].to(dev)])
            model.train()
            self.opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr,
                                      weight_decay=cfg.weight_decay,
                                      **(cfg.optimizer_options or {}))
            self.sched = Schedule(cfg.schedule, self.opt, cfg.epochs, warmup=cfg.warmup,
                                  **(cfg.schedule_options or {}))
            self.state = FitState(model=model, optimizer=self.opt, schedule=self.sched,
                                  monitor=monitor_name(self.data.xv is not None,
                                                       cfg.stopping_window))
            self.best_state = clone_state(model)
            start = self._resume() if cfg.resume is not None else 1
            self.state.epoch = start - 1
            show = sys.stderr.isatty() if cfg.progress is None else cfg.progress
            if show:
                self.cbs.append(ProgressBar(cfg.epochs, initial=start - 1))
            for cb in self.cbs:
                cb.on_fit_start(self.state)
            diverged = self._epochs(start)
            message = finish_run(model, self.best_state, self.state.best_epoch, diverged,
                                 restore=cfg.early_stopping is not None
                                 or cfg.stopping_window is not None, stacklevel=4)
            for cb in self.cbs:
                cb.on_fit_end(self.state)
        state = self.state
        history = history_frame(state.history, self.data.metrics, self.data.xv is not None)
        return FitResult(model=model, history=history, best_epoch=state.best_epoch,
                         best_state=self.best_state, stop_reason=state.stop_reason,
                         likelihood=self.lik, message=message)

    def _epochs(self, start: int) -> str:
        """Train from epoch ``start`` on; the divergence message, or ""."""
        cfg, state = self.cfg, self.state
        for epoch in range(start, cfg.epochs + 1):
            if state.stop:
                break
            state.epoch = epoch
            for cb in self.cbs:
                cb.on_epoch_start(state)
            epoch_lr = self.sched.lr
            t0 = time.perf_counter()
            diverged, train_loss = self._train_epoch(epoch)
            if diverged:
                state.history.append({"epoch": epoch, "train_loss": math.nan, "lr": epoch_lr,
                                      "seconds": time.perf_counter() - t0})
                state.stop, state.stop_reason = True, "diverged"
                return diverged
            row: dict[str, float] = {"epoch": epoch, "train_loss": train_loss}
            if self.data.xv is not None:
                row.update(self._evaluate())
            row["lr"], row["seconds"] = epoch_lr, time.perf_counter() - t0
            state.history.append(row)
            score = monitor_value(state.history, state.monitor, cfg.stopping_window)
            if score < state.best_score:
                state.best_epoch, state.best_score = epoch, score
                self.best_state = clone_state(self.model)
            for cb in self.cbs:
                cb.on_epoch_end(state)
            self.sched.step(score if math.isfinite(score) else math.inf)
            if cfg.checkpoint is not None and (epoch % cfg.checkpoint_every == 0
                                               or epoch == cfg.epochs or state.stop):
                self._write_checkpoint(epoch)
        return ""

    def _train_epoch(self, epoch: int) -> tuple[str, float]:
        """One pass over the data: (divergence message or "", mean training loss)."""
        cfg, model, opt, data = self.cfg, self.model, self.opt, self.data
        n, lik = len(data.x), self.lik
        perm = torch.randperm(n, generator=self.gen).to(self.dev)
        total = torch.zeros((), device=self.dev)
        seen = 0
        for b, lo in enumerate(range(0, n, cfg.batch_size)):
            idx = perm[lo:lo + cfg.batch_size]
            m = len(idx)
            if m == 1 and n > 1:
                break
            xb, yb = data.x[idx], data.y[idx]
            if cfg.input_noise:
                xb = _add_input_noise(xb, cfg.input_noise, self.noise_gen)
            noisy = (WeightNoise(self.weights, cfg.weight_noise, self.noise_gen)
                     if cfg.weight_noise else contextlib.nullcontext())
            with noisy:
                with self.autocast():
                    out = model(xb)
                loss = lik.loss(out.float(), yb)
                if not torch.isfinite(loss):
                    return divergence_message(float(loss.detach()), epoch, b,
                                              self.sched.lr), math.nan
                objective = loss + cfg.l1 * l1_penalty(self.weights) if cfg.l1 else loss
                opt.zero_grad(set_to_none=True)
                objective.backward()
            if cfg.clip_norm is not None or cfg.clip_value is not None:
                clip_(self.params, cfg.clip_norm, cfg.clip_value)
            if self.after_backward:
                self.state.batch, self.state.loss = b, loss.detach()
                for cb in self.after_backward:
                    cb.on_after_backward(self.state)
            opt.step()
            if cfg.max_norm is not None:
                max_norm_(self.weights, cfg.max_norm)
            total += loss.detach() * m
            seen += m
        return "", float(total) / max(seen, 1)

    @torch.no_grad()
    def _evaluate(self) -> dict[str, float]:
        model, x = self.model, self.data.xv
        was_training = model.training
        model.eval()
        try:
            with self.autocast():
                outs = [model(x[i:i + _EVAL_CHUNK]) for i in range(0, len(x), _EVAL_CHUNK)]
            out = torch.cat(outs).float()
        finally:
            model.train(was_training)
        return validation_row(out, self.data.yv, self.lik, self.data.metrics)

    def _resume(self) -> int:
        """Load the checkpoint ``cfg.resume`` into this run; the first epoch to train."""
        path, state = self.cfg.resume, self.state
        payload = _ckpt.read(path, map_location="cpu")
        training = payload.get("training")
        if training is None:
            raise ValueError(f"{str(path)!r} is a model checkpoint, not a resumable "
                             f"training checkpoint; write one with fit(checkpoint=...).")
        changed = {k: (training["config"].get(k), v) for k, v in self.run_config.items()
                   if training["config"].get(k) != v}
        if changed:
            raise ValueError(
                f"Cannot resume from {str(path)!r}: settings differ from the original "
                f"run ({', '.join(f'{k}: {a!r} -> {b!r}' for k, (a, b) in changed.items())})."
                f" Pass the same arguments as the run that wrote the checkpoint."
            )
        self.model.load_state_dict(payload["state_dict"])
        self.opt.load_state_dict(training["optimizer"])
        self.sched.load_state_dict(training["schedule"])
        self.gen.set_state(training["generator"])
        if self.noise_gen is not self.gen:
            self.noise_gen.set_state(training["noise_generator"].to("cpu"))
        torch.set_rng_state(training["torch_rng"])
        if self.dev.type == "cuda" and "cuda_rng" in training:
            torch.cuda.set_rng_state(training["cuda_rng"], self.dev)
        state.history = list(training["history"])
        state.best_epoch, state.best_score = training["best_epoch"], training["best_score"]
        self.best_state = training["best_state"]
        state.stop, state.stop_reason = training["stop"], training["stop_reason"]
        if len(training["callbacks"]) != len(self.cbs):
            raise ValueError(f"The checkpoint has {len(training['callbacks'])} callback "
                             f"states but this run has {len(self.cbs)} callbacks.")
        for cb, cb_state in zip(self.cbs, training["callbacks"], strict=True):
            cb.load_state_dict(cb_state)
        return training["epoch"] + 1

    def _write_checkpoint(self, epoch: int) -> None:
        _write_training_checkpoint(self.cfg.checkpoint, self.model, self.lik, self.opt,
                                   self.sched, self.gen, self.noise_gen, self.dev, self.state,
                                   self.best_state, self.cbs, self.run_config, epoch)


def _write_training_checkpoint(path, model, lik, opt, sched, gen, noise_gen, dev, state,
                               best_state, cbs, config, epoch) -> None:
    training = {
        "epoch": epoch,
        "config": config,
        "optimizer": opt.state_dict(),
        "schedule": sched.state_dict(),
        "generator": gen.get_state(),
        "noise_generator": noise_gen.get_state().cpu(),
        "torch_rng": torch.get_rng_state(),
        "history": [dict(row) for row in state.history],
        "best_epoch": state.best_epoch,
        "best_score": state.best_score,
        "best_state": best_state,
        "stop": state.stop,
        "stop_reason": state.stop_reason,
        "callbacks": [cb.state_dict() for cb in cbs if not isinstance(cb, ProgressBar)],
    }
    if dev.type == "cuda":
        training["cuda_rng"] = torch.cuda.get_rng_state(dev)
    payload: dict[str, Any] = {
        "format": "fnnlab", "version": 1,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": {"likelihood": lik.name},
        "training": training,
    }
    spec = getattr(model, "spec", None)
    if spec is not None and hasattr(spec, "to_dict"):
        payload["spec"] = spec.to_dict()
    _ckpt.write(payload, path)
