r"""A stacked dense layer's linear map and activation as one autograd node.

Forward, for K members at once (x: (K, N, in), W: (K, in, out), b: (K, 1, out)):

    z = bmm(x, W);   y = act(z + b)        (bias and activation: one native pass, in place)

Backward, from the output gradient g and the saved output y:

    g_z = g · act′(y),  ∂b = Σₙ g_z        (one native pass, g_z written over y)
    ∂x = bmm(g_z, Wᵀ),  ∂W = bmm(xᵀ, g_z)

act′ is computed from the output, as torch's in-place ``relu_``/``elu_`` do: for the
ELU family scale · α eˣ = y + scale · α where x ≤ 0. Against ``baddbmm`` followed by
ATen's ``elu_`` this saves the bias broadcast copy, ATen's slow ``expm1`` and the bias
gradient's separate ``sum`` (:mod:`~fnnlab.training.stacked.kernels` has the figures).
g_z is written over y, whose cache lines the pass reads anyway, instead of into a
fresh (K, N, out) tensor that would have to be allocated and touched. So after
``backward`` a fused block's output
tensor holds the gradient of its pre-activation: read activations before backward
(autograd itself is protected: the output's version counter is bumped).

Plain SGD (no momentum, weight decay, clipping, L1 or weight noise) goes one step
further: the stacked loop (``fit_many``, and ``fit`` for a stack of one) sets
:attr:`StackedLinearAct.sgd_step` to −ε per member, and the backward pass replaces
∂W = bmm(xᵀ, g_z) by W ← W + bmm(xᵀ, −ε g_z) and b ← b − ε ∂b while W, x and g_z are
in cache, returning no gradient for them (the optimizer skips those parameters). So
∂W is never written to memory and read back by the optimizer, and the peak memory
holds no (K, in, out) gradient per layer (``benchmarks/BENCHMARKS.md`` has the
figures).

Where the kernels are unavailable (no C compiler, ``FNNLAB_NATIVE_KERNELS=0``) or the
tensors are not float32 on the CPU, :class:`StackedLinearAct` runs the same layer with
torch's ops; both give the same values up to float32 rounding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from fnnlab.training.stacked import kernels
from fnnlab.training.stacked.kernels import Activation

__all__ = ["LinearActFunction", "StackedLinearAct"]


class LinearActFunction(torch.autograd.Function):
    """y = act(bmm(x, W) + b) with the native kernels; see the module docstring.

    With ``sgd_step`` (a (K, 1, 1) tensor holding −ε per member) the backward pass also
    takes plain SGD's step in place, W ← W − ε ∂W and b ← b − ε ∂b, and returns no
    gradient for W and b.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight_t: Tensor, bias: Tensor, act: Activation,
                sgd_step: Tensor | None = None) -> Tensor:
        out = kernels.bias_act_(torch.bmm(x, weight_t), bias, act)
        ctx.save_for_backward(x, weight_t, out, bias)
        ctx.act, ctx.sgd_step = act, sgd_step
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, weight_t, out, bias = ctx.saved_tensors
        # The output's memory takes the pre-activation gradient: every consumer of the
        # output has run its backward before this node, and the version bump makes a
        # second backward through this graph (retain_graph) fail loudly, not silently.
        grad_z, grad_bias = kernels.act_backward_(grad, out, ctx.act)
        torch.autograd.graph.increment_version(out)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = torch.bmm(grad_z, weight_t.transpose(1, 2)) if need_x else None
        step = ctx.sgd_step
        if step is None:
            return (grad_x, torch.bmm(x.transpose(1, 2), grad_z) if need_w else None,
                    grad_bias if need_b else None, None, None)
        # The SGD step while W, x and g_z are still in cache: W += xᵀ (−ε g_z), without
        # writing ∂W to memory and reading it back in the optimizer (grad_x is done
        # with g_z, so it may be scaled in place).
        if need_w and step.numel() == 1:
            # One member (fit's stack of one): ε as baddbmm's scalar alpha, which saves
            # the pass over g_z that scaling it costs.
            weight_t.baddbmm_(x.transpose(1, 2), grad_z, alpha=float(step))
        elif need_w:
            weight_t.baddbmm_(x.transpose(1, 2), grad_z.mul_(step))
        if need_b:
            bias.addcmul_(grad_bias, step)
        return grad_x, None, None, None, None


class StackedLinearAct(nn.Module):
    """A stacked linear map (with bias) followed by an in-place ReLU or ELU/SELU twin.

    ``linear`` keeps its parameters (so the stacked model's links are unchanged);
    ``act`` is the in-place module that runs when the native kernels cannot.
    """

    def __init__(self, linear: nn.Module, act: nn.Module, spec: Activation) -> None:
        super().__init__()
        self.linear, self.act, self.spec = linear, act, spec
        #: −ε per member, (K, 1, 1), set by plain-SGD training: the backward pass then
        #: updates the weights itself (see :class:`LinearActFunction`); None: it does not.
        self.sgd_step: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        w = self.linear.weight_t
        if x.dtype == w.dtype == torch.float32 and x.device.type == w.device.type == "cpu" \
                and kernels.library() is not None:
            return LinearActFunction.apply(x, w, self.linear.bias, self.spec, self.sgd_step)
        return self.act(self.linear(x))  # torch's ops: gradients as usual, no SGD step

    def extra_repr(self) -> str:
        return f"{self.spec}, kernels: {kernels.status()}"
