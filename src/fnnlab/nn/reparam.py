"""Reparametrized linear layers: weight normalization and spectral normalization.

``REPARAMS.create(name, in_features, out_features, bias=True)`` returns a linear
layer with a ``.weight`` (a property for the reparametrized ones) and ``.bias``:

=================  =============================================================
``none``           ``torch.nn.Linear``
``weight_norm``    :class:`WeightNormLinear`, w = g * v / ||v|| (Salimans & Kingma 2016)
``spectral_norm``  ``nn.Linear`` under ``torch.nn.utils.parametrizations.spectral_norm``
                   (Miyato et al. 2018)
=================  =============================================================

:func:`data_dependent_init_` is weight normalization's data-dependent
initialization. It lives here, next to the layer whose parameters it sets.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from fnnlab.registry import Registry

__all__ = ["REPARAMS", "WeightNormLinear", "data_dependent_init_", "spectral_norm_linear"]

REPARAMS: Registry = Registry("reparam")

REPARAMS.register("none", "linear")(nn.Linear)


@REPARAMS.register("weight_norm", "weightnorm")
class WeightNormLinear(nn.Module):
    r"""Linear layer with weight normalization.

    y = x w^T + b,  w_j = g_j * v_j / ||v_j||  (one norm per output unit j, i.e. per row)

    The length g of each weight vector is decoupled from its direction v, so
    gradient descent on (v, g) sees a better-conditioned problem than on w.
    Shape: (N, in_features) -> (N, out_features).

    Parameters ``v`` (out, in), ``g`` (out,) and ``bias`` (out,) are plain leaf
    tensors, so writing to them (``layer.g.data.fill_(2)``, ``nn.init.*_(layer.v)``)
    changes the layer. ``weight`` is computed on every access: assign a whole new
    matrix with ``layer.weight = w`` (this sets v = w and g = ||w_j||); an in-place
    write into ``layer.weight`` only changes a temporary copy.

    Initialization (``reset_parameters``): v ~ N(0, 0.05^2) as in the paper, g = 1,
    b = 0. With g = 1 every row of w has unit length, so on whitened inputs the
    pre-activations already have variance close to 1; the paper's
    :func:`data_dependent_init_` then sets g and b from a real batch. The scale of v
    does not change the output, only the step size: dL/dv = (g / ||v||) (I - v v^T /
    ||v||^2) dL/dw.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool, default=True
        Learn b. Set to False when the layer is followed by mean-only batch norm,
        which has its own bias.

    References
    ----------
    Salimans & Kingma, "Weight Normalization: A Simple Reparameterization to
    Accelerate Training of Deep Neural Networks", NeurIPS 2016, arXiv:1602.07868.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        for key, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"WeightNormLinear: {key} must be an int, got {value!r}.")
            if value < 1:
                raise ValueError(f"WeightNormLinear: {key} must be >= 1, got {value}.")
        self.in_features = in_features
        self.out_features = out_features
        self.v = nn.Parameter(torch.empty(out_features, in_features))
        self.g = nn.Parameter(torch.empty(out_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """v ~ N(0, 0.05^2), g = 1, b = 0."""
        nn.init.normal_(self.v, mean=0.0, std=0.05)
        nn.init.ones_(self.g)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    @property
    def weight(self) -> Tensor:
        """The effective weight g * v / ||v|| (row-wise), shape (out, in)."""
        return self.g.unsqueeze(1) * self.v / self.v.norm(dim=1, keepdim=True)

    @weight.setter
    def weight(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"WeightNormLinear.weight must be a Tensor, got {type(value)}.")
        if value.shape != self.v.shape:
            raise ValueError(
                f"WeightNormLinear.weight must have shape {tuple(self.v.shape)}, got "
                f"{tuple(value.shape)}."
            )
        with torch.no_grad():
            self.v.copy_(value)
            self.g.copy_(value.norm(dim=1))

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


@REPARAMS.register("spectral_norm", "spectralnorm")
def spectral_norm_linear(
    in_features: int,
    out_features: int,
    bias: bool = True,
    n_power_iterations: int = 1,
    eps: float = 1e-12,
) -> nn.Linear:
    r"""``nn.Linear`` whose weight is divided by its largest singular value.

    w = w_raw / sigma(w_raw), sigma(w_raw) ~= u^T w_raw v, where u and v are estimates
    of the top singular vectors kept in buffers. Every training-mode forward does
    ``n_power_iterations`` steps of power iteration, v <- w^T u / ||w^T u||,
    u <- w v / ||w v||; in eval mode the stored u and v are reused, so outputs are
    deterministic. With one step per batch the estimate tracks w_raw as it trains;
    it is only close to the true sigma after a few forward passes (or more iterations).
    The layer is then 1-Lipschitz in its input. Uses
    ``torch.nn.utils.parametrizations.spectral_norm``; the raw weight is
    ``layer.parametrizations.weight.original``.

    References
    ----------
    Miyato, Kataoka, Koyama, Yoshida, "Spectral Normalization for Generative
    Adversarial Networks", ICLR 2018, arXiv:1802.05957.
    """
    if n_power_iterations < 1:
        raise ValueError(
            f"spectral_norm_linear: n_power_iterations must be >= 1, got {n_power_iterations}."
        )
    layer = nn.Linear(in_features, out_features, bias=bias)
    return nn.utils.parametrizations.spectral_norm(
        layer, n_power_iterations=n_power_iterations, eps=eps
    )


@torch.no_grad()
def data_dependent_init_(module: nn.Module, x: Tensor, eps: float = 1e-10) -> nn.Module:
    r"""Set g and b of every :class:`WeightNormLinear` from one batch, in forward order.

    For each weight-normalized layer, with t = v x / ||v|| its pre-activation at
    g = 1, b = 0, per unit over the batch mu = mean(t), sigma = sqrt(Var(t) + eps)
    (biased variance), set

        g = 1 / sigma,   b = -mu / sigma,

    so the layer's outputs on ``x`` have mean 0 and variance 1 per unit. The layers
    are initialized one after the other during a single forward pass: a hook on each
    layer sets its g and b, then hands the re-normalized output on, so every later
    layer measures statistics of an already-initialized network (as the paper's
    layer-by-layer procedure does). A layer without bias gets only g = 1 / sigma
    (the layer after it, e.g. mean-only batch norm, removes the mean). A layer
    called twice in one pass is initialized at its first call.

    The pass runs in the module's current mode; dropout in training mode adds noise
    to the statistics, and batch-norm layers in training mode update their running
    statistics with ``x``.

    Parameters
    ----------
    module : nn.Module
        A model containing WeightNormLinear layers (or one such layer).
    x : Tensor
        One representative batch of inputs, (N, in_features) with N >= 2.
    eps : float, default=1e-10
        Added to the variance (the paper's reference code uses 1e-10).

    Returns
    -------
    nn.Module
        ``module``, changed in place.

    References
    ----------
    Salimans & Kingma 2016, section 3 (arXiv:1602.07868).
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"data_dependent_init_ expects an nn.Module, got {type(module)}.")
    if not isinstance(x, Tensor):
        raise TypeError(f"data_dependent_init_ expects x as a Tensor, got {type(x)}.")
    if x.dim() < 1 or x.shape[0] < 2:
        raise ValueError(
            f"data_dependent_init_ needs a batch of at least 2 samples, got shape {tuple(x.shape)}."
        )
    layers = [m for m in module.modules() if isinstance(m, WeightNormLinear)]
    if not layers:
        warnings.warn(
            "data_dependent_init_ found no WeightNormLinear layer; nothing was changed.",
            stacklevel=3,  # 1: here, 2: torch.no_grad's wrapper, 3: caller
        )
        return module

    done: set[int] = set()

    def hook(layer: WeightNormLinear, args: tuple[Tensor, ...], _out: Tensor) -> Tensor | None:
        if id(layer) in done:
            return None
        done.add(id(layer))
        inp = args[0]
        direction = layer.v / layer.v.norm(dim=1, keepdim=True)
        t = F.linear(inp, direction)  # (N, out) at g = 1, b = 0
        t = t.reshape(-1, layer.out_features)
        mean = t.mean(dim=0)
        inv_std = 1.0 / torch.sqrt(t.var(dim=0, unbiased=False) + eps)
        # Copy into the leaf parameters themselves: writing into the computed
        # ``weight`` would only change a temporary (the trap torch's weight_norm has).
        layer.g.copy_(inv_std)
        if layer.bias is not None:
            layer.bias.copy_(-mean * inv_std)
        return F.linear(inp, layer.weight, layer.bias)

    handles = [layer.register_forward_hook(hook) for layer in layers]
    try:
        module(x)
    finally:
        for handle in handles:
            handle.remove()
    missed = [i for i, layer in enumerate(layers) if id(layer) not in done]
    if missed:
        warnings.warn(
            f"data_dependent_init_: {len(missed)} of {len(layers)} WeightNormLinear layers "
            f"were not called by the forward pass and keep their previous g and b.",
            stacklevel=3,
        )
    return module
