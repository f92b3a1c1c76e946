"""``fnnlab.build(spec, seed=...)``: the one "seed, then build" (kept apart from
tests/test_models.py, which another branch edits in parallel)."""

import pytest
import torch

from fnnlab.models import FNNSpec, build


def test_build_with_a_seed_is_reproducible_and_leaves_the_global_rng_alone():
    spec = FNNSpec(in_features=3, out_features=2, depth=2, width=8)
    torch.manual_seed(7)
    expected = torch.rand(2)
    torch.manual_seed(7)
    a, b = build(spec, seed=1), build(spec, seed=1)
    assert torch.equal(torch.rand(2), expected)  # the caller's generator did not move
    for (key, value), other in zip(a.state_dict().items(), b.state_dict().values(),
                                   strict=True):
        assert torch.equal(value, other), key
    torch.manual_seed(1)  # the seed means what torch.manual_seed means
    assert torch.equal(build(spec).hidden[0].linear.weight, a.hidden[0].linear.weight)
    assert not torch.equal(build(spec, seed=2).hidden[0].linear.weight,
                           a.hidden[0].linear.weight)
    with pytest.raises(TypeError, match="seed must be an int or None"):
        build(spec, seed=1.5)
