r"""Activation functions, looked up by name in ``ACTIVATIONS``.

torch's own classes are registered where torch has them (sigmoid, tanh, relu,
leaky_relu, prelu, elu, gelu, swish/silu, mish, softplus, identity/linear).
Written here: :class:`SELU` with any ``alpha`` and ``scale`` (Klambauer et al.
2017), so self-normalizing nets can target any fixed point, and :class:`Maxout`
(Goodfellow et al. 2013). Create entries with keyword arguments only:
``ACTIVATIONS.create("leaky_relu", negative_slope=0.1)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fnnlab.registry import Registry
from fnnlab.theory import ALPHA, SCALE

__all__ = ["ACTIVATIONS", "SELU", "Maxout"]

ACTIVATIONS: Registry[type[nn.Module]] = Registry("activation")

ACTIVATIONS.register("sigmoid")(nn.Sigmoid)
ACTIVATIONS.register("tanh")(nn.Tanh)
ACTIVATIONS.register("relu")(nn.ReLU)
ACTIVATIONS.register("leaky_relu")(nn.LeakyReLU)
ACTIVATIONS.register("prelu")(nn.PReLU)
ACTIVATIONS.register("elu")(nn.ELU)
ACTIVATIONS.register("gelu")(nn.GELU)
ACTIVATIONS.register("swish", "silu")(nn.SiLU)
ACTIVATIONS.register("mish")(nn.Mish)
ACTIVATIONS.register("softplus")(nn.Softplus)
ACTIVATIONS.register("identity", "linear")(nn.Identity)


@ACTIVATIONS.register("selu")
class SELU(nn.Module):
    r"""Scaled exponential linear unit with any ``alpha`` and ``scale``.

    ::

        selu(x) = scale * x                       if x > 0
                  scale * alpha * (exp(x) - 1)    if x <= 0

    Shape: any -> same shape.

    Parameters
    ----------
    alpha : float, default=1.6732632423543772848170429916717
        Saturation level: ``selu(x) -> -scale * alpha`` as ``x -> -inf``. Must be > 0.
    scale : float, default=1.0507009873554804934193349852946
        The slope ``lambda`` of the positive part. Must be > 0.

    Notes
    -----
    The defaults make (mean 0, variance 1) the stable, attracting fixed point of
    the layer-to-layer moment map for normalized weights (sum 0, squared sum 1,
    i.e. LeCun-normal init). Other fixed points need other parameters; get them
    from ``fnnlab.theory.selu_parameters(mean, var)``.

    References
    ----------
    Klambauer, Unterthiner, Mayr, Hochreiter, "Self-Normalizing Neural Networks",
    NeurIPS 2017, arXiv:1706.02515.
    """

    def __init__(self, *, alpha: float = ALPHA, scale: float = SCALE) -> None:
        super().__init__()
        for name, value in (("alpha", alpha), ("scale", scale)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"SELU {name} must be a float, got {type(value).__name__}.")
            if not value > 0:
                raise ValueError(
                    f"SELU {name} must be > 0, got {value}. Use "
                    f"fnnlab.theory.selu_parameters(mean, var) for a valid pair."
                )
        self.alpha = float(alpha)
        self.scale = float(scale)

    def forward(self, x: Tensor) -> Tensor:
        # aten's elu(x, alpha, scale, input_scale) is scale * elu(x, alpha) in one fused
        # kernel each way (F.elu then a multiply takes two, ~1.7x the time), and has no
        # NaN gradients for large x as a torch.where over exp(x) would.
        return torch.ops.aten.elu(x, self.alpha, self.scale, 1.0)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha!r}, scale={self.scale!r}"


@ACTIVATIONS.register("maxout")
class Maxout(nn.Module):
    r"""Maximum over groups of ``pieces`` consecutive features.

    y_j = max_{k < pieces} x_{j * pieces + k}
    Shape: (N, F * pieces) -> (N, F). A block whose activation has ``.pieces``
    makes its linear layer ``width * pieces`` features wide.

    Parameters
    ----------
    pieces : int, default=2
        Number of linear pieces per output unit (``k`` in the paper). Must be >= 1.

    References
    ----------
    Goodfellow, Warde-Farley, Mirza, Courville, Bengio, "Maxout Networks",
    ICML 2013, arXiv:1302.4389.
    """

    def __init__(self, *, pieces: int = 2) -> None:
        super().__init__()
        if isinstance(pieces, bool) or not isinstance(pieces, int):
            raise TypeError(f"Maxout pieces must be an int, got {type(pieces).__name__}.")
        if pieces < 1:
            raise ValueError(f"Maxout pieces must be >= 1, got {pieces}.")
        self.pieces = pieces

    def forward(self, x: Tensor) -> Tensor:
        features = x.shape[-1]
        if features % self.pieces:
            raise ValueError(
                f"Maxout with pieces={self.pieces} needs a feature count divisible by "
                f"{self.pieces}, got input of shape {tuple(x.shape)}. Make the preceding "
                f"layer width * pieces features wide."
            )
        grouped = x.unflatten(-1, (features // self.pieces, self.pieces))  # (N, F, pieces)
        return torch.amax(grouped, dim=-1)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"
