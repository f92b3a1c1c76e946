r"""Dropout variants, looked up by name in ``DROPOUTS``: ``DROPOUTS.create(name, p, **kw)``.

- ``dropout``: torch's ``nn.Dropout`` (Srivastava et al. 2014), inverted scaling.
- ``gaussian``: multiplicative Gaussian noise with the same mean and variance as
  dropout's (Srivastava et al. 2014, Section 10).
- ``alpha_dropout``: dropout for SELU networks that keeps a fixed point's mean
  and variance, for any SELU parameters (Klambauer et al. 2017).

Every module here is the identity in eval mode and at ``p = 0``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from fnnlab.registry import Registry
from fnnlab.theory import ALPHA, SCALE, alpha_dropout_affine

__all__ = ["DROPOUTS", "AlphaDropout", "GaussianDropout"]

DROPOUTS: Registry[type[nn.Module]] = Registry("dropout")
DROPOUTS.register("dropout")(nn.Dropout)


def _check_rate(cls: str, p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, int | float):
        raise TypeError(f"{cls} p must be a float, got {type(p).__name__}.")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{cls} p must be in [0, 1), got {p}.")
    return float(p)


@DROPOUTS.register("gaussian")
class GaussianDropout(nn.Module):
    r"""Multiply each unit by Gaussian noise with mean 1 (training only).

    y = x * e,  e ~ N(1, p / (1 - p))
    Shape: any -> same shape.

    The noise has the mean and variance of inverted dropout's mask
    ``Bernoulli(1 - p) / (1 - p)``, so ``p`` reads as a drop rate.

    Parameters
    ----------
    p : float, default=0.5
        Equivalent drop rate, in [0, 1).

    References
    ----------
    Srivastava, Hinton, Krizhevsky, Sutskever, Salakhutdinov, "Dropout: A Simple
    Way to Prevent Neural Networks from Overfitting", JMLR 15, 2014, Section 10.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = _check_rate("GaussianDropout", p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        std = math.sqrt(self.p / (1.0 - self.p))
        return x * (1.0 + std * torch.randn_like(x))

    def extra_repr(self) -> str:
        return f"p={self.p}"


@DROPOUTS.register("alpha_dropout")
class AlphaDropout(nn.Module):
    r"""Alpha dropout for SELU networks at any fixed point (training only).

    x' = d * x + (1 - d) * (-scale * alpha),  d ~ Bernoulli(1 - p)
    y  = a * x' + b
    Shape: any -> same shape.

    Dropped units take SELU's saturation value ``-scale * alpha``, not 0: that is
    the value a SELU outputs for a strongly negative input, so the dropped
    distribution stays one a SELU layer produces. ``a`` and ``b`` come from
    :func:`fnnlab.theory.alpha_dropout_affine` and restore the mean ``mean`` and
    variance ``var`` of the inputs, so a SELU net stays at its fixed point.

    Parameters
    ----------
    p : float, default=0.5
        Drop rate, in [0, 1).
    alpha, scale : float
        Parameters of the SELU in front of this layer (defaults: the paper's
        constants for the fixed point (0, 1)).
    mean, var : float, default=0.0, 1.0
        The fixed point, i.e. the mean and variance the inputs are expected to have.

    References
    ----------
    Klambauer, Unterthiner, Mayr, Hochreiter, "Self-Normalizing Neural Networks",
    NeurIPS 2017, arXiv:1706.02515, Section "New dropout technique".
    """

    def __init__(
        self,
        p: float = 0.5,
        alpha: float = ALPHA,
        scale: float = SCALE,
        mean: float = 0.0,
        var: float = 1.0,
    ) -> None:
        super().__init__()
        self.p = _check_rate("AlphaDropout", p)
        if not alpha > 0 or not scale > 0:
            raise ValueError(f"AlphaDropout alpha and scale must be > 0, got {alpha}, {scale}.")
        self.alpha = float(alpha)
        self.scale = float(scale)
        self.mean = float(mean)
        self.var = float(var)
        self.a, self.b = alpha_dropout_affine(self.p, self.alpha, self.scale, self.mean, self.var)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        # Same draw as torch's alpha_dropout (empty_like(x).bernoulli_(1 - p)), so with a
        # shared seed both drop the same units.
        keep = torch.empty_like(x).bernoulli_(1.0 - self.p)
        saturation = -self.scale * self.alpha
        return self.a * (x * keep + saturation * (1.0 - keep)) + self.b

    def extra_repr(self) -> str:
        return (f"p={self.p}, alpha={self.alpha!r}, scale={self.scale!r}, "
                f"mean={self.mean}, var={self.var}")
