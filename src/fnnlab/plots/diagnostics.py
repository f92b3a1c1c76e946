"""Figures for ``fnnlab.diagnostics``: signal propagation, shattered gradients
(Balduzzi et al. 2017) and loss landscapes (Santurkar et al. 2018; Li et al. 2018).

Every function takes the table the matching diagnostic returned. Tables of several
methods are the per-method tables stacked with a ``method`` column
(``pd.concat([...], keys=[...], names=["method"])`` or ``df.assign(method=...)``);
without that column the table is drawn as one method.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "coactivation_by_layer",
    "gradient_autocorrelation",
    "gradient_correlation",
    "gradient_spectrum",
    "loss_smoothness",
    "loss_surface_1d",
    "loss_surface_2d",
    "signal_by_depth",
]


def _require(df: pd.DataFrame, columns: Iterable[str], plot: str, source: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{plot}: expected a pandas DataFrame, got {type(df).__name__}.")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{plot}: the DataFrame lacks columns {missing}. Pass the table "
                         f"{source} returned.")
    if df.empty:
        raise ValueError(f"{plot}: the DataFrame is empty.")


def _methods(df: pd.DataFrame) -> pd.DataFrame:
    if "method" not in df.columns:
        df = df.reset_index()
        if "method" not in df.columns:
            df = df.assign(method="model")
    return df


def _panels(n: int, width: float = 4.5, height: float = 3.6) -> tuple[Figure, list]:
    fig = Figure(figsize=(width * n, height), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    return fig, list(axes)


def signal_by_depth(df: pd.DataFrame) -> Figure:
    """Activation mean and variance against layer, one line per method.

    ``df``: :func:`fnnlab.diagnostics.signal_propagation` output (optionally stacked with
    ``method``). Dashed lines mark the self-normalizing fixed point (0, 1).
    """
    _require(df, ("layer", "mean", "var"), "signal_by_depth", "signal_propagation")
    df = _methods(df)
    fig, (ax_mean, ax_var) = _panels(2)
    for method, part in df.groupby("method", sort=False):
        ax_mean.plot(part["layer"], part["mean"], marker=".", label=str(method))
        ax_var.plot(part["layer"], part["var"], marker=".", label=str(method))
    ax_mean.axhline(0.0, color="grey", ls="--", lw=0.8)
    ax_var.axhline(1.0, color="grey", ls="--", lw=0.8)
    ax_mean.set(title="Activation mean per layer", xlabel="hidden layer", ylabel="mean")
    ax_var.set(title="Activation variance per layer", xlabel="hidden layer",
               ylabel="variance", yscale="log" if (df["var"] > 0).all() else "linear")
    ax_mean.legend(title="method")
    return fig


def gradient_correlation(df: pd.DataFrame) -> Figure:
    """Neighbour correlation of input gradients against depth, one line per method.

    ``df``: :func:`fnnlab.diagnostics.shattered_gradients` output; error bars show the
    standard deviation over seeds when the column is there.
    """
    _require(df, ("method", "depth", "neighbor_correlation"), "gradient_correlation",
             "shattered_gradients")
    fig, (ax,) = _panels(1, width=6, height=4)
    for method, part in df.groupby("method", sort=False):
        part = part.sort_values("depth")
        err = part["neighbor_correlation_std"] if "neighbor_correlation_std" in part else None
        ax.errorbar(part["depth"], part["neighbor_correlation"], yerr=err, marker="o",
                    capsize=3, label=str(method))
    ax.axhline(0.0, color="grey", ls="--", lw=0.8)
    ax.set(title="Shattered gradients: correlation of neighbouring gradients",
           xlabel="depth (hidden blocks)", ylabel="neighbour correlation", xscale="log",
           ylim=(-0.2, 1.05))
    ax.legend(title="method")
    return fig


def gradient_autocorrelation(df: pd.DataFrame) -> Figure:
    """Autocorrelation of input gradients against lag; a panel per method, a line per depth.

    ``df``: :func:`fnnlab.diagnostics.autocorrelation` output.
    """
    _require(df, ("method", "depth", "lag", "autocorrelation"), "gradient_autocorrelation",
             "autocorrelation")
    methods = list(dict.fromkeys(df["method"]))
    fig, axes = _panels(len(methods), width=4, height=3.4)
    for ax, method in zip(axes, methods, strict=True):
        for depth, part in df[df["method"] == method].groupby("depth"):
            ax.plot(part["lag"], part["autocorrelation"], label=f"depth {depth}")
        ax.axhline(0.0, color="grey", ls="--", lw=0.8)
        ax.set(title=str(method), xlabel="lag (grid steps)", ylabel="autocorrelation",
               ylim=(-0.3, 1.05))
        ax.legend()
    fig.suptitle("Autocorrelation of the input gradient")
    return fig


def gradient_spectrum(df: pd.DataFrame) -> Figure:
    """Power spectrum of input gradients (log-log); a panel per method, a line per depth.

    ``df``: :func:`fnnlab.diagnostics.power_spectrum` output. Grey guides show the
    slopes of brown noise (1/f²) and white noise (flat).
    """
    _require(df, ("method", "depth", "frequency", "power"), "gradient_spectrum",
             "power_spectrum")
    methods = list(dict.fromkeys(df["method"]))
    fig, axes = _panels(len(methods), width=4, height=3.4)
    for ax, method in zip(axes, methods, strict=True):
        for depth, part in df[df["method"] == method].groupby("depth"):
            ax.loglog(part["frequency"], part["power"].clip(lower=1e-12), label=f"depth {depth}")
        f = np.sort(df["frequency"].unique())
        ax.loglog(f, (f / f[0]) ** -2.0, color="grey", ls="--", lw=0.8, label="brown 1/f²")
        ax.loglog(f, np.ones_like(f), color="grey", ls=":", lw=0.8, label="white")
        ax.set(title=str(method), xlabel="frequency (cycles per grid step)", ylabel="power")
        ax.legend(fontsize="small")
    fig.suptitle("Power spectrum of the input gradient")
    return fig


def coactivation_by_layer(df: pd.DataFrame) -> Figure:
    """Co-activation against layer, one line per (method, depth), with the 1/4 level.

    ``df``: :func:`fnnlab.diagnostics.coactivation` output.
    """
    _require(df, ("method", "depth", "layer", "co_activation"), "coactivation_by_layer",
             "coactivation")
    fig, (ax,) = _panels(1, width=6, height=4)
    for (method, depth), part in df.groupby(["method", "depth"], sort=False):
        ax.plot(part["layer"], part["co_activation"], marker=".", label=f"{method}, depth {depth}")
    ax.axhline(0.25, color="grey", ls="--", lw=0.8, label="1/4")
    ax.set(title="Co-activation: pairs of inputs activating the same unit",
           xlabel="activation layer", ylabel="co-activation rate", ylim=(0, 1))
    ax.legend(fontsize="small")
    return fig


def loss_smoothness(df: pd.DataFrame) -> Figure:
    """Loss range, gradient change and effective β-smoothness along training, per method.

    ``df``: :func:`fnnlab.diagnostics.loss_smoothness` output (optionally stacked with
    ``method``). The first panel shades the range of the loss over the probes.
    """
    _require(df, ("step", "loss_min", "loss_max", "grad_change", "beta_smoothness"),
             "loss_smoothness", "loss_smoothness")
    df = _methods(df)
    fig, (ax_loss, ax_grad, ax_beta) = _panels(3)
    for method, part in df.groupby("method", sort=False):
        line, = ax_loss.plot(part["step"], (part["loss_min"] + part["loss_max"]) / 2,
                             label=str(method))
        ax_loss.fill_between(part["step"], part["loss_min"], part["loss_max"], alpha=0.3,
                             color=line.get_color())
        ax_grad.plot(part["step"], part["grad_change"], marker=".", label=str(method))
        ax_beta.plot(part["step"], part["beta_smoothness"], marker=".", label=str(method))
    ax_loss.set(title="Loss along the gradient (range)", xlabel="training step",
                ylabel="loss")
    ax_grad.set(title="Gradient change along the gradient", xlabel="training step",
                ylabel="max ‖∇L(θ−ηg) − g‖", yscale="log")
    ax_beta.set(title="Effective β-smoothness", xlabel="training step",
                ylabel="max ‖Δ∇L‖ / ‖ηg‖", yscale="log")
    ax_loss.legend(title="method")
    return fig


def loss_surface_1d(df: pd.DataFrame) -> Figure:
    """Loss along a filter-normalized direction, one line per method.

    ``df``: :func:`fnnlab.diagnostics.loss_surface_1d` output (optionally stacked with
    ``method``).
    """
    _require(df, ("alpha", "loss"), "loss_surface_1d", "loss_surface_1d")
    df = _methods(df)
    fig, (ax,) = _panels(1, width=6, height=4)
    for method, part in df.groupby("method", sort=False):
        ax.plot(part["alpha"], part["loss"], label=str(method))
    ax.axvline(0.0, color="grey", ls="--", lw=0.8)
    ax.set(title="Loss along a filter-normalized direction", xlabel="α", ylabel="loss",
           yscale="log" if (df["loss"] > 0).all() else "linear")
    ax.legend(title="method")
    return fig


def loss_surface_2d(df: pd.DataFrame, levels: int = 30) -> Figure:
    """Contour plot of the loss on a plane of two filter-normalized directions.

    ``df``: :func:`fnnlab.diagnostics.loss_surface_2d` output (optionally stacked with
    ``method``: one panel per method). Contours are of log10 loss, which shows the
    basin around the trained weights (marked) at the centre.
    """
    _require(df, ("alpha", "beta", "loss"), "loss_surface_2d", "loss_surface_2d")
    df = _methods(df)
    methods = list(dict.fromkeys(df["method"]))
    fig, axes = _panels(len(methods), width=4.4, height=4)
    for ax, method in zip(axes, methods, strict=True):
        grid = df[df["method"] == method].pivot(index="beta", columns="alpha", values="loss")
        z = np.log10(np.clip(grid.to_numpy(dtype=float), 1e-12, None))
        contour = ax.contour(grid.columns, grid.index, z, levels=levels, cmap="viridis")
        fig.colorbar(contour, ax=ax, label="log10 loss")
        ax.plot([0], [0], marker="*", color="red", ms=10)
        ax.set(title=str(method), xlabel="α (direction 1)", ylabel="β (direction 2)",
               aspect="equal")
    fig.suptitle("Loss surface (filter-normalized directions)")
    return fig
