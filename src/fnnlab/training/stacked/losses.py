r"""The likelihoods' losses for K members at once: stacked outputs in, (K,) losses out.

Each function computes, for member k, exactly the mean loss
:meth:`fnnlab.likelihoods.Likelihood.loss` returns for ``(outputs[k], target[k])``,
with the label smoothing ε allowed to differ between members:

- gaussian: mean (y - z)²;  laplace: mean |y - z|
- bernoulli: BCE on the logit against y (1 - ε_k) + ε_k / 2
- categorical: (1 - ε_k) NLL + ε_k mean_c(-log softmax(z / T)_c), torch's label smoothing
- poisson: mean ζ(z) - y log(ζ(z) + 1e-8), ζ = softplus

A likelihood of any other class falls back to calling its ``loss`` member by member.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from fnnlab.likelihoods import Bernoulli, Categorical, Gaussian, Laplace, Likelihood, Poisson

__all__ = ["MemberLosses"]


def _mean(loss: Tensor) -> Tensor:
    return loss.flatten(1).mean(1)


class MemberLosses:
    """Per-member mean losses of stacked outputs, with the members' settings read once.

    ``liks`` holds one likelihood per member; they must be of one class and differ at
    most in ``label_smoothing``. Calling the object with stacked ``outputs`` (K, N, ...)
    and ``target`` returns the (K,) losses. The per-member smoothing is turned into a
    tensor here, not at every step (a (K,) tensor from a Python list and a test of it
    cost about 0.1 ms per step for K = 64).
    """

    def __init__(self, liks: Sequence[Likelihood]) -> None:
        self.liks = list(liks)
        lik = self.liks[0]
        self.kind = type(lik)
        eps = [float(getattr(m, "label_smoothing", 0.0)) for m in self.liks]
        self.smoothing = torch.tensor(eps) if any(eps) else None
        self.fused_categorical = (self.kind is Categorical
                                  and len({m.temperature for m in self.liks}) == 1)

    def _eps(self, like: Tensor) -> Tensor:
        return self.smoothing.to(dtype=like.dtype, device=like.device)  # type: ignore[union-attr]

    def _each(self, outputs: Tensor, target: Tensor) -> Tensor:
        return torch.stack([m.loss(o, t) for m, o, t in
                            zip(self.liks, outputs, target, strict=True)])

    def __call__(self, outputs: Tensor, target: Tensor) -> Tensor:
        kind, lik = self.kind, self.liks[0]
        if target.dim() == 2 and outputs.dim() == 3 and outputs.shape[2] == 1:
            outputs = outputs[..., 0]  # one output for a 1-D target (Likelihood._match)
        if kind in (Gaussian, Laplace, Poisson) and outputs.shape != target.shape:
            return self._each(outputs, target)
        if kind is Gaussian:
            return _mean((outputs - target) ** 2)
        if kind is Laplace:
            return _mean((outputs - target).abs())
        if kind is Poisson:
            rate = F.softplus(outputs)
            return _mean(rate - target * torch.log(rate + 1e-8))
        if kind is Bernoulli:
            t = target.to(outputs.dtype)
            if self.smoothing is not None:
                eps = self._eps(outputs).view(-1, *([1] * (t.dim() - 1)))
                t = t * (1.0 - eps) + 0.5 * eps
            return _mean(F.binary_cross_entropy_with_logits(outputs, t, reduction="none"))
        if self.fused_categorical:
            logits = outputs if lik.temperature == 1.0 else outputs / lik.temperature
            # Classes on dim 1 of a (K, C, N) view: the softmax then runs along an outer
            # dimension, vectorized over the N rows, where along the last dimension it
            # loops row by row (forward + backward for K = N = 64: 241 against 334 µs
            # with 2 classes, 296 against 926 µs with 10; the values are identical).
            by_class = logits.transpose(1, 2)
            if self.smoothing is None:
                return F.cross_entropy(by_class, target, reduction="none").mean(1)
            eps = self._eps(logits)
            logp = torch.log_softmax(by_class, dim=1)
            nll = -logp.gather(1, target.unsqueeze(1)).squeeze(1).mean(1)
            smooth = -logp.sum(1).mean(1) / logits.shape[2]
            return (1.0 - eps) * nll + eps * smooth
        return self._each(outputs, target)

