"""fit_many and fit_ensemble on CUDA (torch ops where the native CPU kernels don't apply).

Skipped without a GPU. CUDA's matrix kernels round differently from the CPU's, so the
results are compared with a float32 tolerance after a few epochs.
"""

import pytest
import torch
from torch.testing import assert_close

import fnnlab

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _data():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(96, 5, generator=gen)
    y = (x[:, 0] > 0).long()
    return (x[:64], y[:64]), (x[64:], y[64:])


SPEC = fnnlab.FNNSpec(in_features=5, out_features=2, depth=2, width=8, dropout=0.0)


def test_fit_many_on_cuda_matches_the_cpu():
    train, valid = _data()
    kw = dict(epochs=3, lr=[0.01, 0.05], seed=[0, 1], progress=False)
    cpu = fnnlab.fit_many([SPEC] * 2, train, valid, **kw)
    gpu = fnnlab.fit_many([SPEC] * 2, train, valid, device="cuda", **kw)
    for a, b in zip(cpu, gpu, strict=True):
        assert next(b.model.parameters()).is_cuda
        assert_close(b.model.cpu()(valid[0]), a.model(valid[0]), rtol=1e-4, atol=1e-4)


def test_fit_ensemble_on_cuda_matches_the_cpu():
    train, valid = _data()
    kw = dict(k=3, epochs=3, lr=0.05, early_stopping=2, bootstrap=True, progress=False)
    cpu = fnnlab.fit_ensemble(SPEC, train, valid, **kw)
    gpu = fnnlab.fit_ensemble(SPEC, train, valid, device="cuda", **kw)
    assert_close(gpu.model.cpu().eval()(valid[0]), cpu.model.eval()(valid[0]), rtol=1e-4,
                 atol=1e-4)
    assert gpu.history["valid_loss"].tolist() == pytest.approx(
        cpu.history["valid_loss"].tolist(), rel=1e-4)
