r"""The likelihoods' losses for K members at once: stacked outputs in, (K,) losses out.

Entry k is exactly the mean loss :meth:`fnnlab.likelihoods.Likelihood.loss` returns
for ``(outputs[k], target[k])``. Each likelihood writes its own vectorized form,
:meth:`~fnnlab.likelihoods.Likelihood.member_losses`, with the label smoothing ε
allowed to differ between members; :class:`MemberLosses` only reads the members'
settings once and calls it. Where there is no vectorized form (a likelihood that does
not define one, members whose other settings differ, outputs shaped unlike the
target), it calls ``loss`` member by member, and for a likelihood without the method
it says so in a warning, so a slow path is never taken silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor

from fnnlab.likelihoods import Likelihood

__all__ = ["MemberLosses"]


def _settings(lik: Likelihood) -> tuple:
    """What must agree between members for one vectorized call (all but ε)."""
    return type(lik), tuple(sorted((k, repr(v)) for k, v in vars(lik).items()
                                   if k != "label_smoothing"))


class MemberLosses:
    """Per-member mean losses of stacked outputs, with the members' settings read once.

    ``liks`` holds one likelihood per member. Calling the object with stacked
    ``outputs`` (K, N, ...) and ``target`` returns the (K,) losses. The per-member
    smoothing is turned into a tensor here, not at every step (a (K,) tensor from a
    Python list and a test of it cost about 0.1 ms per step for K = 64).
    """

    def __init__(self, liks: Sequence[Likelihood]) -> None:
        self.liks = list(liks)
        lik = self.liks[0]
        eps = [float(getattr(m, "label_smoothing", 0.0)) for m in self.liks]
        self.smoothing = torch.tensor(eps) if len(set(eps)) > 1 else None
        self.vectorized = len({_settings(m) for m in self.liks}) == 1
        if type(lik).member_losses is Likelihood.member_losses:
            self.vectorized = False
            warnings.warn(
                f"{type(lik).__name__} has no member_losses, so fit_many computes its loss "
                f"one member at a time (correct, but slower). Define "
                f"{type(lik).__name__}.member_losses to vectorize it.",
                RuntimeWarning, stacklevel=4)

    def _each(self, outputs: Tensor, target: Tensor) -> Tensor:
        return torch.stack([m.loss(o, t) for m, o, t in
                            zip(self.liks, outputs, target, strict=True)])

    def __call__(self, outputs: Tensor, target: Tensor) -> Tensor:
        if target.dim() == 2 and outputs.dim() == 3 and outputs.shape[2] == 1:
            outputs = outputs[..., 0]  # one output for a 1-D target (Likelihood._match)
        if self.vectorized:
            losses = self.liks[0].member_losses(outputs, target, self.smoothing)
            if losses is not None:
                return losses
        return self._each(outputs, target)
