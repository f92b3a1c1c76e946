r"""Regularizers the fit loop applies around each step: penalties, constraints, noise, clipping.

Parameter penalties change the cost, J̃(θ) = J(θ) + λ Ω(θ): L2 (weight decay, handled by
the optimizer) keeps θ small, L1 (``l1_penalty``, Ω = Σ|w|) drives weights to exactly
zero. An explicit constraint (``max_norm_``) instead projects each unit's incoming
weight vector back into the ball ‖w‖ ≤ c after every step, which never lets the weights
grow large even with a large learning rate (Srebro & Shraibman, 2005; Hinton et al.,
2012). Noise in the inputs (``input_noise``) works like data augmentation; noise in
the weights (``WeightNoise``) approximates the penalty η E‖∇_θ f‖², pushing the model
to flat regions (notes 002, "noise in parameters"). Gradient clipping (``clip_``) caps
the norm or each entry of the gradient, the standard fix for exploding gradients.

Only weight matrices (parameters with two or more dimensions) are penalized, noised or
constrained; biases and normalization gains are left alone, as is customary.

References
----------
Goodfellow, Bengio, Courville, "Deep Learning", 2016, chapter 7 (notes 002).
Pascanu, Mikolov, Bengio, "On the difficulty of training RNNs", ICML 2013 (clipping).
Graves, "Practical Variational Inference for Neural Networks", NIPS 2011 (weight noise).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "WeightNoise",
    "clip_",
    "input_noise",
    "l1_penalty",
    "max_norm_",
    "weight_matrices",
]


def weight_matrices(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The trainable parameters with two or more dimensions (weight matrices)."""
    return [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]


def l1_penalty(weights: Sequence[Tensor]) -> Tensor:
    """Ω(θ) = Σ_i |w_i| over ``weights``."""
    return torch.stack([w.abs().sum() for w in weights]).sum()


@torch.no_grad()
def max_norm_(weights: Sequence[Tensor], max_norm: float) -> None:
    """Rescale every row (a unit's incoming weights) of each matrix to norm ≤ ``max_norm``."""
    for w in weights:
        flat = w.view(w.shape[0], -1)
        norms = flat.norm(dim=1, keepdim=True)
        flat.mul_(torch.clamp(max_norm / (norms + 1e-12), max=1.0))


def input_noise(x: Tensor, std: float, generator: torch.Generator) -> Tensor:
    """x + n with n ~ N(0, std² I) drawn from ``generator``."""
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + std * noise


class WeightNoise:
    """Add n ~ N(0, std² I) to the weight matrices for one forward/backward pass.

    Use as a context manager around the loss and ``backward()``: the gradient is taken
    at θ + n, and leaving the context removes n before the optimizer steps, so the
    update applies to the clean θ (Graves, 2011).
    """

    def __init__(self, weights: Sequence[Tensor], std: float,
                 generator: torch.Generator) -> None:
        self.weights = list(weights)
        self.std = std
        self.generator = generator
        self.saved: list[Tensor] = []

    @torch.no_grad()
    def __enter__(self) -> WeightNoise:
        # Keep exact copies: (w + n) - n is not always w in floating point.
        self.saved = [w.detach().clone() for w in self.weights]
        for w in self.weights:
            w.add_(torch.randn(w.shape, generator=self.generator, device=w.device,
                               dtype=w.dtype), alpha=self.std)
        return self

    @torch.no_grad()
    def __exit__(self, *exc: object) -> None:
        for w, saved in zip(self.weights, self.saved, strict=True):
            w.copy_(saved)
        self.saved = []


def clip_(parameters: Sequence[torch.nn.Parameter], clip_norm: float | None = None,
          clip_value: float | None = None) -> None:
    """Clip gradients in place: each entry to [-clip_value, clip_value], then the total norm.

    Norm clipping rescales g to g · c / ‖g‖ when ‖g‖ > c, keeping its direction.
    """
    if clip_value is not None:
        torch.nn.utils.clip_grad_value_(parameters, clip_value)
    if clip_norm is not None:
        torch.nn.utils.clip_grad_norm_(parameters, clip_norm)
