"""Weight initializers by name, LSUV, and the SELU initialization check.

``INITIALIZERS.get(name)`` is a function ``(weight) -> weight`` that fills a
(out_features, in_features) weight in place (under ``torch.no_grad``) and returns
it. fan_in is ``in_features``, fan_out is ``out_features``.

==================  ==========================================  =====================
name (aliases)      distribution                                 Var(w)
==================  ==========================================  =====================
``lecun_normal``    truncated normal at +-2 sd, rescaled         1 / fan_in
``he_normal``       normal (he, kaiming, kaiming_normal)         2 / fan_in
``he_uniform``      uniform (kaiming_uniform)                    2 / fan_in
``glorot_normal``   normal (xavier_normal)                       2 / (fan_in + fan_out)
``glorot_uniform``  uniform (glorot, xavier, xavier_uniform)     2 / (fan_in + fan_out)
``orthogonal``      rows (or columns) orthonormal                1 / fan_in if out <= in
``default``         torch's nn.Linear default                    1 / (3 fan_in)
==================  ==========================================  =====================

Note [SELU and calculate_gain]
------------------------------
Self-normalization (Klambauer et al. 2017) needs weights with mean 0 and variance
exactly 1 / fan_in (LeCun normal): then a SELU layer maps activations with mean 0
and variance 1 to mean 0 and variance 1, an attracting fixed point. PyTorch's
``torch.nn.init.calculate_gain('selu')`` returns 3/4, so
``kaiming_normal_(w, nonlinearity='selu')`` gives variance 9 / (16 fan_in). That
moves the fixed point away from variance 1, and a deep SELU net initialized that
way drifts to a smaller variance layer after layer (torch's docs say to use
``nonlinearity='linear'`` for SNNs). :func:`check_selu_init` warns when a SELU
network gets any initializer other than ``lecun_normal``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from fnnlab.nn.reparam import WeightNormLinear
from fnnlab.registry import Registry

__all__ = [
    "INITIALIZERS",
    "SELUInitWarning",
    "check_selu_init",
    "default_",
    "glorot_normal_",
    "glorot_uniform_",
    "he_normal_",
    "he_uniform_",
    "initialize_",
    "lecun_normal_",
    "lsuv_",
    "orthogonal_",
]

Initializer = Callable[[Tensor], Tensor]

INITIALIZERS: Registry = Registry("initializer")

# Var of a standard normal truncated to [-2, 2]: 1 - 2 * 2 * phi(2) / (Phi(2) - Phi(-2))
# = 0.7737. Dividing the sd by its square root (0.8796) restores the variance.
_TRUNC = 2.0
_TRUNC_VAR = 1.0 - 2.0 * _TRUNC * math.exp(-(_TRUNC**2) / 2) / math.sqrt(2 * math.pi) / math.erf(
    _TRUNC / math.sqrt(2)
)


def _check_weight(weight: Tensor, name: str) -> None:
    if not isinstance(weight, Tensor):
        raise TypeError(f"{name} expects a Tensor, got {type(weight).__name__}.")
    if weight.dim() < 2:
        raise ValueError(
            f"{name} needs a weight of shape (out_features, in_features), got shape "
            f"{tuple(weight.shape)}."
        )


@INITIALIZERS.register("lecun_normal", "lecun")
@torch.no_grad()
def lecun_normal_(weight: Tensor) -> Tensor:
    r"""LeCun normal: truncated normal with variance exactly 1 / fan_in.

    w ~ N(0, s^2) truncated to [-2 s, 2 s], s = sqrt(1 / fan_in) / 0.87962566. Truncating
    at two standard deviations shrinks the variance by 0.7737; the factor 0.8796 (its
    square root) puts it back, so Var(w) = 1 / fan_in, the SELU fixed point's
    requirement (see Note [SELU and calculate_gain]). Truncation only removes the rare
    large weights; the SNN theory depends on the weights' first two moments alone.
    Keras' ``lecun_normal`` does the same.

    References
    ----------
    LeCun, Bottou, Orr, Mueller, "Efficient BackProp", 1998; Klambauer, Unterthiner,
    Mayr, Hochreiter, "Self-Normalizing Neural Networks", NeurIPS 2017, arXiv:1706.02515.
    """
    _check_weight(weight, "lecun_normal_")
    std = math.sqrt(1.0 / weight.shape[1]) / math.sqrt(_TRUNC_VAR)
    return _trunc_normal_(weight, std)


def _trunc_normal_(weight: Tensor, std: float) -> Tensor:
    # Rejection sampling: redraw the ~4.6% of values outside +-2 std until none is left.
    # Same distribution as nn.init.trunc_normal_, whose inverse-CDF method (erfinv) is
    # about 50x slower on CPU (0.45 s for a 512 x 512 weight).
    # Only the redrawn positions are tested again (in row-major order, so the values are
    # those of redrawing over the whole matrix each round).
    out = weight if weight.is_contiguous() else torch.empty(
        weight.shape, dtype=weight.dtype, device=weight.device)
    flat = out.view(-1).normal_()
    index = torch.nonzero(flat.abs() > _TRUNC).squeeze(1)
    while index.numel():
        flat[index] = torch.randn(index.numel(), dtype=weight.dtype, device=weight.device)
        index = index[flat[index].abs() > _TRUNC]
    out.mul_(std)
    return weight if out is weight else weight.copy_(out)


@INITIALIZERS.register("he_normal", "he", "kaiming_normal", "kaiming")
@torch.no_grad()
def he_normal_(weight: Tensor) -> Tensor:
    r"""He normal for ReLU: w ~ N(0, 2 / fan_in) (gain sqrt(2), plain normal).

    References
    ----------
    He, Zhang, Ren, Sun, "Delving Deep into Rectifiers", ICCV 2015, arXiv:1502.01852.
    """
    _check_weight(weight, "he_normal_")
    return nn.init.kaiming_normal_(weight, mode="fan_in", nonlinearity="relu")


@INITIALIZERS.register("he_uniform", "kaiming_uniform")
@torch.no_grad()
def he_uniform_(weight: Tensor) -> Tensor:
    r"""He uniform for ReLU: w ~ U(-sqrt(6 / fan_in), sqrt(6 / fan_in)), Var = 2 / fan_in.

    References
    ----------
    He, Zhang, Ren, Sun, "Delving Deep into Rectifiers", ICCV 2015, arXiv:1502.01852.
    """
    _check_weight(weight, "he_uniform_")
    return nn.init.kaiming_uniform_(weight, mode="fan_in", nonlinearity="relu")


@INITIALIZERS.register("glorot_normal", "xavier_normal")
@torch.no_grad()
def glorot_normal_(weight: Tensor) -> Tensor:
    r"""Glorot normal: w ~ N(0, 2 / (fan_in + fan_out)).

    References
    ----------
    Glorot & Bengio, "Understanding the difficulty of training deep feedforward
    neural networks", AISTATS 2010.
    """
    _check_weight(weight, "glorot_normal_")
    return nn.init.xavier_normal_(weight)


@INITIALIZERS.register("glorot_uniform", "glorot", "xavier", "xavier_uniform")
@torch.no_grad()
def glorot_uniform_(weight: Tensor) -> Tensor:
    r"""Glorot uniform: w ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out)).

    References
    ----------
    Glorot & Bengio, AISTATS 2010.
    """
    _check_weight(weight, "glorot_uniform_")
    return nn.init.xavier_uniform_(weight)


@INITIALIZERS.register("orthogonal")
@torch.no_grad()
def orthogonal_(weight: Tensor) -> Tensor:
    r"""(Semi-)orthogonal weight, gain 1: W W^T = I if out <= in, else W^T W = I.

    References
    ----------
    Saxe, McClelland, Ganguli, "Exact solutions to the nonlinear dynamics of learning
    in deep linear neural networks", ICLR 2014, arXiv:1312.6120.
    """
    _check_weight(weight, "orthogonal_")
    return nn.init.orthogonal_(weight)


@INITIALIZERS.register("default", "torch")
@torch.no_grad()
def default_(weight: Tensor) -> Tensor:
    r"""Torch's ``nn.Linear`` default: kaiming_uniform with a = sqrt(5).

    w ~ U(-1 / sqrt(fan_in), 1 / sqrt(fan_in)), Var = 1 / (3 fan_in): a third of
    LeCun's variance, so deep nets with it shrink their signal.
    """
    _check_weight(weight, "default_")
    return nn.init.kaiming_uniform_(weight, a=math.sqrt(5))


def _linear_like(module: nn.Module) -> list[nn.Module]:
    """Submodules with a 2-D ``weight`` (weight-normalized layers excluded), in order."""
    found = []
    for m in module.modules():
        if isinstance(m, WeightNormLinear):
            continue
        weight = getattr(m, "weight", None)
        if isinstance(weight, Tensor) and weight.dim() == 2:
            found.append(m)
    return found


@torch.no_grad()
def _set_weight(layer: nn.Module, fill: Callable[[Tensor], Tensor]) -> None:
    if parametrize.is_parametrized(layer, "weight"):
        # ``layer.weight`` is recomputed from the original(s) at every access: filling
        # it in place would be a silent no-op. Assigning goes through right_inverse.
        layer.weight = fill(torch.empty_like(layer.weight))
    else:
        fill(layer.weight)


def initialize_(module: nn.Module, name: str | Initializer) -> nn.Module:
    """Apply an initializer to every linear-like weight of ``module``; zero the biases.

    Linear-like: every submodule with a 2-D ``weight`` (``nn.Linear`` and friends),
    except :class:`~fnnlab.nn.WeightNormLinear`, whose v, g and b have their own
    initialization (:func:`~fnnlab.nn.data_dependent_init_`). For a parametrized
    weight (e.g. spectral norm) the new matrix is assigned through the
    parametrization, so it is not lost.

    Parameters
    ----------
    module : nn.Module
    name : str or callable
        A name from ``INITIALIZERS`` or a function ``(weight) -> weight``.

    Returns
    -------
    nn.Module
        ``module``, changed in place.
    """
    fill = INITIALIZERS.get(name)
    if not callable(fill):
        raise TypeError(f"initialize_: expected an initializer name or function, got {name!r}.")
    with torch.no_grad():
        for layer in _linear_like(module):
            _set_weight(layer, fill)
            bias = getattr(layer, "bias", None)
            if isinstance(bias, Tensor):
                bias.zero_()
    return module


def _forward_order(model: nn.Module, x: Tensor, layers: list[nn.Module]) -> list[nn.Module]:
    order: list[nn.Module] = []
    seen: set[int] = set()

    def record(layer: nn.Module, _args: object, _out: object) -> None:
        if id(layer) not in seen:
            seen.add(id(layer))
            order.append(layer)

    handles = [layer.register_forward_hook(record) for layer in layers]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return order


def _output_var(model: nn.Module, layer: nn.Module, x: Tensor) -> float:
    captured: list[Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _a, out: captured.append(out))
    try:
        model(x)
    finally:
        handle.remove()
    return float(captured[0].var(unbiased=False))


@torch.no_grad()
def _scale(layer: nn.Module, factor: float) -> None:
    if isinstance(layer, WeightNormLinear):
        layer.g.mul_(factor)  # ``weight`` is computed from g: scale the parameter
    elif parametrize.is_parametrized(layer, "weight"):
        layer.weight = layer.weight * factor
    else:
        layer.weight.mul_(factor)


@torch.no_grad()
def lsuv_(model: nn.Module, x: Tensor, tol: float = 0.1, max_iter: int = 10) -> nn.Module:
    r"""Layer-sequential unit-variance (LSUV) initialization.

    1. Initialize every linear-like weight orthogonally and zero the biases
       (:func:`initialize_` with ``"orthogonal"``).
    2. For each linear-like layer, in the order the forward pass reaches it:
       while ``|Var(B) - 1| >= tol`` and fewer than ``max_iter`` rescalings were made,
       run ``x`` through the model and set W <- W / sqrt(Var(B)), where B is the
       layer's output on the batch (variance over all its entries).

    Weight-normalized layers keep their direction v and have g rescaled instead.
    The passes run in the model's current mode; call ``model.eval()`` first to
    measure without dropout noise. A layer that does not reach the tolerance (or
    whose output is constant) triggers a warning.

    Parameters
    ----------
    model : nn.Module
    x : Tensor
        One batch of inputs (the paper uses a single minibatch).
    tol : float, default=0.1
        Accepted ``|Var(B) - 1|``.
    max_iter : int, default=10
        Rescalings per layer.

    Returns
    -------
    nn.Module
        ``model``, changed in place.

    References
    ----------
    Mishkin & Matas, "All you need is a good init", ICLR 2016, arXiv:1511.06422.
    """
    if tol <= 0:
        raise ValueError(f"lsuv_: tol must be > 0, got {tol}.")
    if max_iter < 1:
        raise ValueError(f"lsuv_: max_iter must be >= 1, got {max_iter}.")
    initialize_(model, orthogonal_)
    candidates = _linear_like(model) + [
        m for m in model.modules() if isinstance(m, WeightNormLinear)
    ]
    for index, layer in enumerate(_forward_order(model, x, candidates)):
        for step in range(max_iter + 1):
            var = _output_var(model, layer, x)
            if abs(var - 1.0) < tol:
                break
            if var <= 0.0 or not math.isfinite(var) or step == max_iter:
                warnings.warn(
                    f"lsuv_: layer {index} ({type(layer).__name__}) has output variance "
                    f"{var:.4g} after {step} rescalings, not 1 +- {tol}.",
                    stacklevel=3,
                )
                break
            _scale(layer, 1.0 / math.sqrt(var))
    return model


class SELUInitWarning(UserWarning):
    """A SELU network got an initializer other than LeCun normal."""


def check_selu_init(init: str | Initializer, *, stacklevel: int = 2) -> None:
    """Warn if ``init`` is not ``lecun_normal``, for a network with SELU activations.

    See Note [SELU and calculate_gain]: self-normalization holds only for weights
    with variance 1 / fan_in; any other scale moves the activations' fixed point
    away from mean 0, variance 1, and a deep net drifts.

    Parameters
    ----------
    init : str or callable
        The initializer the network is about to be built with. Unknown names raise.
    stacklevel : int, default=2
        As in ``warnings.warn``: 2 points at the line calling this function; a
        builder passes 3 to point at its own caller.
    """
    fill = INITIALIZERS.get(init)
    if fill is lecun_normal_:
        return
    label = init if isinstance(init, str) else getattr(init, "__name__", repr(init))
    warnings.warn(
        f"SELU network initialized with {label!r} instead of 'lecun_normal'. "
        "Self-normalization needs weights with variance exactly 1/fan_in; another "
        "scale moves the fixed point of the activations away from mean 0, variance 1, "
        "and a deep net drifts layer after layer (torch's calculate_gain('selu') = 3/4 "
        "gives 9/16 of it). Use init='lecun_normal', or silence this with "
        "warnings.simplefilter('ignore', fnnlab.nn.SELUInitWarning).",
        SELUInitWarning,
        stacklevel=stacklevel,
    )
