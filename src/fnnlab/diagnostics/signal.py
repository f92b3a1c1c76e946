"""Signal propagation: per-layer activation statistics and weight-gradient norms.

A deep network trains when the forward signal neither dies nor explodes from
layer to layer and the backward signal reaches every weight. This module
measures both on a batch, for any :class:`fnnlab.models.FNN` (or any module with
a ``hidden`` list of blocks), at initialization or at any point in training:

- mean and variance of each hidden block's output (a self-normalizing network
  keeps them near the fixed point (0, 1), Klambauer et al. 2017, Sec. 3),
- the fraction of saturated unit/sample pairs and of dead units (units whose
  activation is flat on every sample of the batch, the ReLU "dead neuron"),
- the norm of the loss gradient with respect to each block's weights.

Everything is read through forward hooks and ``torch.autograd.grad``; the model's
weights, ``.grad`` fields, buffers (batch-norm running statistics) and
train/eval mode are the same afterwards as before.
:class:`SignalCallback` logs the same table every ``k`` epochs of ``fnnlab.fit``
(the self-normalization check over training).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from fnnlab.nn.activations import ACTIVATIONS
from fnnlab.training.callbacks import Callback, FitState

__all__ = ["SignalCallback", "activation_modules", "signal_propagation"]

_MODES = ("train", "eval")


def activation_modules(block: nn.Module) -> list[nn.Module]:
    """The activation modules inside ``block`` (instances of an ``ACTIVATIONS`` entry).

    Identity activations are skipped: ``nn.Identity`` also stands for "no layer"
    (no norm, no dropout), so it cannot be told apart from a missing step.
    """
    classes = tuple(
        entry for name in ACTIVATIONS.names()
        if isinstance(entry := ACTIVATIONS.get(name), type) and entry is not nn.Identity
    )
    return [m for m in block.modules() if isinstance(m, classes)]


@contextmanager
def preserved_state(model: nn.Module) -> Iterator[None]:
    """Run a block of code and then restore ``model``'s buffers and train/eval modes.

    A forward pass in training mode updates batch-norm running statistics; a probe
    must not, so the buffers are copied before and written back after.
    """
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    modes = {m: m.training for m in model.modules()}
    try:
        yield
    finally:
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(buffers[name])
        for m, training in modes.items():
            m.training = training


def _slope(act: nn.Module, z: Tensor) -> Tensor | None:
    """Elementwise derivative act'(z), or None when ``act`` is not elementwise (maxout)."""
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        out = act.forward(z)  # .forward, not __call__: we are inside act's own hook
        if out.shape != z.shape:
            return None
        (slope,) = torch.autograd.grad(out.sum(), z)
    return slope.detach()


def _loss(out: Tensor, y: Tensor | None, likelihood: Any) -> Tensor:
    if y is None:
        # No targets: back-propagate d(mean_n sum_k f_k(x_n)) -- a unit upstream gradient
        # on every output, averaged over the batch like a loss.
        return out.sum() / out.shape[0]
    from fnnlab.likelihoods import resolve

    return resolve(likelihood, y).loss(out, y)


def signal_propagation(
    model: nn.Module,
    x: Tensor,
    y: Tensor | None = None,
    *,
    likelihood: Any = None,
    mode: str = "train",
    saturation_tol: float = 0.01,
) -> pd.DataFrame:
    r"""Per-hidden-layer activation statistics and weight-gradient norms on a batch.

    For hidden block :math:`l` with output :math:`h^{(l)} \in \mathbb{R}^{N \times F}`:

    - ``mean`` :math:`= \frac{1}{NF}\sum_{n,k} h^{(l)}_{nk}` and ``var`` the (biased)
      variance of all :math:`NF` entries around it. These are the moments the SELU
      theory tracks (Klambauer et al. 2017): a self-normalizing net keeps them near
      (0, 1) at every depth.
    - ``saturated_fraction``: share of (sample, unit) pairs whose activation slope
      :math:`|\phi'(z_{nk})|` is below ``saturation_tol`` (a ReLU unit with
      :math:`z \le 0`, a SELU far in its negative tail, a tanh near ±1).
    - ``dead_fraction``: share of units saturated on *every* sample of the batch;
      no gradient reaches their incoming weights (the ReLU "dead neuron").
      A block with several activations (residual: two) pools their units. Both
      fractions are NaN when the block has no elementwise activation (maxout).
    - ``grad_norm``: :math:`\lVert \partial L / \partial W^{(l)} \rVert_F` over every
      weight matrix (parameter with 2 dimensions) of the block, where :math:`L` is the
      likelihood's loss on ``(x, y)``, or, without ``y``, the batch mean of the summed
      outputs (a unit gradient on every output).

    Parameters
    ----------
    model : nn.Module
        An :class:`~fnnlab.models.FNN`, or any module with an iterable ``hidden`` of
        blocks that it applies in order.
    x : Tensor
        Input batch, shape (N, in_features).
    y : Tensor, optional
        Targets for the loss. None: unit upstream gradient (see above).
    likelihood : str or Likelihood, optional
        As in ``fnnlab.fit``; None infers it from ``y``'s dtype.
    mode : {"train", "eval"}, default="train"
        "train": normalization layers use the batch statistics (as in a training
        step) and dropout is active; "eval": running statistics, no dropout.
        Either way the model's buffers and mode are restored afterwards.
    saturation_tol : float, default=0.01
        Slope below which a unit counts as saturated on a sample.

    Returns
    -------
    pandas.DataFrame
        One row per hidden block: ``layer`` (0 = input layer), ``block`` (class name),
        ``mean``, ``var``, ``saturated_fraction``, ``dead_fraction``, ``grad_norm``.
    """
    hidden = getattr(model, "hidden", None)
    if hidden is None:
        raise TypeError(
            f"signal_propagation needs a model with a 'hidden' list of blocks (an fnnlab "
            f"FNN), got {type(model).__name__}."
        )
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}.")
    if not isinstance(x, Tensor) or x.dim() != 2:
        raise ValueError(
            f"x must be a 2-D tensor (N, in_features), got "
            f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}."
        )
    if saturation_tol < 0:
        raise ValueError(f"saturation_tol must be >= 0, got {saturation_tol}.")

    outputs: dict[int, Tensor] = {}
    slopes: dict[int, list[Tensor | None]] = {}
    handles = []

    def keep_output(index: int):
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            outputs[index] = output.detach()
        return hook

    def keep_slope(index: int):
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            slopes[index].append(_slope(module, inputs[0]))
        return hook

    with preserved_state(model):
        model.train(mode == "train")
        try:
            for i, block in enumerate(hidden):
                slopes[i] = []
                handles.append(block.register_forward_hook(keep_output(i)))
                for act in activation_modules(block):
                    handles.append(act.register_forward_hook(keep_slope(i)))
            with torch.enable_grad():
                out = model(x)
                loss = _loss(out, y, likelihood)
                weights = [[p for p in block.parameters() if p.dim() == 2 and p.requires_grad]
                           for block in hidden]
                flat = [p for ws in weights for p in ws]
                grads = torch.autograd.grad(loss, flat, allow_unused=True) if flat else ()
        finally:
            for h in handles:
                h.remove()

    rows = []
    k = 0
    for i, block in enumerate(hidden):
        h = outputs[i].float()
        sq = sum(float(g.pow(2).sum()) for g in grads[k:k + len(weights[i])] if g is not None)
        k += len(weights[i])
        layer_slopes = slopes[i]
        if layer_slopes and all(s is not None for s in layer_slopes):
            flat_units = torch.cat([s.reshape(s.shape[0], -1) for s in layer_slopes], dim=1)
            saturated = flat_units.abs() < saturation_tol  # (N, units)
            saturated_fraction = float(saturated.float().mean())
            dead_fraction = float(saturated.all(dim=0).float().mean())
        else:
            saturated_fraction = dead_fraction = float("nan")
        rows.append({
            "layer": i,
            "block": type(block).__name__,
            "mean": float(h.mean()),
            "var": float(h.var(unbiased=False)),
            "saturated_fraction": saturated_fraction,
            "dead_fraction": dead_fraction,
            "grad_norm": sq ** 0.5,
        })
    return pd.DataFrame(rows)


class SignalCallback(Callback):
    """Log :func:`signal_propagation` on a fixed probe batch every ``every`` epochs of fit.

    The self-normalization check over training: a SELU network should keep each
    layer's mean and variance near (0, 1) throughout training, not only at
    initialization. Epoch 0 (before training) is logged too.

    Parameters
    ----------
    x : Tensor
        Probe batch, shape (N, in_features); the same batch every time, so changes
        come from the weights, not the data.
    every : int, default=1
        Log after every ``every``-th epoch.
    y, likelihood, mode, saturation_tol :
        As in :func:`signal_propagation`.

    Attributes
    ----------
    history : pandas.DataFrame
        The stacked tables with an ``epoch`` column first.
    """

    def __init__(self, x: Tensor, every: int = 1, *, y: Tensor | None = None,
                 likelihood: Any = None, mode: str = "train",
                 saturation_tol: float = 0.01) -> None:
        if isinstance(every, bool) or not isinstance(every, int):
            raise TypeError(f"SignalCallback: every must be an int, got {every!r}.")
        if every < 1:
            raise ValueError(f"SignalCallback: every must be >= 1, got {every}.")
        self.x = x
        self.y = y
        self.every = every
        self.likelihood = likelihood
        self.mode = mode
        self.saturation_tol = saturation_tol
        self._rows: list[dict[str, Any]] = []

    def _log(self, state: FitState) -> None:
        table = signal_propagation(state.model, self.x, self.y, likelihood=self.likelihood,
                                   mode=self.mode, saturation_tol=self.saturation_tol)
        table.insert(0, "epoch", state.epoch)
        self._rows.extend(table.to_dict("records"))

    def on_fit_start(self, state: FitState, **kwargs: Any) -> None:
        if state.epoch == 0 and not self._rows:
            self._log(state)

    def on_epoch_end(self, state: FitState, **kwargs: Any) -> None:
        if state.epoch % self.every == 0:
            self._log(state)

    @property
    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self._rows)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": list(self._rows)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._rows = list(state["rows"])
