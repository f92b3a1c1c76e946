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

Consecutive fused layers (an FNN's dense blocks without normalization or dropout) run
as one node, :func:`fused_chain`: the forward pass applies them in turn and the
backward pass walks them in reverse, each layer exactly as above, so a stack pays one
Python ``apply`` and one backward call per run of layers instead of per layer.

Where the kernels are unavailable (no C compiler, ``FNNLAB_NATIVE_KERNELS=0``) or the
tensors are not float32 on the CPU, :class:`StackedLinearAct` runs the same layer with
torch's ops; both give the same values up to float32 rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from fnnlab.training.stacked import kernels
from fnnlab.training.stacked.kernels import Activation

__all__ = ["LinearActFunction", "StackedLinearAct", "fused_chain"]


class LinearActFunction(torch.autograd.Function):
    """y = act(bmm(x, W) + b) with the native kernels, for one layer or a chain of them.

    Called as ``apply(x, W_1, b_1, act_1, step_1, W_2, b_2, act_2, step_2, ...)``
    (one layer may leave out its step): each dense layer is four arguments, and layer
    l + 1 takes layer l's output as its input. A chain is one autograd node, so a run of
    L fused layers costs one Python ``apply`` and one backward call instead of L of each
    (about 30 µs per layer and step, most of a stack of one's overhead over a
    hand-written loop). With ``step_l`` (a (K, 1, 1) tensor holding −ε per member) the
    backward pass also takes plain SGD's step in place, W_l ← W_l − ε ∂W_l and
    b_l ← b_l − ε ∂b_l, and returns no gradient for W_l and b_l; with None it returns
    their gradients.
    """

    @staticmethod
    def forward(ctx, x: Tensor, *layers: Any) -> Tensor:
        ctx.n_args = len(layers)
        if len(layers) == 3:  # one layer without its step: no SGD in the backward pass
            layers = (*layers, None)
        outs, h = [], x
        for i in range(0, len(layers), 4):
            h = kernels.bias_act_(torch.bmm(h, layers[i]), layers[i + 1], layers[i + 2])
            outs.append(h)
        # The last output is the node's own output (saved so its version is checked);
        # the others are intermediates no one else can see, kept on ctx.
        ctx.save_for_backward(x, h, *(t for i in range(0, len(layers), 4)
                                      for t in layers[i:i + 2]))
        ctx.hidden_outs, ctx.layers = outs[:-1], layers
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, last, *params = ctx.saved_tensors
        outs, layers, needs = [*ctx.hidden_outs, last], ctx.layers, ctx.needs_input_grad
        grads: list[Tensor | None] = [None] * len(layers)
        for i in reversed(range(len(outs))):
            inp = x if i == 0 else outs[i - 1]
            need_x = needs[0] if i == 0 else True
            grad, grads[4 * i], grads[4 * i + 1] = _layer_backward(
                grad, inp, params[2 * i], params[2 * i + 1], outs[i], layers[4 * i + 2],
                layers[4 * i + 3], need_x, needs[1 + 4 * i], needs[2 + 4 * i])
        ctx.hidden_outs = None
        return (grad, *grads[:ctx.n_args])


def _layer_backward(grad: Tensor, x: Tensor, weight_t: Tensor, bias: Tensor, out: Tensor,
                    act: Activation, step: Tensor | None, need_x: bool, need_w: bool,
                    need_b: bool) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """One fused layer's backward pass: (∂x, ∂W, ∂b), or the SGD step and (∂x, None, None)."""
    # The output's memory takes the pre-activation gradient: every consumer of the
    # output has run its backward before this layer's, and the version bump makes a
    # second backward through this graph (retain_graph) fail loudly, not silently.
    grad_z, grad_bias = kernels.act_backward_(grad, out, act)
    torch.autograd.graph.increment_version(out)
    grad_x = torch.bmm(grad_z, weight_t.transpose(1, 2)) if need_x else None
    if step is None:
        return (grad_x, torch.bmm(x.transpose(1, 2), grad_z) if need_w else None,
                grad_bias if need_b else None)
    # The SGD step while W, x and g_z are still in cache: W += xᵀ (−ε g_z), without
    # writing ∂W to memory and reading it back in the optimizer (grad_x is done with
    # g_z, so it may be scaled in place).
    if need_w and step.numel() == 1:
        # One member (fit's stack of one): ε as baddbmm's scalar alpha, which saves the
        # pass over g_z that scaling it costs.
        weight_t.baddbmm_(x.transpose(1, 2), grad_z, alpha=float(step))
    elif need_w:
        weight_t.baddbmm_(x.transpose(1, 2), grad_z.mul_(step))
    if need_b:
        bias.addcmul_(grad_bias, step)
    return grad_x, None, None


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
        if _native(x, self.linear.weight_t):
            return LinearActFunction.apply(x, *self.arguments())
        return self.act(self.linear(x))  # torch's ops: gradients as usual, no SGD step

    def arguments(self) -> tuple[Any, ...]:
        """This layer's four arguments of :class:`LinearActFunction`."""
        return self.linear.weight_t, self.linear.bias, self.spec, self.sgd_step

    def extra_repr(self) -> str:
        return f"{self.spec}, kernels: {kernels.status()}"


def _native(x: Tensor, weight_t: Tensor) -> bool:
    """Whether the kernels can run a layer on ``x``: float32 CPU tensors, library loaded."""
    return x.dtype == weight_t.dtype == torch.float32 and \
        x.device.type == weight_t.device.type == "cpu" and kernels.library() is not None


def fused_chain(layers: Sequence[StackedLinearAct], x: Tensor) -> Tensor:
    """``layers`` applied in turn to ``x``: one :class:`LinearActFunction` node for all of
    them where the kernels can run, else each layer's own forward."""
    if not _native(x, layers[0].linear.weight_t):
        for layer in layers:
            x = layer(x)
        return x
    return LinearActFunction.apply(x, *(a for layer in layers for a in layer.arguments()))
