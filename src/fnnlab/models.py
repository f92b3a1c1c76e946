"""Model specs, method presets and the feedforward network they build.

``FNNSpec`` describes an architecture as data (it round-trips through JSON and
keys the benchmark results); ``METHODS`` holds the presets of the SNN paper's
comparison (Klambauer et al. 2017, "Self-Normalizing Neural Networks",
arXiv:1706.02515, Sec. 4); ``build(spec)`` turns a spec into an :class:`FNN`.

A preset fills every architectural field the spec leaves as ``None``; a field
set on the spec overrides the preset, so ``FNNSpec(..., method="snn",
depth=32, dropout=0.05)`` is the SNN preset at depth 32 with 5% alpha dropout.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import math
from dataclasses import dataclass, field, fields
from typing import Any

import torch
from torch import nn

from fnnlab.nn.activations import ACTIVATIONS
from fnnlab.nn.blocks import BLOCKS, highway_gate_bias, make_dropout
from fnnlab.nn.dropout import DROPOUTS
from fnnlab.nn.init import INITIALIZERS, check_selu_init, initialize_, lsuv_
from fnnlab.nn.normalization import NORMS
from fnnlab.nn.reparam import REPARAMS, data_dependent_init_
from fnnlab.registry import Registry

# Initializers that need a batch of data; they run in FNN.data_init_.
_DATA_DEPENDENT_INITS = ("lsuv",)


@dataclass(frozen=True)
class Method:
    """A named preset: the architectural choices one method of the comparison makes.

    Every field is a default for the matching ``FNNSpec`` field; ``gate_bias=None``
    means "chosen from the depth" (:func:`fnnlab.nn.blocks.highway_gate_bias`) and
    ``final_width=None`` "chosen from the width" (see ``FNNSpec``).
    """

    name: str
    description: str
    activation: str = "relu"
    norm: str = "none"
    init: str = "he_normal"
    dropout_kind: str = "dropout"
    block: str = "dense"
    reparam: str = "none"
    order: str = "linear_norm_act_drop"
    dropout: float = 0.0
    input_dropout: float = 0.0
    branch_scale: float = 1.0
    branch_layers: int = 2
    gate_bias: float | None = None
    layer_form: str = "rectangular"
    final_width: int | None = None
    block_form: str = "rectangular"
    bottleneck: float = 0.5


METHODS: Registry = Registry("method")


def _preset(name: str, *aliases: str, **choices: Any) -> None:
    METHODS.register(name, *aliases)(Method(name=name, **choices))


_preset("snn", "selu", description="Self-normalizing network: SELU, LeCun normal init, "
        "alpha dropout, no normalization (Klambauer et al. 2017).",
        activation="selu", init="lecun_normal", dropout_kind="alpha_dropout")
_preset("msra", "relu", description="Plain ReLU network with MSRA (He) initialization "
        "(He et al. 2015).")
_preset("batchnorm", "bn", description="ReLU network with batch normalization before each "
        "activation (Ioffe & Szegedy 2015).", norm="batch")
_preset("batch_renorm", description="ReLU network with batch renormalization "
        "(Ioffe 2017).", norm="batch_renorm")
_preset("layernorm", "ln", description="ReLU network with layer normalization "
        "(Ba, Kiros & Hinton 2016).", norm="layer")
_preset("weightnorm", "wn", description="ReLU network with weight normalization and its "
        "data-dependent initialization (Salimans & Kingma 2016).", reparam="weight_norm")
_preset("weightnorm_mean_only", description="Weight normalization combined with mean-only "
        "batch normalization (Salimans & Kingma 2016, Sec. 4).",
        reparam="weight_norm", norm="mean_only_batch")
_preset("highway", "hw", description="Highway network: ReLU transform, sigmoid gates with "
        "negative initial bias (Srivastava et al. 2015).", block="highway")
_preset("grid_lstm", description="Depth-wise 1-D Grid LSTM: LSTM gating along depth "
        "(Kalchbrenner, Danihelka & Graves 2015); the dense input layer makes the first "
        "hidden and memory vectors. LeCun normal init for the input layer and the head; "
        "the blocks keep their own.", block="grid_lstm", activation="tanh",
        init="lecun_normal")
_preset("resnet", description="Pre-activation residual network with batch normalization "
        "(He et al. 2016).", block="residual", norm="batch")


# The keys of to_dict() while a resnet's depth still counted its dense input layer.
_FIELDS_BEFORE_BLOCK_COUNT = frozenset({
    "in_features", "out_features", "depth", "width", "method", "activation", "norm", "init",
    "dropout", "dropout_kind", "input_dropout", "block", "reparam", "order", "branch_scale",
    "branch_layers", "gate_bias", "activation_params",
})
_LAYER_FORMS = ("rectangular", "conic")
_BLOCK_FORMS = ("rectangular", "diavolo")


def _preset_of(spec: FNNSpec) -> Method:
    return METHODS.get(spec.method) if spec.method is not None else Method("", "")


def _check_number(name: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise TypeError(f"FNNSpec.{name} must be a number or None, got {value!r}.")


def _freeze_params(params: Any) -> tuple[tuple[str, float], ...]:
    if params is None:
        return ()
    if isinstance(params, dict):
        params = params.items()
    return tuple(sorted((str(k), v) for k, v in params))


@dataclass(frozen=True)
class FNNSpec:
    """The architecture of a feedforward network, as data.

    Fields left as ``None`` take the choice of the ``method`` preset (see ``METHODS``);
    with ``method=None`` they take the defaults of a plain ReLU network.

    Parameters
    ----------
    in_features, out_features : int
        Input width and number of outputs (classes, or regression targets).
    depth : int, default=8
        For residual blocks, the number of residual blocks after the dense input layer,
        as the SNN paper counts a resnet's depth (Klambauer et al. 2017, supplement A4:
        {2, 3, 4, 8, 16} blocks); with two linear maps per block a resnet of depth d has
        2d + 1 hidden linear layers. For every other block, the number of hidden layers,
        the dense input layer included (d - 1 highway or Grid LSTM blocks after it).
        Specs saved when a resnet's depth still counted the input layer load with the
        same network (see ``from_dict``).
    width : int, default=256
        Units per hidden layer; for ``layer_form="conic"`` the width of the first one.
    method : str or None, default="snn"
        Preset from ``METHODS``.
    activation, norm, init, dropout_kind, block, reparam : str or None
        Names in ``ACTIVATIONS``, ``NORMS``, ``INITIALIZERS`` (or ``"lsuv"``), ``DROPOUTS``,
        ``BLOCKS`` and ``REPARAMS``. ``init`` draws every linear weight except those of
        blocks that initialize themselves (``grid_lstm``: its gates need their own scale
        and forget bias, see :class:`fnnlab.nn.GridLSTMBlock`).
    dropout, input_dropout : float or None
        Dropout rate of the hidden layers and of the input, in [0, 1).
    order : str or None
        Order of the steps in a dense block (``"linear_norm_act_drop"``).
    branch_scale : float or None
        Residual branch scaling (residual blocks only).
    branch_layers : int or None
        Linear maps per residual branch, 1 or 2 (residual blocks only).
    gate_bias : float or None
        Initial transform-gate bias b_T of every highway block (highway blocks only).
        None: chosen from the number L = depth - 1 of highway blocks as
        b_T = min(-1, -ln L) (-1 for L <= 2, -2.1 at 8, -3.5 at 32, -3.9 at 49), so the
        carry path hands at least 1/e of the input to the top at any depth; see
        :func:`fnnlab.nn.blocks.highway_gate_bias` for the argument and Srivastava,
        Greff & Schmidhuber (2015, arXiv:1505.00387, arXiv:1507.06228 Sec. 2.2), who
        initialize b_T negative, "e.g. -1, -3". Must be finite.
    layer_form : {"rectangular", "conic"} or None
        Rectangular: every hidden layer has ``width`` units. Conic (dense blocks only):
        the widths shrink geometrically from ``width`` at the first hidden layer to
        ``final_width`` at the last, layer i of n getting
        ``round(width * (final_width / width) ** (i / (n - 1)))`` units (i = 0..n-1),
        so each layer is narrower than the one before by the same factor. The SNN paper
        searches both forms for its FNNs (supplement A4) without giving the conic
        widths; this definition is ours.
    final_width : int or None
        Width of the last hidden layer of a conic net, 1 to ``width``. None:
        ``max(width // 8, out_features)`` (capped at ``width``): an eighth of the first
        layer, never narrower than the output. Ignored by rectangular nets.
    block_form : {"rectangular", "diavolo"} or None
        Shape of a residual block's two-layer branch (residual blocks only).
        Rectangular: both linear maps keep ``width`` units. Diavolo (the SNN paper's
        name, supplement A4): the branch narrows to ``round(bottleneck * width)`` units
        between its two maps and widens back (wide - narrow - wide). Needs
        ``branch_layers=2``.
    bottleneck : float or None
        Inner width of a diavolo block as a share of ``width``, in (0, 1]; the paper
        searches {0.25, 0.5}. Ignored by rectangular blocks.
    activation_params : dict or tuple of pairs
        Keyword arguments of the activation, e.g. ``{"alpha": ..., "scale": ...}`` for a
        SELU with another fixed point (see ``fnnlab.theory.selu_parameters``). Stored as
        sorted pairs so the spec stays hashable.
    """

    in_features: int
    out_features: int
    depth: int = 8
    width: int = 256
    method: str | None = "snn"
    activation: str | None = None
    norm: str | None = None
    init: str | None = None
    dropout: float | None = None
    dropout_kind: str | None = None
    input_dropout: float | None = None
    block: str | None = None
    reparam: str | None = None
    order: str | None = None
    branch_scale: float | None = None
    branch_layers: int | None = None
    gate_bias: float | None = None
    layer_form: str | None = None
    final_width: int | None = None
    block_form: str | None = None
    bottleneck: float | None = None
    activation_params: tuple[tuple[str, float], ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "activation_params", _freeze_params(self.activation_params))
        for name in ("in_features", "out_features", "depth", "width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"FNNSpec.{name} must be an int, got {value!r}.")
            if value < 1:
                raise ValueError(f"FNNSpec.{name} must be >= 1, got {value}.")
        for name in ("dropout", "input_dropout"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < 1.0:
                raise ValueError(f"FNNSpec.{name} must be in [0, 1), got {value}.")
        _check_number("gate_bias", self.gate_bias)
        if self.gate_bias is not None and not math.isfinite(self.gate_bias):
            raise ValueError(f"FNNSpec.gate_bias must be finite, got {self.gate_bias}.")
        _check_number("bottleneck", self.bottleneck)
        if self.bottleneck is not None and not 0.0 < self.bottleneck <= 1.0:
            raise ValueError(f"FNNSpec.bottleneck must be in (0, 1], got {self.bottleneck}.")
        if self.method is not None:
            METHODS.canonical(self.method)
        checks = {"activation": ACTIVATIONS, "norm": NORMS, "dropout_kind": DROPOUTS,
                  "block": BLOCKS, "reparam": REPARAMS}
        for name, registry in checks.items():
            value = getattr(self, name)
            if value is not None:
                registry.canonical(value)
        if self.init is not None and self.init not in _DATA_DEPENDENT_INITS:
            INITIALIZERS.canonical(self.init)
        self._check_forms()

    def _check_forms(self) -> None:
        for name, allowed in (("layer_form", _LAYER_FORMS), ("block_form", _BLOCK_FORMS)):
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise ValueError(f"FNNSpec.{name} must be one of "
                                 f"{', '.join(map(repr, allowed))}, got {value!r}.")
        if self.final_width is not None:
            if isinstance(self.final_width, bool) or not isinstance(self.final_width, int):
                raise TypeError(f"FNNSpec.final_width must be an int or None, got "
                                f"{self.final_width!r}.")
            if not 1 <= self.final_width <= self.width:
                raise ValueError(f"FNNSpec.final_width must be from 1 to width={self.width} "
                                 f"(a conic net narrows), got {self.final_width}.")
        preset = _preset_of(self)
        block = BLOCKS.canonical(self.block if self.block is not None else preset.block)
        layer_form = self.layer_form or preset.layer_form
        if layer_form == "conic" and block != "dense":
            raise ValueError(f"FNNSpec.layer_form='conic' needs dense blocks, got "
                             f"block={block!r}, whose blocks keep the width. Use "
                             f"layer_form='rectangular' for {block} nets.")
        branch_layers = self.branch_layers or preset.branch_layers
        if (block == "residual" and (self.block_form or preset.block_form) == "diavolo"
                and branch_layers != 2):
            raise ValueError(f"FNNSpec.block_form='diavolo' narrows the middle of a two-layer "
                             f"residual branch, got branch_layers={branch_layers}. Use "
                             f"branch_layers=2 or block_form='rectangular'.")

    def resolved(self) -> FNNSpec:
        """This spec with every ``None`` filled in from the method preset.

        ``gate_bias`` then holds the depth-aware default, and ``final_width`` the
        default of a conic net (it stays None for a rectangular one).
        """
        preset = _preset_of(self)
        changes = {f.name: getattr(preset, f.name) for f in fields(Method)
                   if f.name not in ("name", "description") and getattr(self, f.name) is None}
        r = dataclasses.replace(self, **changes)
        if r.gate_bias is None:
            r = dataclasses.replace(r, gate_bias=highway_gate_bias(max(1, r.blocks())))
        if r.layer_form == "conic" and r.final_width is None:
            default = min(r.width, max(r.width // 8, r.out_features))
            r = dataclasses.replace(r, final_width=default)
        return r

    def blocks(self) -> int:
        """Number of hidden blocks after the dense input layer (``depth`` for a resnet)."""
        block = self.block if self.block is not None else _preset_of(self).block
        return self.depth if BLOCKS.canonical(block) == "residual" else self.depth - 1

    def layer_widths(self) -> list[int]:
        """Output width of each hidden module, the dense input layer first (blocks() + 1)."""
        r = self.resolved()
        n = r.blocks() + 1
        if r.layer_form != "conic" or n == 1:
            return [r.width] * n
        ratio = r.final_width / r.width
        return [round(r.width * ratio ** (i / (n - 1))) for i in range(n)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``FNNSpec.from_dict`` inverts it."""
        out = dataclasses.asdict(self)
        out["activation_params"] = dict(self.activation_params)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FNNSpec:
        """Build a spec from ``to_dict()`` output; an unknown key is an error.

        Missing fields take their defaults. A dict holding exactly the fields ``to_dict``
        wrote before ``layer_form``, ``final_width``, ``block_form`` and ``bottleneck``
        existed comes from the version in which a resnet's ``depth`` counted the dense
        input layer too (depth d: d - 1 residual blocks). Its depth becomes d - 1, so a
        saved resnet loads as the network it was trained as (a depth-1 one, which had no
        residual block, as a dense net). Any other dict is taken as it is.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"Unknown FNNSpec field(s) {', '.join(map(repr, unknown))}. "
                f"Known fields: {', '.join(sorted(known))}."
            )
        spec = cls(**data)
        if set(data) == _FIELDS_BEFORE_BLOCK_COUNT and spec.blocks() == spec.depth:
            if spec.depth == 1:
                return dataclasses.replace(spec, block="dense")
            return dataclasses.replace(spec, depth=spec.depth - 1)
        return spec

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FNNSpec:
        return cls.from_dict(json.loads(text))


class FNN(nn.Module):
    """A deep feedforward network built from an :class:`FNNSpec`.

    x -> input dropout -> hidden[0] (dense, in_features -> w_0)
      -> hidden[1..B] (the spec's block, w_{i-1} -> w_i) -> head (w_B -> out_features)

    with B = ``spec.blocks()`` (``depth`` residual blocks, ``depth - 1`` blocks of any
    other kind) and w_i = ``spec.layer_widths()[i]`` (all ``width`` unless conic).

    ``forward`` returns raw outputs (logits or linear predictions); the likelihood passed
    to ``fnnlab.fit`` turns them into probabilities or means. ``hidden`` is an
    ``nn.ModuleList`` (input layer first) so diagnostics can hook into every layer.
    """

    def __init__(self, spec: FNNSpec) -> None:
        super().__init__()
        self.spec = spec
        r = spec.resolved()
        self._resolved = r
        self.input_dropout = _input_dropout(r)
        activation = _activation_factory(r)
        common = dict(activation=activation, norm=r.norm, dropout=r.dropout,
                      dropout_kind=r.dropout_kind, reparam=r.reparam)
        widths = r.layer_widths()
        hidden = [BLOCKS.create("dense", r.in_features, widths[0], order=r.order, **common)]
        inner = round(r.bottleneck * r.width) if r.block_form == "diavolo" else r.width
        extra = {"residual": {"branch_scale": r.branch_scale, "branch_layers": r.branch_layers,
                              "hidden_features": max(1, inner)},
                 "highway": {"gate_bias": r.gate_bias},
                 "dense": {"order": r.order}}.get(BLOCKS.canonical(r.block), {})
        for w_in, w_out in itertools.pairwise(widths):
            hidden.append(BLOCKS.create(r.block, w_in, w_out, **extra, **common))
        self.hidden = nn.ModuleList(hidden)
        self.head = REPARAMS.create(r.reparam, widths[-1], r.out_features)
        # Saved with the weights, so a loaded model does not redo its data-dependent init.
        self.register_buffer("data_initialized", torch.tensor(False))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Apply the spec's initializer to every linear weight and zero the biases."""
        r = self._resolved
        if ACTIVATIONS.canonical(r.activation) == "selu":
            check_selu_init(r.init if r.init not in _DATA_DEPENDENT_INITS else "orthogonal",
                            stacklevel=5)
        # Submodules first (norm statistics, weight-norm directions, highway gate biases),
        # then the initializer, which would otherwise be undone by nn.Linear's own reset.
        # A block that initializes itself (a Grid LSTM knows its gates) is reset as a whole
        # and skipped by the initializer.
        _reset_submodules(self)
        init = "orthogonal" if r.init in _DATA_DEPENDENT_INITS else r.init
        for part in (*self.hidden, self.head):
            if not getattr(part, "initializes_itself", False):
                initialize_(part, init)
        self.data_initialized.fill_(False)

    @property
    def needs_data_init(self) -> bool:
        """True while a data-dependent initialization (weight norm, LSUV) has not run."""
        r = self._resolved
        wants = REPARAMS.canonical(r.reparam) == "weight_norm" or r.init in _DATA_DEPENDENT_INITS
        return wants and not bool(self.data_initialized)

    @torch.no_grad()
    def data_init_(self, x: torch.Tensor) -> FNN:
        """Run the data-dependent initializations the spec asks for on the batch ``x``.

        Weight normalization: g and b so every layer's pre-activations have mean 0 and
        variance 1 on ``x`` (Salimans & Kingma 2016). LSUV: rescale each layer to unit
        output variance (Mishkin & Matas 2016). Does nothing when neither is asked for.
        """
        r = self._resolved
        was_training = self.training
        self.train()
        if REPARAMS.canonical(r.reparam) == "weight_norm":
            data_dependent_init_(self, x)
        if r.init in _DATA_DEPENDENT_INITS:
            lsuv_(self, x)
        self.train(was_training)
        self.data_initialized.fill_(True)
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden representation, shape (N, spec.layer_widths()[-1])."""
        x = self.input_dropout(x)
        for block in self.hidden:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def extra_repr(self) -> str:
        r = self._resolved
        return (f"method={r.method!r}, depth={r.depth}, width={r.width}, block={r.block!r}, "
                f"layer_form={r.layer_form!r}")


def _reset_submodules(module: nn.Module) -> None:
    """``reset_parameters`` of every submodule, parents before children (pre-order).

    The descendants of a block with ``initializes_itself`` are left to its own
    ``reset_parameters``, which must run last.
    """
    for child in module.children():
        if hasattr(child, "reset_parameters"):
            child.reset_parameters()
        if not getattr(child, "initializes_itself", False):
            _reset_submodules(child)


def _activation_factory(r: FNNSpec) -> Any:
    params = dict(r.activation_params)
    if not params:
        return r.activation
    return functools.partial(ACTIVATIONS.get(r.activation), **params)


def _input_dropout(r: FNNSpec) -> nn.Module:
    if not r.input_dropout:
        return nn.Identity()
    # The input is treated like the output of the network's activation, so alpha
    # dropout on the input uses the SELU's saturation value too.
    return make_dropout(r.dropout_kind, r.input_dropout,
                        ACTIVATIONS.create(_activation_factory(r)))


def build(spec: FNNSpec, seed: int | None = None) -> FNN:
    """Build the network a spec describes (weights initialized, data init pending).

    Parameters
    ----------
    spec : FNNSpec
        The architecture.
    seed : int or None, default=None
        None: the initial weights are drawn from torch's global generator, as any
        ``torch.nn`` layer draws them. An int: they are drawn after seeding it with
        ``seed``, inside ``torch.random.fork_rng``, so the same seed gives the same
        weights and the caller's generator state is left as it was. This is the one
        place that does "seed, then build" for ``fit_many``, bagging, the estimators,
        the CLI and the benchmark.

    Returns
    -------
    FNN
        The network, in training mode.
    """
    if not isinstance(spec, FNNSpec):
        raise TypeError(f"build expects an FNNSpec, got {type(spec).__name__}.")
    if seed is None:
        return FNN(spec)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}.")
    device = torch.get_default_device()
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        # On the CPU only the CPU generator is seeded: torch.manual_seed would also queue
        # the seed for every accelerator backend, whose state fork_rng(devices=[]) does
        # not restore.
        if device.type == "cpu":
            torch.default_generator.manual_seed(seed)
        else:
            torch.manual_seed(seed)
        return FNN(spec)
