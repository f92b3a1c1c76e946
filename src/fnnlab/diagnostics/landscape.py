r"""Loss landscapes: smoothness along the training trajectory, and loss surfaces.

Two views of why batch normalization and skip connections help a deep net train:

- :func:`loss_smoothness`, after Santurkar et al. (2018): at chosen steps of plain
  SGD, move from the current weights along the negative gradient by several step
  sizes and record how much the loss varies (its "Lipschitzness" along the step) and
  how much the gradient changes (the "effective β-smoothness"). Batch norm makes
  both smaller, so larger steps stay predictive.
- :func:`loss_surface_1d` / :func:`loss_surface_2d`, after Li et al. (2018): the loss
  on a line or plane through the trained weights along random *filter-normalized*
  directions (:func:`filter_normalized_direction`), which makes surfaces of
  differently scaled nets comparable. Skip connections make the surface of a deep
  net convex-looking where a plain net's is chaotic.

All evaluations go through ``torch.func.functional_call`` on copies of the weights
and buffers, so the model passed in is never changed.

References
----------
Santurkar, Tsipras, Ilyas, Madry, "How Does Batch Normalization Help Optimization?",
NeurIPS 2018, arXiv:1805.11604 (Sec. 3.1, Fig. 4).
Li, Xu, Taylor, Studer, Goldstein, "Visualizing the Loss Landscape of Neural Nets",
NeurIPS 2018, arXiv:1712.09913 (Sec. 4, filter normalization).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.func import functional_call

from fnnlab.likelihoods import Likelihood, resolve

__all__ = [
    "filter_normalized_direction",
    "loss_smoothness",
    "loss_surface_1d",
    "loss_surface_2d",
]

Direction = dict[str, Tensor]

_CHUNK = 4096  # rows per forward pass when evaluating a loss on a whole data set


def _check_xy(X: Tensor, y: Tensor) -> None:
    if not isinstance(X, Tensor) or not isinstance(y, Tensor):
        raise TypeError(f"X and y must be tensors, got {type(X).__name__} and "
                        f"{type(y).__name__}.")
    if X.dim() != 2 or len(X) != len(y) or len(X) == 0:
        raise ValueError(f"X must be (N, F) with N = len(y) > 0, got X {tuple(X.shape)} and "
                         f"y {tuple(y.shape)}.")


def filter_normalized_direction(model: nn.Module, *, seed: int = 0) -> Direction:
    r"""A random direction in weight space, normalized filter by filter (Li et al. 2018).

    For every weight matrix :math:`W` (a parameter with 2 dimensions, shape (out, in))
    the direction :math:`D` is drawn from N(0, 1) and each row is rescaled,

    .. math:: D_{k\cdot} \leftarrow \frac{D_{k\cdot}}{\lVert D_{k\cdot}\rVert}
              \lVert W_{k\cdot}\rVert ,

    because in a fully connected layer a "filter" is the weight row that produces one
    neuron (Li et al., Sec. 4: a conv filter generates one feature map). A step of size
    1 along D then moves every neuron's weights by their own norm, so surfaces of nets
    whose layers are scaled differently (e.g. by batch norm's scale invariance) can be
    compared. Biases, normalization scales and shifts, weight-norm gains ``g`` and
    highway gate offsets (parameters with one dimension) get a zero direction, as in
    the paper. For a weight-normalized layer the rows of its direction ``v`` are the
    filters.

    Returns a dict from parameter name (``model.named_parameters()``) to a tensor of
    the parameter's shape.
    """
    gen = torch.Generator().manual_seed(seed)
    direction: Direction = {}
    for name, p in model.named_parameters():
        p = p.detach()
        if p.dim() == 2:
            d = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            d_norm = d.norm(dim=1, keepdim=True)
            d = d / d_norm * p.double().norm(dim=1, keepdim=True)
            direction[name] = d.to(p.dtype)
        else:
            direction[name] = torch.zeros_like(p)
    return direction


def _batched_loss(model: nn.Module, params: dict[str, Tensor], buffers: dict[str, Tensor],
                  X: Tensor, y: Tensor, likelihood: Likelihood) -> float:
    total = 0.0
    for start in range(0, len(X), _CHUNK):
        xb, yb = X[start:start + _CHUNK], y[start:start + _CHUNK]
        out = functional_call(model, (params, buffers), (xb,))
        total += float(likelihood.loss(out, yb)) * len(xb)
    return total / len(X)


def _grid(grid: Sequence[float] | None) -> np.ndarray:
    values = np.linspace(-1.0, 1.0, 51) if grid is None else np.asarray(grid, dtype=float)
    if values.ndim != 1 or len(values) == 0 or not np.all(np.isfinite(values)):
        raise ValueError("grid must be a non-empty 1-D sequence of finite numbers.")
    return values


def _check_direction(model: nn.Module, direction: Direction, what: str) -> None:
    for name, p in model.named_parameters():
        if name not in direction or direction[name].shape != p.shape:
            raise ValueError(
                f"{what} must map every parameter name to a tensor of its shape; "
                f"{name!r} is missing or has the wrong shape. Use "
                f"filter_normalized_direction(model)."
            )


@torch.no_grad()
def _surface(model: nn.Module, X: Tensor, y: Tensor, likelihood: Any,
             directions: list[Direction], points: list[tuple[float, ...]]) -> list[float]:
    _check_xy(X, y)
    lik = resolve(likelihood, y)
    was_training = model.training
    model.eval()  # running statistics as trained, no dropout
    try:
        base = {n: p.detach() for n, p in model.named_parameters()}
        buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
        losses = []
        for coords in points:
            params = {n: base[n] + sum(c * d[n] for c, d in zip(coords, directions, strict=True))
                      for n in base}
            losses.append(_batched_loss(model, params, buffers, X, y, lik))
    finally:
        model.train(was_training)
    return losses


def loss_surface_1d(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    *,
    likelihood: Any = None,
    direction: Direction | None = None,
    grid: Sequence[float] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    r"""The loss :math:`f(\alpha) = L(\theta + \alpha \delta)` on a line through the weights.

    :math:`\delta` is :func:`filter_normalized_direction` (seeded by ``seed``) unless
    ``direction`` is given. The model is evaluated in eval mode (batch-norm running
    statistics kept as trained, dropout off) on all of ``(X, y)``; ``likelihood`` is as
    in ``fnnlab.fit`` (None: inferred from ``y``). The default grid is 51 points on
    [-1, 1], so :math:`\alpha = 0` is the model itself.

    Returns columns ``alpha``, ``loss``.
    """
    if direction is None:
        direction = filter_normalized_direction(model, seed=seed)
    _check_direction(model, direction, "direction")
    alphas = _grid(grid)
    losses = _surface(model, X, y, likelihood, [direction], [(float(a),) for a in alphas])
    return pd.DataFrame({"alpha": alphas, "loss": losses})


def loss_surface_2d(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    *,
    likelihood: Any = None,
    directions: tuple[Direction, Direction] | None = None,
    grid: Sequence[float] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    r"""The loss :math:`f(\alpha, \beta) = L(\theta + \alpha \delta + \beta \eta)` on a plane.

    :math:`\delta` and :math:`\eta` are two independent filter-normalized directions
    (seeds ``seed`` and ``seed + 1``) unless ``directions`` is given; in high dimension
    they are nearly orthogonal (Li et al. 2018, Sec. 4). Evaluation as in
    :func:`loss_surface_1d`; the same ``grid`` (default 51 points on [-1, 1]) is used
    for both axes, so the default costs 51² = 2601 passes over ``X``.

    Returns columns ``alpha``, ``beta``, ``loss`` (one row per grid point).
    """
    if directions is None:
        directions = (filter_normalized_direction(model, seed=seed),
                      filter_normalized_direction(model, seed=seed + 1))
    if len(directions) != 2:
        raise ValueError(f"directions must be a pair, got {len(directions)}.")
    for d in directions:
        _check_direction(model, d, "directions")
    values = _grid(grid)
    points = [(float(a), float(b)) for a in values for b in values]
    losses = _surface(model, X, y, likelihood, list(directions), points)
    return pd.DataFrame({"alpha": [p[0] for p in points], "beta": [p[1] for p in points],
                         "loss": losses})


def _loss_and_grad(model: nn.Module, params: dict[str, Tensor], buffers: dict[str, Tensor],
                   xb: Tensor, yb: Tensor, lik: Likelihood,
                   names: list[str]) -> tuple[float, list[Tensor]]:
    """Loss on (xb, yb) and its gradient with respect to the parameters ``names``."""
    params = {n: p.detach().requires_grad_(n in names) for n, p in params.items()}
    # Clone the buffers: a training-mode probe must not move the running statistics.
    buffers = {n: b.clone() for n, b in buffers.items()}
    with torch.enable_grad():
        loss = lik.loss(functional_call(model, (params, buffers), (xb,)), yb)
        grads = torch.autograd.grad(loss, [params[n] for n in names], allow_unused=True)
    grads = [torch.zeros_like(params[n]) if g is None else g
             for n, g in zip(names, grads, strict=True)]
    return float(loss.detach()), grads


def _flat_norm(tensors: Sequence[Tensor]) -> float:
    return math.sqrt(sum(float(t.double().pow(2).sum()) for t in tensors))


def loss_smoothness(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    *,
    likelihood: Any = None,
    lr: float = 0.05,
    steps: int = 100,
    every: int = 10,
    batch_size: int = 128,
    step_sizes: Sequence[float] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    r"""Loss variation and gradient change along the gradient, over an SGD trajectory.

    A copy of ``model`` is trained by plain SGD (learning rate ``lr``, minibatches of
    ``batch_size`` rows reshuffled every epoch with a generator seeded by ``seed``, in
    training mode) for ``steps`` updates. At steps 0, ``every``, 2 ``every``, ... and
    on that step's minibatch :math:`B`, with :math:`g = \nabla L_B(\theta_t)`, it probes
    the points :math:`\theta_t - \eta g` for every :math:`\eta` in ``step_sizes``
    (default ``lr`` × (0.5, 1, 2, 3, 4): the step the optimizer takes and larger ones),
    in training mode (batch statistics of B, as the update sees them; the running
    statistics are not touched), and records (Santurkar et al. 2018, Fig. 4):

    - ``loss_min``, ``loss_max``, ``loss_range``: the range of
      :math:`L_B(\theta_t - \eta g)` over the probes (the loss "Lipschitzness": a
      smooth landscape changes the loss predictably, a rough one jumps);
    - ``grad_change``: :math:`\max_\eta \lVert \nabla L_B(\theta_t - \eta g) - g \rVert`
      (gradient predictiveness);
    - ``beta_smoothness``: :math:`\max_\eta \lVert \nabla L_B(\theta_t - \eta g) - g \rVert
      / \lVert \eta g \rVert`, the effective β-smoothness along the trajectory;
    - ``loss`` (:math:`L_B(\theta_t)`) and ``grad_norm`` (:math:`\lVert g \rVert`).

    Parameters with ``requires_grad=False`` are held fixed. ``model`` itself is left
    unchanged. If the loss stops being finite, training stops
    with a warning and the rows so far are returned.

    Returns one row per probed step: ``step``, ``loss``, ``grad_norm``, ``loss_min``,
    ``loss_max``, ``loss_range``, ``grad_change``, ``beta_smoothness``.
    """
    _check_xy(X, y)
    for name, value in (("steps", steps), ("every", every), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}.")
    etas = [lr * f for f in (0.5, 1.0, 2.0, 3.0, 4.0)] if step_sizes is None \
        else [float(e) for e in step_sizes]
    if not etas or any(not e > 0 for e in etas):
        raise ValueError(f"step_sizes must be positive numbers, got {step_sizes!r}.")
    lik = resolve(likelihood, y)
    was_training = model.training
    model.train()
    try:
        # Frozen parameters (requires_grad=False) stay fixed, as an optimizer would keep them.
        names = [n for n, p in model.named_parameters() if p.requires_grad]
        params = {n: p.detach().clone() for n, p in model.named_parameters()}
        buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
        gen = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(X), generator=gen)
        cursor = 0
        rows = []
        for step in range(steps + 1):
            if cursor + batch_size > len(X):
                order, cursor = torch.randperm(len(X), generator=gen), 0
            idx = order[cursor:cursor + batch_size]
            cursor += batch_size
            xb, yb = X[idx], y[idx]
            probe = step % every == 0
            if probe or step < steps:
                loss, grads = _loss_and_grad(model, params, buffers, xb, yb, lik, names)
                if not math.isfinite(loss):
                    warnings.warn(f"loss_smoothness: the loss became {loss} at step {step} "
                                  f"with lr={lr}; stopping. Lower lr.", stacklevel=2)
                    break
            if probe:
                rows.append(_probe(model, params, buffers, xb, yb, lik, names, loss, grads,
                                   etas, step))
            if step < steps:
                # The SGD update itself runs the model once more on the same minibatch so
                # the running statistics move as in ordinary training.
                with torch.no_grad():
                    functional_call(model, (params, buffers), (xb,))
                    params.update({n: params[n] - lr * g
                                   for n, g in zip(names, grads, strict=True)})
    finally:
        model.train(was_training)
    return pd.DataFrame(rows)


def _probe(model: nn.Module, params: dict[str, Tensor], buffers: dict[str, Tensor],
           xb: Tensor, yb: Tensor, lik: Likelihood, names: list[str], loss: float,
           grads: list[Tensor], etas: list[float], step: int) -> dict[str, float]:
    g_norm = _flat_norm(grads)
    losses, changes, betas = [], [], []
    for eta in etas:
        moved = dict(params)
        moved.update({n: params[n] - eta * g for n, g in zip(names, grads, strict=True)})
        l_eta, g_eta = _loss_and_grad(model, moved, buffers, xb, yb, lik, names)
        change = _flat_norm([a - b for a, b in zip(g_eta, grads, strict=True)])
        losses.append(l_eta)
        changes.append(change)
        betas.append(change / (eta * g_norm) if g_norm > 0 else float("nan"))
    return {"step": step, "loss": loss, "grad_norm": g_norm, "loss_min": min(losses),
            "loss_max": max(losses), "loss_range": max(losses) - min(losses),
            "grad_change": max(changes), "beta_smoothness": max(betas)}
