"""Hidden blocks of a feedforward network: dense, residual and highway.

Every block maps ``(N, in_features) -> (N, out_features)`` and is built through
``BLOCKS.create(name, in_features, out_features, *, activation, norm, dropout,
dropout_kind, reparam, **kw)``, so a model can swap one kind for another by
name. Residual and highway blocks keep the width (``in_features ==
out_features``); a network starts with a dense input layer and stacks them
after it.

References
----------
He, Zhang, Ren, Sun, "Identity Mappings in Deep Residual Networks", 2016, arXiv:1603.05027.
Szegedy, Ioffe, Vanhoucke, Alemi, "Inception-v4, Inception-ResNet and the Impact of
Residual Connections on Learning", 2016, arXiv:1602.07261 (residual branch scaling).
Srivastava, Greff, Schmidhuber, "Highway Networks", 2015, arXiv:1505.00387.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from fnnlab.nn.activations import ACTIVATIONS
from fnnlab.nn.dropout import DROPOUTS
from fnnlab.nn.normalization import NORMS
from fnnlab.nn.reparam import REPARAMS
from fnnlab.registry import Registry

BLOCKS: Registry = Registry("block")

LayerLike = str | Callable[..., nn.Module]

_STEPS = ("norm", "act", "drop")


def make_dropout(kind: LayerLike, p: float, activation: nn.Module) -> nn.Module:
    """The dropout layer of rate ``p`` that follows ``activation`` (identity for p = 0).

    ``"alpha_dropout"`` after a SELU gets that SELU's alpha and scale.
    """
    if p == 0.0:
        return nn.Identity()
    kwargs = {}
    if isinstance(kind, str) and DROPOUTS.canonical(kind) == "alpha_dropout":
        # Alpha dropout must know the SELU it follows: dropped units take that SELU's
        # saturation value, and the affine correction depends on alpha and scale.
        if hasattr(activation, "alpha") and hasattr(activation, "scale"):
            kwargs = {"alpha": float(activation.alpha), "scale": float(activation.scale)}
    return DROPOUTS.create(kind, p, **kwargs)


def highway_gate_bias(blocks: int) -> float:
    r"""The default initial transform-gate bias of a stack of ``blocks`` highway blocks.

    .. math::

        b_T(L) = \min(-1, -\ln L)

    so L = 1..2 blocks start at -1, 8 at -2.1, 16 at -2.8, 32 at -3.5, 49 at -3.9 and
    100 at -4.6. With b_T = -ln L each gate starts near sigmoid(b_T) = 1 / (L + 1), so the
    whole stack transforms about one layer's worth at initialization and the carry path
    alone hands the top block a share (L / (L + 1))^L >= 1/e of its input, whatever the
    depth. Shallow stacks keep Srivastava et al.'s mildest value, -1.

    Srivastava, Greff & Schmidhuber initialize b_T negative, "e.g. -1, -3", so that a new
    network is biased towards carrying its input. They give values, not a rule; the
    formula is ours: it follows from the carry argument above and covers their examples
    (-1 for two blocks, -3 at 20, about -4 at 50). The bias stays a hyperparameter: the
    paper grid searches it (``fnnlab.bench.grids.PAPER``).

    Parameters
    ----------
    blocks : int
        Number of highway blocks in the stack, >= 1.

    Returns
    -------
    float
        The bias, <= -1.

    References
    ----------
    Srivastava, Greff, Schmidhuber, "Highway Networks", 2015, arXiv:1505.00387, Sec. 2
    (initialization); "Training Very Deep Networks", NIPS 2015, arXiv:1507.06228, Sec. 2.2.
    """
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 1:
        raise ValueError(f"highway_gate_bias needs a number of blocks >= 1, got {blocks!r}.")
    return min(-1.0, -math.log(blocks))


def check_rate(name: str, value: float) -> None:
    """Raise ValueError unless the dropout rate ``value`` is in [0, 1)."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}.")


def _parse_order(order: str) -> tuple[str, ...]:
    steps = tuple(order.split("_"))
    if steps[:1] != ("linear",) or sorted(steps[1:]) != sorted(_STEPS):
        raise ValueError(
            f"order must be 'linear' followed by 'norm', 'act' and 'drop' in any order, "
            f"joined by '_' (e.g. 'linear_norm_act_drop'), got {order!r}."
        )
    return steps[1:]


@BLOCKS.register("dense", "plain")
class Dense(nn.Module):
    r"""Fully connected layer followed by normalization, activation and dropout.

    y = drop(act(norm(W x + b)))   for the default ``order="linear_norm_act_drop"``.

    With a Maxout activation of ``pieces = k`` the linear map has ``k * out_features``
    outputs, and the maxout reduces them to ``out_features`` (Goodfellow et al. 2013).
    Shape: (N, in_features) -> (N, out_features).

    Parameters
    ----------
    in_features, out_features : int
        Widths of input and output.
    activation : str or callable, default="relu"
        Name in ``fnnlab.nn.ACTIVATIONS`` or a module class / factory.
    norm : str or callable, default="none"
        Name in ``fnnlab.nn.NORMS``; called with the number of features it sees.
    dropout : float, default=0.0
        Dropout rate in [0, 1); 0 adds no layer.
    dropout_kind : str, default="dropout"
        Name in ``fnnlab.nn.DROPOUTS``. ``"alpha_dropout"`` after a SELU uses that
        SELU's alpha and scale.
    reparam : str, default="none"
        Linear-layer parametrization in ``fnnlab.nn.REPARAMS`` ("weight_norm", ...).
    order : str, default="linear_norm_act_drop"
        The order of the steps after the linear map. ``"linear_act_norm_drop"`` puts the
        normalization after the nonlinearity, as some practitioners prefer; the default
        is Ioffe & Szegedy's (normalize the pre-activations).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        activation: LayerLike = "relu",
        norm: LayerLike = "none",
        dropout: float = 0.0,
        dropout_kind: LayerLike = "dropout",
        reparam: LayerLike = "none",
        order: str = "linear_norm_act_drop",
    ) -> None:
        super().__init__()
        check_rate("dropout", dropout)
        self.in_features = in_features
        self.out_features = out_features
        self.order = order
        steps = _parse_order(order)
        act = ACTIVATIONS.create(activation)
        pieces = int(getattr(act, "pieces", 1))
        self.linear = REPARAMS.create(reparam, in_features, out_features * pieces)
        norm_before_act = steps.index("norm") < steps.index("act")
        self.norm = NORMS.create(norm, out_features * pieces if norm_before_act else out_features)
        self.act = act
        self.drop = make_dropout(dropout_kind, dropout, act)
        self._steps = steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.linear(x)
        for step in self._steps:
            x = getattr(self, step)(x)
        return x

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"order={self.order!r}"


def _check_hidden_features(hidden: int | None, features: int, branch_layers: int) -> int:
    if hidden is None:
        return features
    if isinstance(hidden, bool) or not isinstance(hidden, int) or not 1 <= hidden <= features:
        raise ValueError(f"hidden_features must be an int from 1 to features={features}, "
                         f"got {hidden!r}.")
    if branch_layers != 2 and hidden != features:
        raise ValueError(f"hidden_features={hidden} needs branch_layers=2 (a one-layer branch "
                         f"has no inner layer to narrow), got branch_layers={branch_layers}.")
    return hidden


@BLOCKS.register("residual", "resnet")
class Residual(nn.Module):
    r"""Pre-activation residual block with optional constant branch scaling.

    y = x + s * F(x),   F(x) = W_2 act(norm_2(W_1 drop(act(norm_1(x)))))   (branch_layers=2)
                        F(x) = W_1 drop(act(norm_1(x)))                      (branch_layers=1)

    With two linear maps, W_1 is (hidden_features x features) and W_2 (features x
    hidden_features): ``hidden_features = features`` gives a rectangular block, a smaller
    value a "diavolo" block (wide - narrow - wide, the SNN paper's name for a bottleneck
    block; Klambauer et al. 2017, supplement A4).

    The two-layer branch is the "full pre-activation" unit of He et al. (2016); the
    one-layer branch is the resnet Balduzzi et al. (2017) analyse. Either way the skip
    path is a pure identity, so a deep stack starts close to the identity map and
    gradients reach early layers.
    ``s`` is Szegedy et al.'s residual scaling (0.1--0.3 in Inception-v4); Balduzzi et al.
    (2017) show it also slows the decorrelation of gradients with depth.
    Shape: (N, features) -> (N, features).

    Parameters
    ----------
    in_features, out_features : int
        Must be equal: the identity shortcut keeps the width.
    activation, norm, dropout, dropout_kind, reparam :
        As in :class:`Dense`; dropout sits between the two linear maps of the branch.
    branch_scale : float, default=1.0
        The constant ``s`` multiplying the residual branch.
    branch_layers : {1, 2}, default=2
        Linear maps in the branch. With one, gradients stay correlated across inputs
        much longer with depth (0.6 after 24 blocks with batch norm, against 0.03 for
        two; measured by ``fnnlab.diagnostics.shattered_gradients``).
    hidden_features : int or None, default=None
        Width of the branch's inner layer (between W_1 and W_2), 1 to ``features``;
        None means ``features``. Needs ``branch_layers=2``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        activation: LayerLike = "relu",
        norm: LayerLike = "batch",
        dropout: float = 0.0,
        dropout_kind: LayerLike = "dropout",
        reparam: LayerLike = "none",
        branch_scale: float = 1.0,
        branch_layers: int = 2,
        hidden_features: int | None = None,
    ) -> None:
        super().__init__()
        if branch_layers not in (1, 2):
            raise ValueError(f"branch_layers must be 1 or 2, got {branch_layers!r}.")
        hidden_features = _check_hidden_features(hidden_features, in_features, branch_layers)
        if in_features != out_features:
            raise ValueError(
                f"A residual block keeps the width (identity shortcut), got in_features="
                f"{in_features} and out_features={out_features}. Put a dense layer in front "
                f"to change the width."
            )
        check_rate("dropout", dropout)
        if branch_scale <= 0:
            raise ValueError(f"branch_scale must be > 0, got {branch_scale}.")
        self.features = in_features
        self.hidden_features = hidden_features
        self.branch_scale = float(branch_scale)
        self.branch_layers = branch_layers
        self.norm1 = NORMS.create(norm, in_features)
        self.act1 = ACTIVATIONS.create(activation)
        pieces = int(getattr(self.act1, "pieces", 1))
        if pieces != 1:
            raise ValueError("Maxout changes the width and cannot be used in a residual block.")
        inner = hidden_features if branch_layers == 2 else in_features
        self.linear1 = REPARAMS.create(reparam, in_features, inner)
        self.drop = make_dropout(dropout_kind, dropout, self.act1)
        if branch_layers == 2:
            self.norm2 = NORMS.create(norm, inner)
            self.act2 = ACTIVATIONS.create(activation)
            self.linear2 = REPARAMS.create(reparam, inner, in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.linear1(self.drop(self.act1(self.norm1(x))))
        if self.branch_layers == 2:
            h = self.linear2(self.act2(self.norm2(h)))
        return x + self.branch_scale * h

    def extra_repr(self) -> str:
        return (f"features={self.features}, hidden_features={self.hidden_features}, "
                f"branch_scale={self.branch_scale}, branch_layers={self.branch_layers}")


@BLOCKS.register("highway")
class Highway(nn.Module):
    r"""Gated mix of a transform of the input and the input itself.

    y = T(x) * H(x) + (1 - T(x)) * x,  T(x) = sigmoid(W_T x + b_T),  H(x) = act(norm(W_H x + b_H))

    The gates are the GRU's update gate applied along depth instead of time.
    Shape: (N, features) -> (N, features).

    Parameters
    ----------
    in_features, out_features : int
        Must be equal: the carry path keeps the width.
    activation, norm, dropout, dropout_kind, reparam :
        As in :class:`Dense`; they act on the transform path H, dropout after it.
    gate_bias : float, default=-2.0
        Initial b_T. Negative, so a new block mostly carries x through and a deep stack
        starts out behaving like a shallow one (the paper suggests -1 to -3). A network
        chooses it from its depth with :func:`highway_gate_bias`. It is a parameter of its
        own, so initializers that zero linear biases leave it alone.

    References
    ----------
    Srivastava, Greff, Schmidhuber, "Highway Networks", 2015, arXiv:1505.00387.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        activation: LayerLike = "relu",
        norm: LayerLike = "none",
        dropout: float = 0.0,
        dropout_kind: LayerLike = "dropout",
        reparam: LayerLike = "none",
        gate_bias: float = -2.0,
    ) -> None:
        super().__init__()
        if in_features != out_features:
            raise ValueError(
                f"A highway block keeps the width (carry path), got in_features={in_features} "
                f"and out_features={out_features}. Put a dense layer in front to change the width."
            )
        check_rate("dropout", dropout)
        self.features = in_features
        self.gate_bias = float(gate_bias)
        self.transform = Dense(in_features, in_features, activation=activation, norm=norm,
                               dropout=dropout, dropout_kind=dropout_kind, reparam=reparam)
        self.gate = nn.Linear(in_features, in_features, bias=False)
        self.gate_offset = nn.Parameter(torch.empty(in_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.constant_(self.gate_offset, self.gate_bias)

    def transform_gate(self, x: torch.Tensor) -> torch.Tensor:
        """The transform gate T(x) in (0, 1): the share of H(x) in the output."""
        return torch.sigmoid(self.gate(x) + self.gate_offset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.transform_gate(x)
        return t * self.transform(x) + (1.0 - t) * x

    def extra_repr(self) -> str:
        return f"features={self.features}, gate_bias={self.gate_bias}"
