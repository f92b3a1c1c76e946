r"""Optimizers by name, with the textbook defaults.

Every entry of :data:`OPTIMIZERS` is a factory ``(params, lr, *, weight_decay=0.0,
**options) -> torch.optim.Optimizer`` around torch's implementation:

============  ==============================================================  =============
name          update (g: minibatch gradient, ε: lr)                           torch class
============  ==============================================================  =============
sgd           θ ← θ - ε g                                                     SGD
momentum      v ← α v + g,  θ ← θ - ε v  (α = 0.9; v → g / (1 - α))           SGD
nesterov      as momentum, g taken at the look-ahead point θ - ε α v          SGD(nesterov)
adagrad       r ← r + g²,  θ ← θ - ε g / (δ + √r)                             Adagrad
adadelta      ε scales Zeiler's unit-correct step (ε = 1 is the paper's)      Adadelta
rmsprop       r ← ρ r + (1 - ρ) g²,  θ ← θ - ε g / (δ + √r)  (ρ = 0.99)        RMSprop
adam          s ← β1 s + (1-β1) g, r ← β2 r + (1-β2) g², bias-corrected ŝ, r̂,  Adam
              θ ← θ - ε ŝ / (δ + √r̂)   (β1 = 0.9, β2 = 0.999, δ = 1e-8)
adamw         Adam with weight decay decoupled from the gradient              AdamW
============  ==============================================================  =============

``weight_decay = λ`` adds λθ to the gradient (it minimizes J(θ) + λ/2 ‖θ‖²); for
``adamw`` it shrinks θ by ε λ θ each step instead (Loshchilov & Hutter, 2019), which
behaves better with adaptive step sizes. Torch's nesterov form v ← α v + g,
θ ← θ - ε (g + α v) is Sutskever et al.'s reparametrization of the look-ahead step.

References
----------
Goodfellow, Bengio, Courville, "Deep Learning", 2016, chapter 8 (notes 002).
Kingma, Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
Zeiler, "ADADELTA: An Adaptive Learning Rate Method", 2012, arXiv:1212.5701.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from fnnlab.registry import Registry

__all__ = ["OPTIMIZERS", "make_optimizer"]

OPTIMIZERS: Registry = Registry("optimizer")

Params = Iterable[torch.nn.Parameter] | Iterable[dict[str, Any]]


@OPTIMIZERS.register("sgd")
def sgd(params: Params, lr: float, *, weight_decay: float = 0.0, **options: Any):
    """Plain minibatch SGD: θ ← θ - ε g."""
    return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, **options)


@OPTIMIZERS.register("momentum")
def momentum(params: Params, lr: float, *, weight_decay: float = 0.0, momentum: float = 0.9,
             **options: Any):
    """SGD with (heavy-ball) momentum α = 0.9."""
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                           **options)


@OPTIMIZERS.register("nesterov", "nag")
def nesterov(params: Params, lr: float, *, weight_decay: float = 0.0, momentum: float = 0.9,
             **options: Any):
    """SGD with Nesterov momentum α = 0.9 (gradient at the look-ahead point)."""
    return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=True,
                           weight_decay=weight_decay, **options)


@OPTIMIZERS.register("adagrad")
def adagrad(params: Params, lr: float, *, weight_decay: float = 0.0, eps: float = 1e-10,
            **options: Any):
    """AdaGrad (Duchi et al., 2011): per-parameter steps shrink with the summed g²."""
    return torch.optim.Adagrad(params, lr=lr, eps=eps, weight_decay=weight_decay, **options)


@OPTIMIZERS.register("adadelta")
def adadelta(params: Params, lr: float, *, weight_decay: float = 0.0, rho: float = 0.9,
             eps: float = 1e-6, **options: Any):
    """AdaDelta (Zeiler, 2012), ρ = 0.9; ``lr`` multiplies the step, 1.0 is the paper's."""
    return torch.optim.Adadelta(params, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                **options)


@OPTIMIZERS.register("rmsprop")
def rmsprop(params: Params, lr: float, *, weight_decay: float = 0.0, alpha: float = 0.99,
            eps: float = 1e-8, **options: Any):
    """RMSProp (Tieleman & Hinton, 2012): steps divided by a moving RMS of g, ρ = 0.99."""
    return torch.optim.RMSprop(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                               **options)


@OPTIMIZERS.register("adam")
def adam(params: Params, lr: float, *, weight_decay: float = 0.0,
         betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, **options: Any):
    """Adam (Kingma & Ba, 2015) with β1 = 0.9, β2 = 0.999, δ = 1e-8."""
    return torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=eps,
                            weight_decay=weight_decay, **options)


@OPTIMIZERS.register("adamw")
def adamw(params: Params, lr: float, *, weight_decay: float = 0.0,
          betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, **options: Any):
    """AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay."""
    return torch.optim.AdamW(params, lr=lr, betas=tuple(betas), eps=eps,
                             weight_decay=weight_decay, **options)


def make_optimizer(optimizer: str | Any, params: Params, lr: float, *,
                   weight_decay: float = 0.0, **options: Any) -> torch.optim.Optimizer:
    """Build the optimizer named ``optimizer`` (or call a factory / optimizer class).

    Parameters
    ----------
    optimizer : str or callable
        A name from :data:`OPTIMIZERS`, or a callable such as ``torch.optim.SGD`` that
        accepts ``(params, lr=..., weight_decay=..., **options)``.
    params : iterable
        Parameters or parameter groups.
    lr : float
        Learning rate ε > 0. For plain SGD on a loss whose gradient is K-Lipschitz,
        gradient descent only converges for 0 < ε < 2/K (notes 002).
    weight_decay : float, default=0.0
        L2 coefficient λ ≥ 0.
    **options
        Passed to the optimizer (``betas``, ``momentum``, ``eps``, ...).
    """
    if not (isinstance(lr, int | float) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}.")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}.")
    if isinstance(optimizer, str):
        factory = OPTIMIZERS.get(optimizer)
        try:
            return factory(params, lr, weight_decay=weight_decay, **options)
        except TypeError as error:
            raise ValueError(
                f"Optimizer {optimizer!r} does not accept options {sorted(options)}: {error}"
            ) from None
    if callable(optimizer):
        return optimizer(params, lr=lr, weight_decay=weight_decay, **options)
    raise TypeError(
        f"optimizer must be a name ({', '.join(OPTIMIZERS.names())}) or a callable, got "
        f"{type(optimizer).__name__}."
    )
