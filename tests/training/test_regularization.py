"""Regularizers: each does what its formula says, measured on a real fit."""

import pytest
import torch

from fnnlab.training import Callback, fit
from fnnlab.training.regularization import WeightNoise, l1_penalty, max_norm_


def _weights(model):
    return [p for p in model.parameters() if p.dim() == 2]


def test_l1_and_l2_penalties_shrink_their_norms(cancer, mlp):
    kw = dict(epochs=8, lr=0.05, optimizer="sgd", progress=False)
    plain = fit(mlp(), cancer, **kw).model
    lasso = fit(mlp(), cancer, l1=1e-2, **kw).model
    ridge = fit(mlp(), cancer, weight_decay=1e-2, **kw).model
    l1 = [l1_penalty(_weights(m)).item() for m in (plain, lasso, ridge)]
    assert l1[1] < 0.7 * l1[0]

    def l2(m):
        return sum((w ** 2).sum() for w in _weights(m)).item()

    assert l2(ridge) < l2(plain)


def test_max_norm_bounds_every_unit(cancer, mlp):
    model = fit(mlp(), cancer, epochs=3, lr=0.5, max_norm=1.0, progress=False).model
    for w in _weights(model):
        assert w.norm(dim=1).max().item() <= 1.0 + 1e-5


def test_max_norm_leaves_short_rows_alone():
    w = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    max_norm_([w], 2.0)
    torch.testing.assert_close(w, torch.tensor([[1.2, 1.6], [0.3, 0.4]]))


@pytest.mark.parametrize(("option", "bound"), [("clip_norm", "norm"), ("clip_value", "value")])
def test_gradient_clipping_bounds_what_the_optimizer_sees(cancer, mlp, option, bound):
    seen = []

    class Probe(Callback):
        def on_after_backward(self, state, **kwargs):
            grads = [p.grad for p in state.model.parameters()]
            if bound == "norm":
                seen.append(torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads])))
            else:
                seen.append(max(g.abs().max() for g in grads))

    fit(mlp(), cancer, epochs=1, lr=0.05, callbacks=[Probe()], progress=False,
        **{option: 1e-3})
    assert max(seen).item() <= 1e-3 * (1 + 1e-4)


def test_weight_noise_restores_the_exact_weights():
    w = torch.nn.Parameter(torch.randn(4, 3))
    before = w.detach().clone()
    with WeightNoise([w], 0.5, torch.Generator().manual_seed(0)):
        assert not torch.equal(w.detach(), before)
    assert torch.equal(w.detach(), before)


def test_noise_and_label_smoothing_still_train(cancer, mlp):
    result = fit(mlp(), cancer, epochs=4, lr=0.05, input_noise=0.3, weight_noise=0.01,
                 label_smoothing=0.1, progress=False)
    losses = result.history["train_loss"]
    # With ε = 0.1 the smoothed cross-entropy cannot go below the target's entropy, 0.199.
    assert 0.199 < losses.iloc[-1] < losses.iloc[0]
    assert result.likelihood.label_smoothing == 0.1
