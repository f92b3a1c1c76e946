"""Stacked training: many same-shaped networks trained at once as one vectorized model.

``loop.py`` (``fit_many``: grouping, the memory estimate), ``run.py`` (the stacked
training loop, also ``fit``'s for a stack of one), ``model.py`` (``StackedModel``, the
batched layers), ``fused.py`` (a dense block's linear map + activation as one autograd
node), ``kernels.py`` with ``linear_act.c`` (its native kernels, compiled at first use),
``optim.py`` (torch.optim's rules with per-member learning rates), ``losses.py``
(per-member likelihood losses), ``allocator.py`` (glibc malloc tuning and the GC pause).
The module docstring of ``loop.py`` explains the design choice and the conventions.
"""

from fnnlab.training.stacked.loop import fit_many, member_bytes
from fnnlab.training.stacked.model import NotStackable, StackedModel
from fnnlab.training.stacked.optim import StackedOptimizer

__all__ = ["NotStackable", "StackedModel", "StackedOptimizer", "fit_many", "member_bytes"]
