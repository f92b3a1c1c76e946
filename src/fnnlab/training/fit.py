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
import copy
import math
import sys
import time
import types
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from fnnlab.likelihoods import Likelihood, resolve
from fnnlab.training import checkpoint as _ckpt
from fnnlab.training.bagging import Ensemble, bootstrap_indices
from fnnlab.training.callbacks import Callback, EarlyStopping, FitState, ProgressBar
from fnnlab.training.checks import (
    check_metrics,
    check_nonnegative,
    check_outputs,
    check_positive_int,
    prepare_data,
    resolve_device,
)
from fnnlab.training.inputs import as_xy
from fnnlab.training.metrics import METRICS
from fnnlab.training.optimizers import make_optimizer
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

__all__ = ["fit", "fit_bagged"]

_EVAL_CHUNK = 8192
_PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


def _clone_state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


@torch.no_grad()
def _evaluate(model: nn.Module, x: Tensor, y: Tensor, lik: Likelihood,
              metrics: Sequence[str], autocast: Any) -> dict[str, float]:
    was_training = model.training
    model.eval()
    try:
        with autocast():
            outs = [model(x[i:i + _EVAL_CHUNK]) for i in range(0, len(x), _EVAL_CHUNK)]
        out = torch.cat(outs).float()
    finally:
        model.train(was_training)
    row = {"valid_loss": float(lik.loss(out, y))}
    if not metrics:
        return row
    if not torch.isfinite(out).all():
        return {**row, **{f"valid_{m}": math.nan for m in metrics}}
    y_true = y.cpu().numpy()
    y_pred = lik.predict(out).cpu().numpy()
    y_proba = lik.predict_proba(out).cpu().numpy() if lik.task == "classification" else None
    for name in metrics:
        row[f"valid_{name}"] = METRICS.get(name)(y_true, y_pred, y_proba)
    return row


def _config(**values: Any) -> dict[str, Any]:
    return {k: (v if isinstance(v, str | int | float | type(None)) else repr(v))
            for k, v in values.items()}


def fit(
    model: nn.Module,
    train: Any,
    valid: Any = None,
    *,
    likelihood: str | Likelihood | None = None,
    optimizer: str | Any = "sgd",
    lr: float = 0.01,
    epochs: int = 100,
    batch_size: int = 64,
    early_stopping: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
    callbacks: Sequence[Callback] = (),
    metrics: Sequence[str] | None = None,
    weight_decay: float = 0.0,
    l1: float = 0.0,
    max_norm: float | None = None,
    input_noise: float = 0.0,
    weight_noise: float = 0.0,
    label_smoothing: float = 0.0,
    clip_norm: float | None = None,
    clip_value: float | None = None,
    schedule: str | Any = "constant",
    warmup: int = 0,
    optimizer_options: dict[str, Any] | None = None,
    schedule_options: dict[str, Any] | None = None,
    bagging: int | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 1,
    resume: str | Path | None = None,
    precision: str = "fp32",
) -> FitResult:
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
    likelihood : str, Likelihood or None
        Name from :data:`fnnlab.likelihoods.LIKELIHOODS` or an instance. None: integer
        targets -> "categorical", floating targets -> "gaussian".
    optimizer : str or callable, default="sgd"
        Name from :data:`~fnnlab.training.optimizers.OPTIMIZERS` (textbook defaults)
        or a factory such as ``torch.optim.SGD``; ``optimizer_options`` are passed on.
    lr : float, default=0.01
        Learning rate ε (for SGD on a K-Lipschitz gradient it must be below 2/K).
    epochs : int, default=100
        Number of passes over ``train``.
    batch_size : int, default=64
        Minibatch size ``|B|``. A trailing batch of a single row is skipped (batch norm
        cannot train on one row); every row is still seen in other epochs.
    early_stopping : int or None
        Patience: stop after this many epochs without a lower monitored loss
        (validation loss, or training loss without ``valid``) and restore the best
        epoch's weights.
    seed : int, default=0
        Seeds all randomness of training (see Note [fit determinism] in this module).
    device : {"cpu", "cuda", "auto"}
    progress : bool or None
        tqdm bar over epochs. None: only when stderr is a terminal.
    callbacks : sequence of Callback
        User callbacks (see :mod:`fnnlab.training.callbacks`).
    metrics : sequence of str or None
        Validation metrics from :data:`~fnnlab.training.metrics.METRICS`, logged as
        ``valid_<name>``. None: accuracy (classification) or r2 (regression).
    weight_decay : float
        L2 coefficient λ, J + λ/2 ‖θ‖² (decoupled for "adamw").
    l1 : float
        L1 coefficient: ``J + l1 Σ|w|`` over the weight matrices.
    max_norm : float or None
        Constrain each unit's incoming weight vector to ‖w‖ ≤ max_norm after every step.
    input_noise, weight_noise : float
        Standard deviation of Gaussian noise added to the inputs / weight matrices of
        every training step.
    label_smoothing : float
        ε for the classification likelihoods (passed to the likelihood).
    clip_norm, clip_value : float or None
        Clip the gradient's total norm / each entry before each step.
    schedule : str or callable, default="constant"
        Learning-rate schedule from :data:`~fnnlab.training.schedules.SCHEDULES`,
        stepped per epoch; ``warmup`` epochs of linear warm-up; ``schedule_options``
        are passed on.
    bagging : int or None
        Train this many members on bootstrap resamples and return their
        :class:`~fnnlab.training.bagging.Ensemble` (see :func:`fit_bagged`).
    checkpoint : path or None
        Write a resumable checkpoint (model, optimizer, schedule, epoch, RNG states,
        history, callback states) here every ``checkpoint_every`` epochs, atomically.
    resume : path or None
        Continue from such a checkpoint. Pass the same arguments as the original run;
        the result then equals an uninterrupted run's, bit for bit on CPU.
    precision : {"fp32", "bf16"}
        "bf16" runs forward passes under ``torch.autocast`` in bfloat16; weights,
        gradients and optimizer state stay float32.

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
    options = dict(
        likelihood=likelihood, optimizer=optimizer, lr=lr, epochs=epochs,
        batch_size=batch_size, early_stopping=early_stopping, seed=seed, device=device,
        progress=progress, callbacks=callbacks, metrics=metrics, weight_decay=weight_decay,
        l1=l1, max_norm=max_norm, input_noise=input_noise, weight_noise=weight_noise,
        label_smoothing=label_smoothing, clip_norm=clip_norm, clip_value=clip_value,
        schedule=schedule, warmup=warmup, optimizer_options=optimizer_options,
        schedule_options=schedule_options, precision=precision,
    )
    if bagging is not None:
        if checkpoint is not None or resume is not None:
            raise ValueError("checkpoint/resume are not supported together with bagging.")
        return fit_bagged(model, train, valid, n_members=bagging, **options)
    return _fit(model, train, valid, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                resume=resume, **options)


def _fit(model, train, valid, *, likelihood, optimizer, lr, epochs, batch_size,
         early_stopping, seed, device, progress, callbacks, metrics, weight_decay, l1,
         max_norm, input_noise, weight_noise, label_smoothing, clip_norm, clip_value,
         schedule, warmup, optimizer_options, schedule_options, checkpoint,
         checkpoint_every, resume, precision) -> FitResult:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    check_positive_int("checkpoint_every", checkpoint_every)
    if early_stopping is not None:
        check_positive_int("early_stopping", early_stopping)
    for name, value in (("l1", l1), ("input_noise", input_noise),
                        ("weight_noise", weight_noise), ("label_smoothing", label_smoothing)):
        check_nonnegative(name, value)
    for name, value in (("max_norm", max_norm), ("clip_norm", clip_norm),
                        ("clip_value", clip_value)):
        if value is not None and not (isinstance(value, int | float) and value > 0):
            raise ValueError(f"{name} must be a positive number or None, got {value!r}.")
    if precision not in _PRECISIONS:
        raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}.")
    if not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}.")
    dev = resolve_device(device)

    x, y, n_classes = as_xy(train, "train")
    lik = resolve(likelihood, y, **({"label_smoothing": label_smoothing}
                                   if label_smoothing else {}))
    y, xv, yv, n_classes = prepare_data(x, y, n_classes, valid, lik)
    metrics = check_metrics(metrics, lik)

    model.to(dev)
    x, y = x.to(dev), y.to(dev)
    if valid is not None:
        xv, yv = xv.to(dev), yv.to(dev)
    check_outputs(model, x, lik, y, n_classes)

    n = len(x)
    autocast_dtype = _PRECISIONS[precision]
    if autocast_dtype is None:
        autocast = contextlib.nullcontext
    else:
        def autocast():
            return torch.autocast(device_type=dev.type, dtype=autocast_dtype)

    fork_devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(seed)
        gen = torch.Generator(device="cpu").manual_seed(seed)
        noise_gen = gen if dev.type == "cpu" else torch.Generator(device=dev).manual_seed(seed)

        if getattr(model, "needs_data_init", False) and resume is None:
            # Data-dependent init needs stable statistics: use at least 256 rows.
            init_rows = torch.randperm(n, generator=gen)[: max(batch_size, 256)].to(dev)
            model.data_init_(x[init_rows])

        model.train()
        opt = make_optimizer(optimizer, model.parameters(), lr, weight_decay=weight_decay,
                             **(optimizer_options or {}))
        sched = Schedule(schedule, opt, epochs, warmup=warmup, **(schedule_options or {}))
        weights = weight_matrices(model)
        params = [p for p in model.parameters() if p.requires_grad]

        cbs: list[Callback] = []
        if early_stopping is not None:
            cbs.append(EarlyStopping(early_stopping))
        cbs.extend(callbacks)
        for cb in cbs:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}.")
        after_backward = [cb for cb in cbs
                          if type(cb).on_after_backward is not Callback.on_after_backward]

        state = FitState(model=model, optimizer=opt, schedule=sched,
                         monitor="valid_loss" if valid is not None else "train_loss")
        best_state = _clone_state(model)
        config = _config(optimizer=optimizer, lr=lr, epochs=epochs, batch_size=batch_size,
                         seed=seed, schedule=schedule, warmup=warmup, n_train=n,
                         likelihood=lik.name)
        start = 1
        if resume is not None:
            payload = _ckpt.read(resume, map_location="cpu")
            training = payload.get("training")
            if training is None:
                raise ValueError(f"{str(resume)!r} is a model checkpoint, not a resumable "
                                 f"training checkpoint; write one with fit(checkpoint=...).")
            changed = {k: (training["config"].get(k), v) for k, v in config.items()
                       if training["config"].get(k) != v}
            if changed:
                raise ValueError(
                    f"Cannot resume from {str(resume)!r}: settings differ from the original "
                    f"run ({', '.join(f'{k}: {a!r} -> {b!r}' for k, (a, b) in changed.items())})."
                    f" Pass the same arguments as the run that wrote the checkpoint."
                )
            model.load_state_dict(payload["state_dict"])
            opt.load_state_dict(training["optimizer"])
            sched.load_state_dict(training["schedule"])
            gen.set_state(training["generator"])
            if noise_gen is not gen:
                noise_gen.set_state(training["noise_generator"].to("cpu"))
            torch.set_rng_state(training["torch_rng"])
            if dev.type == "cuda" and "cuda_rng" in training:
                torch.cuda.set_rng_state(training["cuda_rng"], dev)
            state.history = list(training["history"])
            state.best_epoch, state.best_score = training["best_epoch"], training["best_score"]
            best_state = training["best_state"]
            state.stop, state.stop_reason = training["stop"], training["stop_reason"]
            if len(training["callbacks"]) != len(cbs):
                raise ValueError(f"The checkpoint has {len(training['callbacks'])} callback "
                                 f"states but this run has {len(cbs)} callbacks.")
            for cb, cb_state in zip(cbs, training["callbacks"], strict=True):
                cb.load_state_dict(cb_state)
            start = training["epoch"] + 1
        state.epoch = start - 1

        show = sys.stderr.isatty() if progress is None else bool(progress)
        if show:
            cbs.append(ProgressBar(epochs, initial=start - 1))
        for cb in cbs:
            cb.on_fit_start(state)

        diverged = ""
        for epoch in range(start, epochs + 1):
            if state.stop:
                break
            state.epoch = epoch
            for cb in cbs:
                cb.on_epoch_start(state)
            epoch_lr = sched.lr
            t0 = time.perf_counter()
            perm = torch.randperm(n, generator=gen).to(dev)
            total = torch.zeros((), device=dev)
            seen = 0
            for b, lo in enumerate(range(0, n, batch_size)):
                idx = perm[lo:lo + batch_size]
                m = len(idx)
                if m == 1 and n > 1:
                    break
                xb, yb = x[idx], y[idx]
                if input_noise:
                    xb = _add_input_noise(xb, input_noise, noise_gen)
                noisy = (WeightNoise(weights, weight_noise, noise_gen) if weight_noise
                         else contextlib.nullcontext())
                with noisy:
                    with autocast():
                        out = model(xb)
                    loss = lik.loss(out.float(), yb)
                    if not torch.isfinite(loss):
                        diverged = (
                            f"Loss became {float(loss.detach())} at epoch {epoch}, batch {b} with "
                            f"lr={sched.lr:g}. Lower lr, clip gradients (clip_norm=1.0) or "
                            f"standardize the features."
                        )
                        break
                    objective = loss + l1 * l1_penalty(weights) if l1 else loss
                    opt.zero_grad(set_to_none=True)
                    objective.backward()
                if clip_norm is not None or clip_value is not None:
                    clip_(params, clip_norm, clip_value)
                if after_backward:
                    state.batch, state.loss = b, loss.detach()
                    for cb in after_backward:
                        cb.on_after_backward(state)
                opt.step()
                if max_norm is not None:
                    max_norm_(weights, max_norm)
                total += loss.detach() * m
                seen += m

            if diverged:
                state.history.append({"epoch": epoch, "train_loss": math.nan, "lr": epoch_lr,
                                      "seconds": time.perf_counter() - t0})
                state.stop, state.stop_reason = True, "diverged"
                break
            row: dict[str, float] = {"epoch": epoch, "train_loss": float(total) / max(seen, 1)}
            if valid is not None:
                row.update(_evaluate(model, xv, yv, lik, metrics, autocast))
            row["lr"] = epoch_lr
            row["seconds"] = time.perf_counter() - t0
            state.history.append(row)
            score = row[state.monitor]
            if score < state.best_score:
                state.best_epoch, state.best_score = epoch, score
                best_state = _clone_state(model)
            for cb in cbs:
                cb.on_epoch_end(state)
            sched.step(score if math.isfinite(score) else math.inf)
            if checkpoint is not None and (epoch % checkpoint_every == 0 or epoch == epochs
                                           or state.stop):
                _write_training_checkpoint(checkpoint, model, lik, opt, sched, gen, noise_gen,
                                           dev, state, best_state, cbs, config, epoch)

        message = ""
        if diverged:
            message = diverged + (f" Restored the weights of epoch {state.best_epoch}."
                                  if state.best_epoch else " Restored the initial weights.")
            model.load_state_dict(best_state)
            warnings.warn(message, RuntimeWarning, stacklevel=3)
        elif early_stopping is not None and state.best_epoch:
            model.load_state_dict(best_state)
        for cb in cbs:
            cb.on_fit_end(state)

    history = pd.DataFrame(state.history)
    columns = ["epoch", "train_loss", *(["valid_loss", *(f"valid_{m}" for m in metrics)]
                                        if valid is not None else []), "lr", "seconds"]
    history = history.reindex(columns=columns)
    history["epoch"] = history["epoch"].astype(int)
    return FitResult(model=model, history=history, best_epoch=state.best_epoch,
                     best_state=best_state, stop_reason=state.stop_reason, likelihood=lik,
                     message=message)


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


def fit_bagged(model: nn.Module, train: Any, valid: Any = None, *, n_members: int,
               seed: int = 0, **options: Any) -> FitResult:
    """Bagging: train ``n_members`` copies on bootstrap resamples and average them.

    Member k trains on N rows drawn with replacement from ``train`` (generator seeded
    with ``seed``) by ``fit(member, ..., seed=seed + k, **options)``. A model with a
    ``.spec`` is rebuilt for each member from that spec with torch's generator seeded
    to ``seed + k`` inside ``fork_rng`` (fresh, different initial weights; the
    caller's RNG state is untouched); any other module is deep-copied, so members start
    equal and differ by their data. Returns a :class:`FitResult` whose ``model`` is the
    :class:`~fnnlab.training.bagging.Ensemble`, ``history`` stacks the members' histories
    with a ``member`` column, and ``members`` holds their results.
    """
    check_positive_int("n_members", n_members)
    x, y, n_classes = as_xy(train, "train")
    gen = torch.Generator().manual_seed(seed)
    spec = getattr(model, "spec", None)
    results = []
    for k in range(n_members):
        if spec is not None:
            from fnnlab.models import build

            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed + k)
                member = build(spec)
        else:
            member = copy.deepcopy(model)
        rows = bootstrap_indices(len(x), gen)
        sample = types.SimpleNamespace(X=x[rows], y=y[rows], n_classes=n_classes)
        results.append(fit(member, sample, valid, seed=seed + k, **options))
    lik = results[0].likelihood
    ensemble = Ensemble([r.model for r in results], lik)
    history = pd.concat([r.history.assign(member=k) for k, r in enumerate(results)],
                        ignore_index=True)
    reasons = sorted({r.stop_reason for r in results})
    return FitResult(model=ensemble, history=history, best_epoch=None,
                     best_state=_clone_state(ensemble), stop_reason=", ".join(reasons),
                     likelihood=lik, members=results)
