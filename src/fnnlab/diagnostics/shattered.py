r"""Shattered gradients: how the input gradient of a deep net decorrelates with depth.

Balduzzi et al. (2017) feed a scalar input on a fine grid through a freshly
initialized network with a scalar output and look at the gradient dy/dx along the
grid. For a shallow net it is "brown noise": neighbouring points have almost the
same gradient (a random walk, power spectrum ~ 1/f²). With depth, feedforward
rectifier nets with batch normalization produce gradients that look like white
noise (neighbours uncorrelated, flat spectrum), so a gradient step learned at one
input says nothing about its neighbour. Skip connections slow this decay, and
scaling the residual branches (Szegedy et al. 2016) slows it further.

The procedure, and every choice it makes
-----------------------------------------
- **Input**: ``n_points = 256`` points ``x_i = -2 + 4 (i + 1/2) / 256``, the midpoints
  of 256 equal cells of [-2, 2) (the paper's grid), one scalar feature. Midpoints
  leave out ``x = 0``: with zero biases every pre-activation of a no-BN net is exactly
  0 there, activations are evaluated at their kink, and a SELU net's gradient at that
  one point is (λα)^depth times too large (3e5 at depth 24), which would swamp every
  statistic below.
- **Network**: ``FNNSpec(in_features=1, out_features=1, depth=d, width=200,
  method=m)`` and ``build``; so ``d`` counts hidden layers, the dense input layer
  included, except for a resnet, where it counts residual blocks after that layer.
  A ``resnet`` block (the full pre-activation unit,
  ``x + s W2 relu(BN(W1 relu(BN(x))))``) holds two linear maps, so a resnet of
  depth ``d`` has ``2d + 1`` hidden linear layers; ``resnet:branch_layers=1``
  is Balduzzi et al.'s one-layer branch ``x + s W relu(BN(x))``, whose gradients
  stay correlated far longer (0.6 at depth 24 against 0.03); a highway block has a
  gated transform.
- **Initialization**: the preset's own (He normal for the ReLU presets, LeCun
  normal for ``snn``), all biases zero, batch-norm scale 1 and shift 0; one fresh
  network per seed, ``build(spec, seed=seed)`` (the caller's random state is
  untouched).
- **Batch statistics**: the network runs in training mode and the 256 grid points
  form one batch, so batch normalization uses the grid's mean and variance, as in
  the paper's Figure 1. Dropout presets are used with their rate, which is 0 for
  every built-in preset.
- **Gradient**: ``g_i = ∂(Σ_j y_j) / ∂x_i`` by back-propagation through the whole
  batch. With batch normalization ``y_j`` depends on every ``x_i`` through the
  batch mean and variance, and this derivative includes that dependence (it is
  what a finite difference of the summed output measures, and what the tests
  check). Without batch normalization it is simply ``dy_i/dx_i``.
- **Branch scaling**: a method may carry spec overrides after a colon,
  ``"resnet:branch_scale=0.1"`` (several joined by ``:``); the label is the string.
- **Neighbour correlation** (per network, then averaged over seeds):

  .. math:: \rho = \frac{\sum_i g_i g_{i+1}}{\sqrt{\sum_i g_i^2 \sum_i g_{i+1}^2}}

  uncentred, as in the paper's gradient correlation (an expectation over random
  weights, for which the mean gradient is 0 by the symmetry w -> -w of the head).
  A linear net (constant gradient) gives exactly 1; zero-mean white noise gives
  ~0 (standard error 1/sqrt(255) ≈ 0.06).
- **Autocorrelation function**: the same ratio at lag ``k`` (``g_i`` against
  ``g_{i+k}``), lag 0 to ``max_lag``, averaged over seeds.
- **Power spectrum**: the periodogram ``|FFT(g)|² / n`` at frequencies
  ``k / n``, ``k = 1 .. n/2`` (cycles per grid step), averaged over seeds; the
  ``spectrum_slope`` is the least-squares slope of log power against log
  frequency: ≈ -2 for brown noise, ≈ 0 for white noise.
- **Co-activation** (per activation layer): with ``a_{ik} = 1`` when unit ``k`` is
  active (activation output > 0; for SELU its linear part) on grid point ``i``,
  the share of pairs of distinct points that both activate a unit,
  ``mean_k Σ_{i≠j} a_{ik} a_{jk} / (n (n-1))``. Batch normalization centres each
  unit over the grid, so it is active on about half the points and co-activation
  stays near 1/4 at every depth; without it units drift towards "always on" or
  "always off", and co-activation towards the share of always-on units.

References
----------
Balduzzi, Frean, Leary, Lewis, Ma, McWilliams, "The Shattered Gradients Problem: If
resnets are the answer, then what is the question?", ICML 2017, arXiv:1702.08591.
Szegedy, Ioffe, Vanhoucke, Alemi, "Inception-v4, Inception-ResNet and the Impact of
Residual Connections on Learning", 2016, arXiv:1602.07261 (residual scaling).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from fnnlab.diagnostics.signal import activation_modules
from fnnlab.models import FNNSpec, build

__all__ = [
    "DEFAULT_DEPTHS",
    "DEFAULT_METHODS",
    "autocorrelation",
    "coactivation",
    "gradient_profiles",
    "input_grid",
    "input_gradients",
    "neighbor_correlation",
    "parse_method",
    "power_spectrum",
    "shattered_gradients",
    "spectrum_slope",
]

DEFAULT_METHODS = ("msra", "batchnorm", "resnet", "resnet:branch_layers=1",
                   "resnet:branch_scale=0.1", "snn", "highway")
DEFAULT_DEPTHS = (1, 8, 24, 50)


def input_grid(n_points: int = 256, low: float = -2.0, high: float = 2.0) -> Tensor:
    """The cell midpoints ``low + (high - low) (i + 1/2) / n_points``, shape (n_points, 1)."""
    if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 3:
        raise ValueError(f"n_points must be an int >= 3, got {n_points!r}.")
    if not high > low:
        raise ValueError(f"high must be > low, got low={low}, high={high}.")
    i = torch.arange(n_points, dtype=torch.float64)
    return (low + (high - low) * (i + 0.5) / n_points).to(torch.get_default_dtype()).unsqueeze(1)


def input_gradients(model: nn.Module, x: Tensor) -> Tensor:
    """``∂(Σ_j y_j) / ∂x_i`` for every row ``x_i`` of a one-feature batch, shape (N,).

    The model runs in its current mode; with batch normalization in training mode the
    derivative includes the path through the batch statistics (see the module notes).
    """
    if x.dim() != 2 or x.shape[1] != 1:
        raise ValueError(f"x must have shape (N, 1) (a scalar input), got {tuple(x.shape)}.")
    with torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        y = model(x)
        if y.dim() != 2 or y.shape[1] != 1:
            raise ValueError(f"The model must have one output, got outputs {tuple(y.shape)}.")
        (g,) = torch.autograd.grad(y.sum(), x)
    return g[:, 0].detach()


def parse_method(method: str) -> tuple[str, dict[str, Any]]:
    """Split a method string into preset and spec overrides.

    ``"resnet:branch_scale=0.1:norm=none"`` -> ``("resnet", {"branch_scale": 0.1,
    "norm": "none"})``; values are read as int, else float, else kept as strings.
    """
    if not isinstance(method, str):
        raise TypeError(f"A method must be a string, got {method!r}.")
    name, *parts = method.split(":")
    fields = {f.name for f in dataclasses.fields(FNNSpec)}
    overrides: dict[str, Any] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or key not in fields or key in ("in_features", "out_features", "depth",
                                                   "width", "method"):
            raise ValueError(
                f"Bad method override {part!r} in {method!r}: write 'preset:field=value' with "
                f"an FNNSpec field other than in/out_features, depth, width and method, "
                f"e.g. 'resnet:branch_scale=0.1'."
            )
        overrides[key] = _literal(value)
    return name, overrides


def _literal(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _network(method: str, depth: int, width: int, seed: int) -> nn.Module:
    name, overrides = parse_method(method)
    spec = FNNSpec(1, 1, depth=depth, width=width, method=name, **overrides)
    return build(spec, seed=seed).train()


def _check_lists(methods: Sequence[str], depths: Sequence[int], n_seeds: int) -> None:
    if isinstance(methods, str):
        raise TypeError(f"methods must be a list of names, got the string {methods!r}.")
    if not methods or not depths:
        raise ValueError("methods and depths must not be empty.")
    for d in depths:
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ValueError(f"depths must be ints >= 1, got {d!r}.")
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ValueError(f"n_seeds must be an int >= 1, got {n_seeds!r}.")
    for m in methods:
        parse_method(m)


def gradient_profiles(
    methods: Sequence[str] = DEFAULT_METHODS,
    depths: Sequence[int] = DEFAULT_DEPTHS,
    *,
    seed: int = 0,
    n_seeds: int = 4,
    width: int = 200,
    n_points: int = 256,
) -> pd.DataFrame:
    """The input gradient along the grid for every (method, depth, seed).

    Returns a long table with columns ``method``, ``depth``, ``seed``, ``x``,
    ``gradient`` (``n_points`` rows per network); seeds are ``seed .. seed + n_seeds - 1``.
    See the module docstring for every choice of the procedure.
    """
    _check_lists(methods, depths, n_seeds)
    x = input_grid(n_points)
    frames = []
    for method in methods:
        for depth in depths:
            for s in range(seed, seed + n_seeds):
                g = input_gradients(_network(method, depth, width, s), x)
                frames.append(pd.DataFrame({
                    "method": method, "depth": depth, "seed": s,
                    "x": x[:, 0].numpy().astype(float), "gradient": g.double().numpy(),
                }))
    return pd.concat(frames, ignore_index=True)


def _lagged(g: np.ndarray, lag: int) -> float:
    g = np.asarray(g, dtype=np.float64)
    scale = np.max(np.abs(g))
    if scale == 0 or not np.isfinite(scale):
        return float("nan")
    g = g / scale  # exploding gradients of deep nets would overflow the products
    a, b = g[: len(g) - lag], g[lag:]
    denom = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return float(np.sum(a * b) / denom) if denom > 0 else float("nan")


def neighbor_correlation(gradient: np.ndarray | Tensor) -> float:
    """Uncentred correlation of neighbouring gradients, ``Σ g_i g_{i+1} / sqrt(Σg_i² Σg_{i+1}²)``.

    NaN for an all-zero (or non-finite) gradient, where it is undefined.
    """
    return _lagged(np.asarray(gradient), 1)


def spectrum_slope(gradient: np.ndarray | Tensor) -> float:
    """Slope of log periodogram against log frequency (brown noise ≈ -2, white ≈ 0)."""
    freq, power = _periodogram(np.asarray(gradient, dtype=np.float64))
    keep = power > 0
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(freq[keep]), np.log(power[keep]), 1)[0])


def _periodogram(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(g)
    power = np.abs(np.fft.rfft(g)) ** 2 / n
    k = np.arange(1, n // 2 + 1)
    return k / n, power[k]


def _per_network(profiles: pd.DataFrame):
    required = {"method", "depth", "seed", "gradient"}
    missing = required - set(profiles.columns)
    if missing:
        raise ValueError(
            f"profiles lacks column(s) {sorted(missing)}; pass the table gradient_profiles "
            f"returned."
        )
    return profiles.groupby(["method", "depth", "seed"], sort=False)["gradient"]


def shattered_gradients(
    methods: Sequence[str] = DEFAULT_METHODS,
    depths: Sequence[int] = DEFAULT_DEPTHS,
    *,
    seed: int = 0,
    n_seeds: int = 4,
    width: int = 200,
    n_points: int = 256,
    profiles: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Neighbour correlation and spectrum slope of the input gradient, per method and depth.

    Parameters
    ----------
    methods : sequence of str
        ``METHODS`` presets, optionally with spec overrides (``"resnet:branch_scale=0.1"``).
        ``msra`` is the plain ReLU net (no batch norm), ``batchnorm`` the feedforward
        ReLU+BN net, ``resnet`` the pre-activation residual net with BN.
    depths : sequence of int
        Hidden blocks (``FNNSpec.depth``).
    seed, n_seeds : int
        Networks are built with seeds ``seed .. seed + n_seeds - 1``.
    width, n_points : int
        Hidden width (200 in the paper) and grid size (256).
    profiles : DataFrame, optional
        A :func:`gradient_profiles` table to summarize instead of computing one (then the
        other arguments are ignored).

    Returns
    -------
    pandas.DataFrame
        One row per (method, depth): ``method``, ``depth``, ``neighbor_correlation``
        (mean over seeds), ``neighbor_correlation_std`` (standard deviation over seeds),
        ``spectrum_slope`` (mean over seeds), ``n_seeds``.
    """
    if profiles is None:
        profiles = gradient_profiles(methods, depths, seed=seed, n_seeds=n_seeds, width=width,
                                     n_points=n_points)
    per_net = _per_network(profiles).agg(
        neighbor_correlation=lambda g: neighbor_correlation(g.to_numpy()),
        spectrum_slope=lambda g: spectrum_slope(g.to_numpy()),
    ).reset_index()
    out = per_net.groupby(["method", "depth"], sort=False).agg(
        neighbor_correlation=("neighbor_correlation", "mean"),
        neighbor_correlation_std=("neighbor_correlation", lambda v: float(np.std(v))),
        spectrum_slope=("spectrum_slope", "mean"),
        n_seeds=("seed", "nunique"),
    )
    return out.reset_index()


def autocorrelation(profiles: pd.DataFrame, max_lag: int = 32) -> pd.DataFrame:
    """Autocorrelation function of the gradients, lags 0..max_lag, averaged over seeds.

    Returns columns ``method``, ``depth``, ``lag``, ``autocorrelation`` (the uncentred
    ratio of the module notes; lag 0 is 1).
    """
    if isinstance(max_lag, bool) or not isinstance(max_lag, int) or max_lag < 0:
        raise ValueError(f"max_lag must be an int >= 0, got {max_lag!r}.")
    rows = []
    for (method, depth, s), g in _per_network(profiles):
        values = g.to_numpy()
        if max_lag >= len(values):
            raise ValueError(f"max_lag must be < the grid size {len(values)}, got {max_lag}.")
        rows += [{"method": method, "depth": depth, "seed": s, "lag": k,
                  "autocorrelation": _lagged(values, k)} for k in range(max_lag + 1)]
    table = pd.DataFrame(rows)
    return (table.groupby(["method", "depth", "lag"], sort=False)["autocorrelation"].mean()
            .reset_index())


def power_spectrum(profiles: pd.DataFrame) -> pd.DataFrame:
    """Periodogram of the gradients, averaged over seeds.

    Returns columns ``method``, ``depth``, ``frequency`` (cycles per grid step, 1/n to
    1/2), ``power``. Each network's gradient is first divided by its root mean square,
    so seeds with larger gradients do not dominate the average and methods share a scale.
    """
    rows = []
    for (method, depth, _), g in _per_network(profiles):
        values = g.to_numpy(dtype=np.float64)
        rms = np.sqrt(np.mean(values ** 2))
        values = values / rms if rms > 0 and np.isfinite(rms) else values
        freq, power = _periodogram(values)
        rows.append(pd.DataFrame({"method": method, "depth": depth, "frequency": freq,
                                  "power": power}))
    table = pd.concat(rows, ignore_index=True)
    return (table.groupby(["method", "depth", "frequency"], sort=False)["power"].mean()
            .reset_index())


@torch.no_grad()
def _coactivation_rows(model: nn.Module, x: Tensor) -> list[dict[str, float]]:
    actives: list[Tensor] = []

    def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        actives.append((output > 0).to(torch.float64))

    handles = [act.register_forward_hook(hook)
               for block in model.hidden for act in activation_modules(block)]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    n = x.shape[0]
    rows = []
    for layer, a in enumerate(actives):
        k = a.sum(dim=0)  # points on which each unit is active, (units,)
        rows.append({"layer": layer, "active_fraction": float(a.mean()),
                     "co_activation": float((k * (k - 1)).mean() / (n * (n - 1)))})
    return rows


def coactivation(
    methods: Sequence[str] = DEFAULT_METHODS,
    depths: Sequence[int] = DEFAULT_DEPTHS,
    *,
    seed: int = 0,
    n_seeds: int = 4,
    width: int = 200,
    n_points: int = 256,
) -> pd.DataFrame:
    """Co-activation per activation layer on the input grid, averaged over seeds.

    The networks, grid and batch statistics are those of :func:`gradient_profiles`.
    Returns columns ``method``, ``depth``, ``layer`` (activation modules in forward
    order, 0-based; a residual block has two), ``active_fraction`` (share of
    (point, unit) pairs that are active) and ``co_activation`` (module notes).
    """
    _check_lists(methods, depths, n_seeds)
    x = input_grid(n_points)
    rows = []
    for method in methods:
        for depth in depths:
            for s in range(seed, seed + n_seeds):
                model = _network(method, depth, width, s)
                rows += [{"method": method, "depth": depth, "seed": s, **r}
                         for r in _coactivation_rows(model, x)]
    table = pd.DataFrame(rows)
    return (table.groupby(["method", "depth", "layer"], sort=False)[
        ["active_fraction", "co_activation"]].mean().reset_index())
