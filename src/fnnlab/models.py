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
import json
from dataclasses import dataclass, field, fields
from typing import Any

import torch
from torch import nn

from fnnlab.nn.activations import ACTIVATIONS
from fnnlab.nn.blocks import BLOCKS, make_dropout
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

    Every field is a default for the matching ``FNNSpec`` field.
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
    gate_bias: float = -2.0


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
        "hidden and memory vectors.", block="grid_lstm", activation="tanh",
        init="lecun_normal")
_preset("resnet", description="Pre-activation residual network with batch normalization "
        "(He et al. 2016).", block="residual", norm="batch")


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
        Number of hidden blocks, the dense input layer included. A residual block holds
        two linear maps by default (branch_layers=2), so a resnet of depth d has 2d - 1
        hidden linear layers.
    width : int, default=256
        Units per hidden layer.
    method : str or None, default="snn"
        Preset from ``METHODS``.
    activation, norm, init, dropout_kind, block, reparam : str or None
        Names in ``ACTIVATIONS``, ``NORMS``, ``INITIALIZERS`` (or ``"lsuv"``), ``DROPOUTS``,
        ``BLOCKS`` and ``REPARAMS``.
    dropout, input_dropout : float or None
        Dropout rate of the hidden layers and of the input, in [0, 1).
    order : str or None
        Order of the steps in a dense block (``"linear_norm_act_drop"``).
    branch_scale : float or None
        Residual branch scaling (residual blocks only).
    branch_layers : int or None
        Linear maps per residual branch, 1 or 2 (residual blocks only).
    gate_bias : float or None
        Initial transform-gate bias (highway blocks only).
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

    def resolved(self) -> FNNSpec:
        """This spec with every ``None`` filled in from the method preset."""
        preset = METHODS.get(self.method) if self.method is not None else Method("", "")
        changes = {f.name: getattr(preset, f.name) for f in fields(Method)
                   if f.name not in ("name", "description") and getattr(self, f.name) is None}
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``FNNSpec.from_dict`` inverts it."""
        out = dataclasses.asdict(self)
        out["activation_params"] = dict(self.activation_params)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FNNSpec:
        """Build a spec from ``to_dict()`` output; an unknown key is an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"Unknown FNNSpec field(s) {', '.join(map(repr, unknown))}. "
                f"Known fields: {', '.join(sorted(known))}."
            )
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FNNSpec:
        return cls.from_dict(json.loads(text))


class FNN(nn.Module):
    """A deep feedforward network built from an :class:`FNNSpec`.

    x -> input dropout -> hidden[0] (dense, in_features -> width)
      -> hidden[1..depth-1] (the spec's block, width -> width) -> head (width -> out_features)

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
        hidden = [BLOCKS.create("dense", r.in_features, r.width, order=r.order, **common)]
        extra = {"residual": {"branch_scale": r.branch_scale,
                              "branch_layers": r.branch_layers},
                 "highway": {"gate_bias": r.gate_bias},
                 "dense": {"order": r.order}}.get(BLOCKS.canonical(r.block), {})
        for _ in range(r.depth - 1):
            hidden.append(BLOCKS.create(r.block, r.width, r.width, **extra, **common))
        self.hidden = nn.ModuleList(hidden)
        self.head = REPARAMS.create(r.reparam, r.width, r.out_features)
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
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        initialize_(self, "orthogonal" if r.init in _DATA_DEPENDENT_INITS else r.init)
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
        """The last hidden representation, shape (N, width)."""
        x = self.input_dropout(x)
        for block in self.hidden:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def extra_repr(self) -> str:
        r = self._resolved
        return f"method={r.method!r}, depth={r.depth}, width={r.width}, block={r.block!r}"


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
