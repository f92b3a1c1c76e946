r"""K same-shaped networks as one module whose tensors carry a leading member dimension.

:class:`StackedModel` takes K built networks (same architecture, any weights) and
returns one module that maps a stacked batch (K, N, F) to stacked outputs (K, N, out),
member k seeing only its own rows ``x[k]``. Containers (the FNN, residual and highway
blocks) are kept as they are: their ``forward`` only broadcasts, so it runs on
(K, N, F) tensors unchanged; a dense block becomes a :class:`StackedDense`, which runs
the same steps and skips the ``nn.Identity`` ones. Every leaf that holds state is
replaced by a stacked twin:

===========================  ==========================================================
member leaf                  stacked twin (member k's tensors are slice k)
===========================  ==========================================================
``nn.Linear``                y = baddbmm(b, x, Wᵀ): weight stored transposed (K, in, out)
``WeightNormLinear``         w = g v / ‖v‖ per member, then as Linear
``nn.BatchNorm1d``           (K, N, F) -> (N, K·F): one ``F.batch_norm`` call gives every
                             member its own batch statistics and running statistics
``BatchRenorm``,             the same formulas with statistics over dim 1 (the batch)
``MeanOnlyBatchNorm``
``nn.LayerNorm``,            per-sample statistics need no change; per-member γ, β
``nn.GroupNorm``
dropout / alpha dropout /    one draw over the whole (K, N, F) tensor, so each member
Gaussian dropout (or none)   has its own masks; the rate may differ per member (p = 0
                             is exactly the identity)
===========================  ==========================================================

A container's own 1-D parameter (the highway gate offset) becomes (K, 1, F); a float
attribute that differs between members (``Residual.branch_scale``) becomes a (K, 1, 1)
buffer. Parameter-free leaves (activations) are shared when all members' reprs agree;
inside a dense block, where the activation's input is a fresh intermediate that
nothing else reads, SELU, ELU and ReLU run in place (the backward pass uses their
output, as torch's ``elu_``/``relu_`` do): one (K, N, F) tensor less per layer. When
the activation directly follows the linear map (no normalization in between), the two
become one :class:`~fnnlab.training.stacked.fused.StackedLinearAct` node whose bias
add, activation and bias gradient run as native fused kernels, and an FNN's run of such
blocks becomes one node (:func:`~fnnlab.training.stacked.fused.fused_chain`).
Anything else (spectral norm, PReLU, Grid LSTM) raises :class:`NotStackable`, and
:func:`fnnlab.training.fit_many` trains such members one at a time instead.

The stacked tensors are links to the members' own tensors: :meth:`StackedModel.write_member_`
copies member k's slice back into its network, so the trained members are ordinary
networks again, with the same ``state_dict`` keys a single ``fit`` gives.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fnnlab.models import FNN
from fnnlab.nn.activations import SELU
from fnnlab.nn.blocks import Dense
from fnnlab.nn.dropout import AlphaDropout, GaussianDropout
from fnnlab.nn.normalization import (
    BatchRenorm,
    MeanOnlyBatchNorm,
    batch_renorm_train,
    mean_only_batch_norm,
)
from fnnlab.nn.reparam import WeightNormLinear
from fnnlab.theory import alpha_dropout_affine
from fnnlab.training.stacked.fused import StackedLinearAct, fused_chain
from fnnlab.training.stacked.kernels import Activation

__all__ = ["NotStackable", "StackedDense", "StackedModel"]

View = Callable[[Tensor, int], Tensor]


class NotStackable(ValueError):
    """The members cannot share one stacked module (the message says which part)."""


def _t(s: Tensor, k: int) -> Tensor:  # stacked (K, in, out) -> member weight (out, in)
    return s[k].T


def _row(s: Tensor, k: int) -> Tensor:  # stacked (K, 1, F) -> member (F,)
    return s[k, 0]


def _item(s: Tensor, k: int) -> Tensor:  # stacked (K, ...) -> member (...)
    return s[k]


class _Link:
    """One stacked tensor (``module.name``) and the K member tensors it stands for."""

    def __init__(self, module: nn.Module, name: str, members: list[Tensor], view: View,
                 matrix: bool) -> None:
        self.module, self.name, self.members, self.view = module, name, members, view
        self.matrix = matrix  # a weight matrix (member dim >= 2): L1, noise, max-norm apply

    @property
    def tensor(self) -> Tensor:
        return getattr(self.module, self.name)


class _Stacker:
    """Collects the links while the stacked leaves are built."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.links: list[_Link] = []

    def add(self, module: nn.Module, name: str, members: Sequence[Tensor | None], shape,
            view: View, *, parameter: bool) -> None:
        if members[0] is None:
            if parameter:
                module.register_parameter(name, None)
            else:
                module.register_buffer(name, None)
            return
        ref = members[0]
        stacked = torch.empty((self.k, *shape), dtype=ref.dtype, device=ref.device)
        with torch.no_grad():
            for k, member in enumerate(members):
                view(stacked, k).copy_(member)
        if parameter:
            module.register_parameter(name, nn.Parameter(stacked, requires_grad=ref.requires_grad))
        else:
            module.register_buffer(name, stacked)
        self.links.append(_Link(module, name, list(members), view, matrix=ref.dim() >= 2))


def _same(kids: Sequence[nn.Module], *attrs: str) -> None:
    for attr in attrs:
        values = {repr(getattr(kid, attr, None)) for kid in kids}
        if len(values) > 1:
            raise NotStackable(f"{type(kids[0]).__name__}.{attr} differs between members "
                               f"({', '.join(sorted(values))}).")


class StackedLinear(nn.Module):
    """K linear maps: y[k] = x[k] W_kᵀ + b_k, one batched matrix multiply."""

    def __init__(self, kids: Sequence[nn.Linear], st: _Stacker) -> None:
        super().__init__()
        out, inp = kids[0].weight.shape
        st.add(self, "weight_t", [m.weight for m in kids], (inp, out), _t, parameter=True)
        st.add(self, "bias", [m.bias for m in kids], (1, out), _row, parameter=True)

    def forward(self, x: Tensor) -> Tensor:  # (K, N, in) -> (K, N, out)
        if self.bias is None:
            return torch.bmm(x, self.weight_t)
        return torch.baddbmm(self.bias, x, self.weight_t)


class StackedWeightNormLinear(nn.Module):
    """K weight-normalized linear maps, w_k = g_k v_k / ‖v_k‖ (row-wise)."""

    def __init__(self, kids: Sequence[WeightNormLinear], st: _Stacker) -> None:
        super().__init__()
        out, inp = kids[0].v.shape
        st.add(self, "v_t", [m.v for m in kids], (inp, out), _t, parameter=True)
        st.add(self, "g", [m.g for m in kids], (1, out), _row, parameter=True)
        st.add(self, "bias", [m.bias for m in kids], (1, out), _row, parameter=True)

    def forward(self, x: Tensor) -> Tensor:
        # Same order of operations as WeightNormLinear.weight: g * v / ||v||.
        weight_t = self.g * self.v_t / self.v_t.norm(dim=1, keepdim=True)
        if self.bias is None:
            return torch.bmm(x, weight_t)
        return torch.baddbmm(self.bias, x, weight_t)


class StackedBatchNorm(nn.Module):
    """K batch norms: (K, N, F) viewed as (N, K·F) gives per-member batch statistics."""

    def __init__(self, kids: Sequence[nn.BatchNorm1d], st: _Stacker) -> None:
        super().__init__()
        _same(kids, "eps", "momentum", "affine", "track_running_stats", "num_features")
        ref = kids[0]
        f = ref.num_features
        self.eps, self.momentum = ref.eps, ref.momentum
        st.add(self, "weight", [m.weight for m in kids], (f,), _item, parameter=True)
        st.add(self, "bias", [m.bias for m in kids], (f,), _item, parameter=True)
        st.add(self, "running_mean", [m.running_mean for m in kids], (f,), _item,
               parameter=False)
        st.add(self, "running_var", [m.running_var for m in kids], (f,), _item, parameter=False)
        st.add(self, "num_batches_tracked", [m.num_batches_tracked for m in kids], (), _item,
               parameter=False)

    def forward(self, x: Tensor) -> Tensor:
        k, n, f = x.shape
        flat = x.transpose(0, 1).reshape(n, k * f)  # (N, K*F): member k owns columns k*F..
        factor = 0.0 if self.momentum is None else self.momentum
        use_batch = self.training or self.running_mean is None
        if self.training and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average, as nn.BatchNorm1d
                factor = 1.0 / float(self.num_batches_tracked[0])
        y = F.batch_norm(
            flat,
            self.running_mean.view(-1) if self.running_mean is not None else None,
            self.running_var.view(-1) if self.running_var is not None else None,
            self.weight.view(-1) if self.weight is not None else None,
            self.bias.view(-1) if self.bias is not None else None,
            use_batch, factor, self.eps,
        )
        return y.view(n, k, f).transpose(0, 1)


class StackedMeanOnlyBatchNorm(nn.Module):
    """K mean-only batch norms (see :class:`fnnlab.nn.MeanOnlyBatchNorm`)."""

    def __init__(self, kids: Sequence[MeanOnlyBatchNorm], st: _Stacker) -> None:
        super().__init__()
        _same(kids, "momentum", "affine", "num_features")
        f = kids[0].num_features
        self.momentum = kids[0].momentum
        st.add(self, "bias", [m.bias for m in kids], (1, f), _row, parameter=True)
        st.add(self, "running_mean", [m.running_mean for m in kids], (1, f), _row,
               parameter=False)

    def forward(self, x: Tensor) -> Tensor:
        return mean_only_batch_norm(x, 1, self.running_mean, self.bias, self.momentum,
                                    self.training)


class StackedBatchRenorm(nn.Module):
    """K batch renormalizations (see :class:`fnnlab.nn.BatchRenorm`), statistics over dim 1."""

    def __init__(self, kids: Sequence[BatchRenorm], st: _Stacker) -> None:
        super().__init__()
        _same(kids, "eps", "momentum", "affine", "r_max", "d_max", "relax_start", "r_max_end",
              "d_max_end", "num_features")
        ref = kids[0]
        f = ref.num_features
        self.eps, self.momentum = ref.eps, ref.momentum
        self._limits = ref.limits  # the ramp is the same for all members
        st.add(self, "weight", [m.weight for m in kids], (1, f), _row, parameter=True)
        st.add(self, "bias", [m.bias for m in kids], (1, f), _row, parameter=True)
        st.add(self, "running_mean", [m.running_mean for m in kids], (1, f), _row,
               parameter=False)
        st.add(self, "running_var", [m.running_var for m in kids], (1, f), _row, parameter=False)
        st.add(self, "num_batches_tracked", [m.num_batches_tracked for m in kids], (), _item,
               parameter=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            # (K, N, F) with running statistics (K, 1, F): per-member batch statistics.
            r_max, d_max = self._limits(int(self.num_batches_tracked[0]))
            x_hat = batch_renorm_train(x, 1, self.running_mean, self.running_var,
                                       self.num_batches_tracked, r_max, d_max,
                                       eps=self.eps, momentum=self.momentum)
        else:
            x_hat = (x - self.running_mean) / torch.sqrt(self.running_var + self.eps)
        if self.weight is not None:
            return x_hat * self.weight + self.bias
        return x_hat


class StackedLayerNorm(nn.Module):
    """K layer norms over the last dimension, each with its own γ and β."""

    def __init__(self, kids: Sequence[nn.LayerNorm], st: _Stacker) -> None:
        super().__init__()
        _same(kids, "normalized_shape", "eps", "elementwise_affine")
        if len(kids[0].normalized_shape) != 1:
            raise NotStackable("LayerNorm over more than the last dimension.")
        self.shape, self.eps = tuple(kids[0].normalized_shape), kids[0].eps
        f = self.shape[0]
        st.add(self, "weight", [m.weight for m in kids], (1, f), _row, parameter=True)
        st.add(self, "bias", [getattr(m, "bias", None) for m in kids], (1, f), _row,
               parameter=True)

    def forward(self, x: Tensor) -> Tensor:
        y = F.layer_norm(x, self.shape, None, None, self.eps)
        if self.weight is not None:
            y = y * self.weight
        return y + self.bias if self.bias is not None else y


class StackedGroupNorm(nn.Module):
    """K group norms on (N, F) inputs: per-sample statistics, per-member γ and β."""

    def __init__(self, kids: Sequence[nn.GroupNorm], st: _Stacker) -> None:
        super().__init__()
        _same(kids, "num_groups", "num_channels", "eps", "affine")
        self.groups, self.eps = kids[0].num_groups, kids[0].eps
        f = kids[0].num_channels
        st.add(self, "weight", [m.weight for m in kids], (1, f), _row, parameter=True)
        st.add(self, "bias", [m.bias for m in kids], (1, f), _row, parameter=True)

    def forward(self, x: Tensor) -> Tensor:
        k, n, f = x.shape
        y = F.group_norm(x.reshape(k * n, f), self.groups, None, None, self.eps).view(k, n, f)
        return y * self.weight + self.bias if self.weight is not None else y


class InplaceELU(nn.Module):
    """scale · elu(x, alpha) written into ``x``: SELU and ELU inside a stacked dense block."""

    def __init__(self, alpha: float, scale: float) -> None:
        super().__init__()
        self.alpha, self.scale = alpha, scale

    def forward(self, x: Tensor) -> Tensor:
        return torch.ops.aten.elu_(x, self.alpha, self.scale, 1.0)


class InplaceReLU(nn.Module):
    """max(x, 0) written into ``x``: ReLU inside a stacked dense block."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu_(x)


def _inplace_twin(act: nn.Module) -> nn.Module | None:
    # The in-place backward pass reads the output, which needs alpha >= 0.
    if type(act) is SELU and act.alpha >= 0:
        return InplaceELU(act.alpha, act.scale)
    if type(act) is nn.ELU and not act.inplace and act.alpha >= 0:
        return InplaceELU(act.alpha, 1.0)
    if type(act) is nn.ReLU:
        return InplaceReLU()
    return None


class StackedDense(nn.Module):
    """A stacked :class:`~fnnlab.nn.Dense` block: its linear map, then its other steps.

    Holds the block's (stacked) submodules under the same names and runs them in the
    block's ``order``, skipping those that are ``nn.Identity``: each would cost a module
    call per layer and step. When the activation directly follows the linear map (no
    normalization in between), the two become one fused
    :class:`~fnnlab.training.stacked.fused.StackedLinearAct` node.
    """

    def __init__(self, block: Dense) -> None:
        super().__init__()
        steps = tuple(block.order.split("_")[1:])  # Dense's order: "linear_" + its steps
        self.linear = block.linear
        for step in steps:
            setattr(self, step, getattr(block, step))
        self._fuse(steps)
        self.steps = tuple(step for step in steps
                           if type(getattr(self, step)) is not nn.Identity)

    def _fuse(self, steps: tuple[str, ...]) -> None:
        between = steps[:steps.index("act")]
        if type(self.linear) is not StackedLinear or self.linear.bias is None or \
                not all(type(getattr(self, step)) is nn.Identity for step in between):
            return
        if type(self.act) is InplaceReLU:
            spec = Activation.relu()
        elif type(self.act) is InplaceELU:
            spec = Activation.elu(self.act.alpha, self.act.scale)
        else:
            return
        self.linear = StackedLinearAct(self.linear, self.act, spec)
        self.act = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x = self.linear(x)
        for step in self.steps:
            x = getattr(self, step)(x)
        return x


_DROPOUTS = (nn.Dropout, AlphaDropout, GaussianDropout)


class StackedDropout(nn.Module):
    """Dropout of one kind with a rate per member; members with rate 0 pass x unchanged.

    One draw over the whole (K, N, F) tensor from torch's global generator: every
    member gets its own masks (they differ from the masks a single ``fit`` run draws,
    so dropout runs agree with sequential ones in distribution, not value by value).
    """

    def __init__(self, kids: Sequence[nn.Module], st: _Stacker) -> None:
        super().__init__()
        kinds = {type(m) for m in kids if not isinstance(m, nn.Identity)}
        ref = next(m for m in kids if not isinstance(m, nn.Identity))
        self.kind = type(ref)
        rates = [float(getattr(m, "p", 0.0)) for m in kids]
        if len(kinds) > 1 or any(getattr(m, "inplace", False) for m in kids):
            raise NotStackable(f"Different dropout kinds in one slot: {sorted(map(str, kinds))}.")
        if isinstance(ref, AlphaDropout):
            _same([m for m in kids if not isinstance(m, nn.Identity)], "alpha", "scale", "mean",
                  "var")
            affine = [alpha_dropout_affine(p, ref.alpha, ref.scale, ref.mean, ref.var)
                      for p in rates]
            self.saturation = -ref.scale * ref.alpha
            self.register_buffer("a", torch.tensor([a for a, _ in affine]).view(-1, 1, 1))
            self.register_buffer("b", torch.tensor([b for _, b in affine]).view(-1, 1, 1))
        self.register_buffer("keep", (1.0 - torch.tensor(rates)).view(-1, 1, 1))
        self.register_buffer("std", torch.tensor(rates).div(self.keep.flatten()).sqrt()
                             .view(-1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        if self.kind is GaussianDropout:
            return x * (1.0 + self.std * torch.randn_like(x))
        keep = torch.bernoulli(self.keep.expand_as(x))
        if self.kind is AlphaDropout:
            return self.a * (x * keep + self.saturation * (1.0 - keep)) + self.b
        return x * keep / self.keep


_LEAVES: dict[type, type[nn.Module]] = {
    nn.Linear: StackedLinear,
    WeightNormLinear: StackedWeightNormLinear,
    nn.BatchNorm1d: StackedBatchNorm,
    MeanOnlyBatchNorm: StackedMeanOnlyBatchNorm,
    BatchRenorm: StackedBatchRenorm,
    nn.LayerNorm: StackedLayerNorm,
    nn.GroupNorm: StackedGroupNorm,
}

# Container state that is bookkeeping, not used by forward.
_IGNORED_ATTRS = {"training", "spec", "_resolved", "gate_bias"}


def _fused_runs(net: nn.Module) -> list[Callable[[Tensor], Tensor]] | None:
    """An FNN's hidden blocks with each run of two or more fused dense blocks as one call.

    A dense block whose only step is a fused linear map and activation (no norm, no
    dropout) can join its neighbours in one :func:`~fnnlab.training.stacked.fused.fused_chain`
    node: one Python ``apply`` and one backward call per run instead of per block.
    None when there is no such run, or for any network but an :class:`fnnlab.FNN`
    itself, whose forward is known to be ``head(blocks(input_dropout(x)))``.
    """
    if type(net) is not FNN:
        return None
    parts: list[Callable[[Tensor], Tensor]] = []
    run: list[StackedLinearAct] = []
    chained = False

    def close() -> None:
        nonlocal chained
        if len(run) > 1:
            parts.append(functools.partial(fused_chain, list(run)))
            chained = True
        elif run:
            parts.append(run[0])
        run.clear()

    for block in net.hidden:
        if type(block) is StackedDense and not block.steps and \
                type(block.linear) is StackedLinearAct:
            run.append(block.linear)
        else:
            close()
            parts.append(block)
    close()
    return parts if chained else None


class StackedModel(nn.Module):
    """K networks of one architecture trained as one module on (K, N, F) batches.

    Parameters
    ----------
    members : sequence of nn.Module
        The K networks (e.g. :class:`fnnlab.FNN` built from specs of the same shape).
        Their weights are copied in; :meth:`write_member_` copies them back.

    Raises
    ------
    NotStackable
        If a layer has no stacked twin or a setting differs in a way that changes
        shapes (the message names the layer).
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(members) < 1:
            raise ValueError("StackedModel needs at least one member network.")
        self.k = len(members)
        self._stacker = _Stacker(self.k)
        self.net = copy.deepcopy(members[0])
        self._stack_container(self.net, list(members), "net")
        self.links = self._stacker.links
        self._parts = _fused_runs(self.net)

    def _stack_container(self, module: nn.Module, kids: list[nn.Module], where: str) -> None:
        st = self._stacker
        for name, param in list(module._parameters.items()):
            ps = [kid._parameters[name] for kid in kids]
            if param is None:
                continue
            if param.dim() != 1:
                raise NotStackable(f"{where}.{name}: only 1-D container parameters stack.")
            del module._parameters[name]
            st.add(module, name, ps, (1, param.shape[0]), _row, parameter=True)
        for name in list(vars(module)):
            if name.startswith("_") or name in _IGNORED_ATTRS:
                continue
            values = [vars(kid)[name] for kid in kids]
            if all(v == values[0] for v in values):
                continue
            if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
                delattr(module, name)
                module.register_buffer(name, torch.tensor(values, dtype=torch.float32)
                                       .view(-1, 1, 1))
                continue
            raise NotStackable(f"{where}.{name} differs between members: {values[:3]}...")
        for name, child in list(module.named_children()):
            children = [kid._modules[name] for kid in kids]
            path = f"{where}.{name}"
            types = {type(c) for c in children}
            leaf = _LEAVES.get(type(child))
            if len(types) > 1 or isinstance(child, _DROPOUTS):
                if types <= {nn.Identity, *_DROPOUTS}:
                    module._modules[name] = StackedDropout(children, st)
                    continue
                raise NotStackable(f"{path}: members use different layers "
                                   f"{sorted(t.__name__ for t in types)}.")
            if leaf is not None:
                module._modules[name] = leaf(children, st)
            elif next(child.children(), None) is not None:
                self._stack_container(child, children, path)
                if isinstance(child, Dense):
                    module._modules[name] = StackedDense(child)
            elif any(True for _ in child.parameters(recurse=False)) or \
                    any(b is not None for b in child._buffers.values()):
                raise NotStackable(f"{path}: {type(child).__name__} has no stacked version; "
                                   f"train it with fnnlab.fit.")
            elif len({repr(c) for c in children}) > 1:
                raise NotStackable(f"{path}: {type(child).__name__} settings differ between "
                                   f"members.")
            elif isinstance(module, Dense) and name == "act":
                # Dense always applies the linear map first, so act never sees the
                # block's input (which a skip path could still need).
                twin = _inplace_twin(child)
                if twin is not None:
                    module._modules[name] = twin

    def forward(self, x: Tensor) -> Tensor:
        """(K, N, in_features) -> (K, N, out_features); member k sees only ``x[k]``."""
        if self._parts is None:
            return self.net(x)
        # FNN.forward's steps, with each run of fused dense blocks as one node.
        x = self.net.input_dropout(x)
        for part in self._parts:
            x = part(x)
        return self.net.head(x)

    def matrices(self) -> list[Tensor]:
        """The stacked weight matrices, (K, in, out), in the members' parameter order."""
        return [link.tensor for link in self.links if link.matrix and
                isinstance(link.tensor, nn.Parameter) and link.tensor.requires_grad]

    def fused_layers(self) -> list[StackedLinearAct]:
        """The fused dense layers, whose ``sgd_step`` plain SGD sets."""
        return [m for m in self.modules() if isinstance(m, StackedLinearAct)]

    def trainable(self) -> list[nn.Parameter]:
        """The stacked trainable parameters."""
        return [link.tensor for link in self.links
                if isinstance(link.tensor, nn.Parameter) and link.tensor.requires_grad]

    def snapshot(self) -> list[Tensor]:
        """Detached copies of all stacked tensors (a stacked ``state_dict``)."""
        return [link.tensor.detach().clone() for link in self.links]

    @torch.no_grad()
    def update_snapshot_(self, snapshot: list[Tensor], which: Tensor) -> None:
        """Copy the members where ``which`` (bool, (K,)) is true into ``snapshot``."""
        for link, saved in zip(self.links, snapshot, strict=True):
            mask = which.view(-1, *([1] * (saved.dim() - 1)))
            saved.copy_(torch.where(mask, link.tensor, saved))

    @torch.no_grad()
    def write_member_(self, k: int, snapshot: list[Tensor] | None = None) -> None:
        """Copy member ``k``'s slice (of ``snapshot``, default: the live tensors) into it."""
        tensors = snapshot if snapshot is not None else [link.tensor for link in self.links]
        for link, stacked in zip(self.links, tensors, strict=True):
            link.members[k].copy_(link.view(stacked, k))
