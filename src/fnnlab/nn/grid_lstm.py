"""Grid LSTM: LSTM cells along every dimension of a grid, depth included.

A Grid LSTM block sits at one point of an N-dimensional grid. It receives one hidden
vector and one memory vector per dimension, and sends one updated pair on along each
dimension. With N = 1 the only dimension is depth, and a stack of blocks is a
feedforward network whose layers talk through LSTM gates, the way a highway network's
layers talk through GRU-like gates. With N = 2 one dimension is time (or any data
axis) and the other depth.

This file holds the block (:class:`GridLSTM`), the two networks built from it
(:class:`GridLSTMStack` along depth, :class:`GridLSTMNetwork` over time x depth) and
the depth-only block of the ``BLOCKS`` registry (:class:`GridLSTMBlock`, name
``"grid_lstm"``).

References
----------
Kalchbrenner, Danihelka, Graves, "Grid Long Short-Term Memory", 2015, arXiv:1507.01526.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fnnlab.nn.activations import ACTIVATIONS
from fnnlab.nn.blocks import BLOCKS, LayerLike, check_rate, make_dropout
from fnnlab.nn.normalization import NORMS
from fnnlab.nn.reparam import REPARAMS

_MAX_NDIM = 3

# Note [Grid LSTM initialization]
# Along depth a block maps its state through f * m + i * act(W H) with i, o ~ 1/2 at
# init, so a small signal is multiplied per layer by about f + W / 4 (tanh and sigmoid
# near the origin). With forget bias 3 (f = 0.95) and W ~ N(0, 3 / fan_in) the state's
# spread and the per-layer gradient norms of a 50-block stack stay within a factor of
# about 2 from bottom to top; torch's default Linear init (variance 1 / (3 fan_in)) or a
# forget bias of 1 lets the signal die out within 20 blocks. Measured in
# tests/nn/test_grid_lstm.py.
_WEIGHT_STD = 3.0**0.5


def _check_dims(name: str, dims: Sequence[int], ndim: int) -> tuple[int, ...]:
    if isinstance(dims, int | str) or not isinstance(dims, Sequence):
        raise TypeError(f"{name} must be a sequence of dimension indices, got {dims!r}.")
    dims = tuple(dims)
    for d in dims:
        if not isinstance(d, int) or not 0 <= d < ndim:
            raise ValueError(
                f"{name} holds dimension indices in [0, {ndim}) for ndim={ndim}, got {dims!r}."
            )
    if len(set(dims)) != len(dims):
        raise ValueError(f"{name} lists a dimension twice: {dims!r}.")
    return dims


class GridLSTM(nn.Module):
    r"""One block of an N-dimensional Grid LSTM (N = 1, 2, 3).

    The block takes a hidden vector h_i and a memory vector m_i for each dimension
    i = 1..N, concatenates the hidden vectors into H = [h_1; ...; h_N] and applies one
    transform per dimension, each with its own weights W_i:

    .. math::

        g^u, g^f, g^o = \sigma(W_i^{u,f,o} H + b_i^{u,f,o}), \quad
        g^c = \mathrm{act}(W_i^c H + b_i^c) \\
        m_i' = g^f \odot m_i + g^u \odot g^c, \qquad h_i' = \tanh(g^o \odot m_i')

    This is the paper's LSTM (its Eq. 1, biases written out): the output gate acts
    inside the tanh, not outside as in torch's ``nn.LSTM``. A *non-LSTM dimension*
    (Sec. 3.3) uses ``h_i' = act(W_i H + b_i)`` instead and passes its memory through
    unchanged. *Priority dimensions* (Sec. 3.2) are computed after the others, in the
    order given, each from an H that holds the new hidden vectors of the dimensions
    computed before it (and its own incoming h).

    Shape: ``h`` and ``m`` are sequences of N tensors of shape (B, hidden_size);
    ``forward`` returns the lists ``(h', m')`` in the same layout.

    Parameters
    ----------
    hidden_size : int
        Width d of every hidden and memory vector; H has N * d features.
    ndim : int, default=1
        Number of grid dimensions N, 1 to 3.
    non_lstm : sequence of int, default=()
        Dimensions whose transform is the plain ``act(W H + b)``.
    priority : sequence of int, default=()
        Dimensions computed last, in this order; the others are computed in parallel
        from the incoming H.
    activation : str or callable, default="tanh"
        The cell input nonlinearity g^c (tanh in the paper), also used by non-LSTM
        dimensions. A name in ``fnnlab.nn.ACTIVATIONS`` or a module class.
    forget_bias : float, default=3.0
        Initial bias of the forget gates. Positive, so a new block keeps most of its
        incoming memory (sigmoid(3) = 0.95) and gradients reach the bottom of a deep
        stack through the memory path: the LSTM's answer to vanishing gradients, applied
        along depth. See Note [Grid LSTM initialization].
    norm : str or callable, default="none"
        Name in ``fnnlab.nn.NORMS`` applied to the pre-activations W_i H (4d features
        for an LSTM dimension, as in layer-normalized LSTMs).
    dropout : float, default=0.0
        Dropout rate on the cell input g^c (the memory itself is never dropped), and on
        the output of non-LSTM dimensions.
    dropout_kind : str or callable, default="dropout"
        Name in ``fnnlab.nn.DROPOUTS``.
    reparam : str or callable, default="none"
        Linear-layer parametrization in ``fnnlab.nn.REPARAMS``.

    Notes
    -----
    Weights start as N(0, 3 / fan_in) (plain ``nn.Linear`` maps only; a reparametrized
    map keeps its own init). Gate biases are parameters of their own (``bias``), not the
    biases of the linear maps, so initializers that zero linear biases keep the
    forget-gate bias. Tying
    weights along a dimension means reusing one block at every point of that dimension;
    :class:`GridLSTMStack` and :class:`GridLSTMNetwork` offer it for depth.

    References
    ----------
    Kalchbrenner, Danihelka, Graves, "Grid Long Short-Term Memory", 2015, arXiv:1507.01526.
    """

    def __init__(
        self,
        hidden_size: int,
        ndim: int = 1,
        *,
        non_lstm: Sequence[int] = (),
        priority: Sequence[int] = (),
        activation: LayerLike = "tanh",
        forget_bias: float = 3.0,
        norm: LayerLike = "none",
        dropout: float = 0.0,
        dropout_kind: LayerLike = "dropout",
        reparam: LayerLike = "none",
    ) -> None:
        super().__init__()
        if not isinstance(hidden_size, int) or hidden_size < 1:
            raise ValueError(f"hidden_size must be a positive int, got {hidden_size!r}.")
        if not isinstance(ndim, int) or not 1 <= ndim <= _MAX_NDIM:
            raise ValueError(f"ndim must be 1, 2 or 3, got {ndim!r}.")
        check_rate("dropout", dropout)
        self.hidden_size = hidden_size
        self.ndim = ndim
        self.non_lstm = _check_dims("non_lstm", non_lstm, ndim)
        self.priority = _check_dims("priority", priority, ndim)
        self.forget_bias = float(forget_bias)
        self.dropout = float(dropout)
        # Dimensions computed in parallel from the incoming H, then the priority ones.
        self._order = (
            tuple(i for i in range(ndim) if i not in self.priority),
            *((p,) for p in self.priority),
        )
        in_features = ndim * hidden_size
        self.linears = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.acts = nn.ModuleList()
        self.drops = nn.ModuleList()
        self.bias = nn.ParameterList()
        for i in range(ndim):
            out = hidden_size if i in self.non_lstm else 4 * hidden_size
            self.linears.append(REPARAMS.create(reparam, in_features, out, bias=False))
            self.norms.append(NORMS.create(norm, out))
            act = ACTIVATIONS.create(activation)
            if int(getattr(act, "pieces", 1)) != 1:
                raise ValueError("Maxout changes the width and cannot be used in a Grid LSTM.")
            self.acts.append(act)
            self.drops.append(make_dropout(dropout_kind, dropout, act))
            self.bias.append(nn.Parameter(torch.empty(out)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the weights and set the biases; see Note [Grid LSTM initialization].

        Weights of plain ``nn.Linear`` maps ~ N(0, 3 / fan_in); gate biases 0 except the
        forget gates', which get ``forget_bias``.
        """
        d = self.hidden_size
        with torch.no_grad():
            for linear in self.linears:
                if isinstance(linear, nn.Linear):
                    nn.init.normal_(linear.weight, 0.0, _WEIGHT_STD / linear.in_features**0.5)
            for i, bias in enumerate(self.bias):
                bias.zero_()
                if i not in self.non_lstm:
                    bias[d : 2 * d] = self.forget_bias  # layout: input, forget, output, cell

    def _transform(
        self, i: int, hidden: torch.Tensor, memory: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = self.norms[i](self.linears[i](hidden)) + self.bias[i]
        if i in self.non_lstm:
            return self.drops[i](self.acts[i](z)), memory
        gate_in, gate_forget, gate_out, cell = z.chunk(4, dim=-1)  # each (B, d)
        cell = self.drops[i](self.acts[i](cell))
        new_memory = torch.sigmoid(gate_in) * cell
        if memory is not None:
            new_memory = new_memory + torch.sigmoid(gate_forget) * memory
        return torch.tanh(torch.sigmoid(gate_out) * new_memory), new_memory

    def forward(
        self, h: Sequence[torch.Tensor], m: Sequence[torch.Tensor | None]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        """Return the new hidden and memory vectors, one per dimension.

        ``m[i] = None`` stands for a zero memory (the grid's boundary).
        """
        if len(h) != self.ndim or len(m) != self.ndim:
            raise ValueError(
                f"GridLSTM with ndim={self.ndim} takes {self.ndim} hidden and {self.ndim} "
                f"memory vectors, got {len(h)} and {len(m)}."
            )
        h_new, m_new = list(h), list(m)
        for group in self._order:
            hidden = torch.cat(h_new, dim=-1)  # (B, ndim * d): newest h of every dimension
            outputs = [self._transform(i, hidden, m[i]) for i in group]
            for i, (h_i, m_i) in zip(group, outputs, strict=True):
                h_new[i], m_new[i] = h_i, m_i
        return h_new, m_new

    def extra_repr(self) -> str:
        return (
            f"hidden_size={self.hidden_size}, ndim={self.ndim}, non_lstm={self.non_lstm}, "
            f"priority={self.priority}, forget_bias={self.forget_bias}, dropout={self.dropout}"
        )


class GridLSTMStack(nn.Module):
    r"""A 1-D Grid LSTM along depth: a feedforward network with LSTM gating between layers.

    (h_0, m_0) = split(W_in x + b_in),  (h_l, m_l) = GridLSTM_l(h_{l-1}, m_{l-1}),
    y = W_out h_L + b_out.

    The whole input goes in through one projection at the bottom, as in the paper's
    parity experiment (Sec. 4.1). Shape: (N, in_features) -> (N, out_features).

    Parameters
    ----------
    in_features, out_features : int
        Widths of input and output.
    hidden_size : int
        Width d of the hidden and memory vectors.
    depth : int
        Number of Grid LSTM blocks.
    tied : bool, default=False
        Use one block (one set of weights) at every layer, as the paper's tied 1-LSTM.
    **kwargs
        Passed to every :class:`GridLSTM` (``forget_bias``, ``activation``, ...).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden_size: int,
        depth: int,
        *,
        tied: bool = False,
        **kwargs,
    ) -> None:
        super().__init__()
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive int, got {depth!r}.")
        self.depth = depth
        self.tied = bool(tied)
        self.hidden_size = hidden_size
        self.input = nn.Linear(in_features, 2 * hidden_size)
        n_blocks = 1 if tied else depth
        self.blocks = nn.ModuleList(GridLSTM(hidden_size, 1, **kwargs) for _ in range(n_blocks))
        self.head = nn.Linear(hidden_size, out_features)

    def layers(self) -> list[GridLSTM]:
        """The block applied at each layer, bottom to top (the same object if tied)."""
        return [self.blocks[0 if self.tied else l] for l in range(self.depth)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, m = self.input(x).chunk(2, dim=-1)
        for block in self.layers():
            (h,), (m,) = block([h], [m])
        return self.head(h)

    def extra_repr(self) -> str:
        return f"depth={self.depth}, tied={self.tied}"


class GridLSTMNetwork(nn.Module):
    r"""A 2-D Grid LSTM over time x depth for sequences (the paper's 2-LSTM).

    Dimension 0 is time, dimension 1 is depth. At step t the input is projected into the
    depth pair at the bottom, (h, m) = split(W_in x_t + b_in); the block at (t, l) gets
    the time pair from (t-1, l) and the depth pair from (t, l-1); the output at step t
    is read from the depth hidden vector at the top, y_t = W_out h + b_out. Weights are
    always tied along time (a recurrent network) and optionally along depth.
    Shape: (N, T, in_features) -> (N, T, out_features).

    Parameters
    ----------
    in_features, out_features : int
        Widths of each step's input and output.
    hidden_size : int
        Width d of every hidden and memory vector.
    depth : int
        Number of blocks along depth.
    tied_depth : bool, default=False
        Share one block across all layers.
    priority : {"depth", "time", None}, default="depth"
        Which dimension is computed last from the other's new hidden vector.
    **kwargs
        Passed to every :class:`GridLSTM`.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden_size: int,
        depth: int,
        *,
        tied_depth: bool = False,
        priority: str | None = "depth",
        **kwargs,
    ) -> None:
        super().__init__()
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive int, got {depth!r}.")
        priorities = {"time": (0,), "depth": (1,), None: ()}
        if priority not in priorities:
            raise ValueError(f"priority must be 'depth', 'time' or None, got {priority!r}.")
        self.depth = depth
        self.tied_depth = bool(tied_depth)
        self.priority = priority
        self.hidden_size = hidden_size
        self.input = nn.Linear(in_features, 2 * hidden_size)
        n_blocks = 1 if tied_depth else depth
        self.blocks = nn.ModuleList(
            GridLSTM(hidden_size, 2, priority=priorities[priority], **kwargs)
            for _ in range(n_blocks)
        )
        self.head = nn.Linear(hidden_size, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(
                f"GridLSTMNetwork takes (batch, time, features), got shape {tuple(x.shape)}."
            )
        batch, steps, _ = x.shape
        h_time = [x.new_zeros(batch, self.hidden_size)] * self.depth
        m_time: list[torch.Tensor | None] = [None] * self.depth
        outputs = []
        for t in range(steps):
            h_depth, m_depth = self.input(x[:, t]).chunk(2, dim=-1)
            for l in range(self.depth):
                block = self.blocks[0 if self.tied_depth else l]
                (h_time[l], h_depth), (m_time[l], m_depth) = block(
                    [h_time[l], h_depth], [m_time[l], m_depth]
                )
            outputs.append(self.head(h_depth))
        return torch.stack(outputs, dim=1)  # (N, T, out_features)

    def extra_repr(self) -> str:
        return f"depth={self.depth}, tied_depth={self.tied_depth}, priority={self.priority!r}"


@BLOCKS.register("grid_lstm")
class GridLSTMBlock(nn.Module):
    r"""A 1-D Grid LSTM block for a feedforward network: (N, F) -> (N, F) with F = 2d.

    The tensor between blocks is the block's whole state, hidden and memory vector side
    by side, x = [h; m]. The block computes (h', m') = GridLSTM(h, m) and returns [h'; m'].
    See Note [packing h and m] below for why. The dense input layer in front of the
    first block therefore projects the input into both h_0 and m_0, as in
    :class:`GridLSTMStack`, and the head reads both halves of the last state.

    With a weight matrix of 4d x d per block (plus 4d biases) the block has F^2 + 2F
    parameters: about as many as a dense layer of width F, half as many as a highway
    block of width F.

    Parameters
    ----------
    in_features, out_features : int
        Must be equal and even: the state is [h; m] with d = F / 2 each.
    activation, norm, dropout, dropout_kind, reparam :
        As in :class:`GridLSTM`: activation is the cell input nonlinearity g^c (tanh
        in the paper), norm acts on the gate pre-activations, dropout on g^c.
    forget_bias : float, default=3.0
        Initial forget-gate bias (see :class:`GridLSTM`).

    References
    ----------
    Kalchbrenner, Danihelka, Graves, "Grid Long Short-Term Memory", 2015, arXiv:1507.01526.
    """

    #: The block draws its own weights (Note [Grid LSTM initialization]): a network's
    #: initializer must leave them alone, since the gates' scale and forget bias are
    #: what keeps a deep stack's signal and gradients alive.
    initializes_itself = True

    # Note [packing h and m]
    # A depth-wise Grid LSTM passes two vectors from layer to layer, but the FNN's hidden
    # blocks are independent modules chained by one tensor, inspected by forward hooks
    # and stacked by vectorized training. Passing [h; m] as that tensor keeps every block
    # a pure function of its input: no state kept on the module between calls, no order
    # in which blocks must be called, and a hook on a block sees its entire output state.
    # The price: F must be even, and per-layer statistics mix hidden (bounded by tanh)
    # and memory (unbounded) units.

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        activation: LayerLike = "tanh",
        norm: LayerLike = "none",
        dropout: float = 0.0,
        dropout_kind: LayerLike = "dropout",
        reparam: LayerLike = "none",
        forget_bias: float = 3.0,
    ) -> None:
        super().__init__()
        if in_features != out_features or in_features % 2:
            raise ValueError(
                f"A grid_lstm block keeps the width, which holds [h; m] and so must be even; "
                f"got in_features={in_features} and out_features={out_features}. Use an even "
                f"width and put a dense layer in front to change it."
            )
        self.features = in_features
        self.cell = GridLSTM(
            in_features // 2, 1, activation=activation, forget_bias=forget_bias, norm=norm,
            dropout=dropout, dropout_kind=dropout_kind, reparam=reparam,
        )

    def reset_parameters(self) -> None:
        """Reset every layer of the cell, then draw the cell's own initialization.

        Resetting the linear maps and norms first and the cell last is what keeps the
        documented N(0, 3 / fan_in) weights and forget bias: ``nn.Linear``'s own reset
        would otherwise overwrite them.
        """
        for module in self.cell.modules():
            if module is not self.cell and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        self.cell.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, m = x.chunk(2, dim=-1)
        (h,), (m,) = self.cell([h], [m])
        return torch.cat([h, m], dim=-1)

    def extra_repr(self) -> str:
        return f"features={self.features}"
