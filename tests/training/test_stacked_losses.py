"""MemberLosses: every likelihood's vectorized loss equals its per-member loss, and a
likelihood without one takes the slow path out loud."""

from __future__ import annotations

import pytest
import torch

from fnnlab.likelihoods import LIKELIHOODS, Likelihood
from fnnlab.training.stacked.losses import MemberLosses


def _targets(lik: Likelihood, k: int, n: int, g: torch.Generator) -> torch.Tensor:
    if lik.task == "classification":
        return torch.randint(0, 2 if lik.name == "bernoulli" else 3, (k, n), generator=g)
    return torch.rand(k, n, generator=g) * 3


@pytest.mark.parametrize("name", LIKELIHOODS.names())
def test_vectorized_losses_equal_each_members_loss(name):
    g = torch.Generator().manual_seed(0)
    smoothing = {"label_smoothing": 0.1} if name in ("bernoulli", "categorical") else {}
    liks = [LIKELIHOODS.create(name), LIKELIHOODS.create(name, **smoothing)]
    assert type(liks[0]).member_losses is not Likelihood.member_losses
    target = liks[0].prepare_target(_targets(liks[0], 2, 7, g))
    width = 1 if liks[0].task == "regression" else liks[0].n_outputs(
        2 if name == "bernoulli" else 3)
    outputs = torch.randn(2, 7, width, generator=g)
    want = torch.stack([m.loss(o, t) for m, o, t in zip(liks, outputs, target, strict=True)])
    torch.testing.assert_close(MemberLosses(liks)(outputs, target), want)


def test_a_likelihood_without_member_losses_warns_and_stays_correct():
    class Squared(Likelihood):
        task, name = "regression", "squared"

        def loss(self, outputs, target):
            return ((outputs.reshape(target.shape) - target) ** 2).mean()

    with pytest.warns(RuntimeWarning, match="Squared has no member_losses"):
        losses = MemberLosses([Squared(), Squared()])
    outputs, target = torch.randn(2, 5, 1), torch.randn(2, 5)
    want = ((outputs[..., 0] - target) ** 2).mean(1)
    torch.testing.assert_close(losses(outputs, target), want)
