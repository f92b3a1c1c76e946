"""Figures for ``fnnlab.theory``: the SELU moment map as a vector field (Klambauer et
al. 2017, Figure 2)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

_MAPPING_COLUMNS = ("mean", "var", "d_mean", "d_var")


def selu_mapping(df: pd.DataFrame, fixed_point: tuple[float, float] | None = None) -> Figure:
    """Arrows from each grid point ``(mean, var)`` to its image under the SELU moment map.

    Parameters
    ----------
    df : DataFrame
        The table :func:`fnnlab.theory.selu_mapping` returned (columns ``mean``,
        ``var``, ``d_mean``, ``d_var``; optional constant columns ``alpha``,
        ``scale``, ``omega``, ``tau`` go into the title).
    fixed_point : (mean, var), optional
        Point to mark; default ``df.attrs["fixed_point"]``, nothing if absent.

    Returns
    -------
    matplotlib.figure.Figure
        Each arrow points from ``(mean, var)`` towards its image ``(mean_next,
        var_next)``, all shortened by one common factor (stated in the title) so
        none crosses a grid cell; the fixed point is marked with a star.
    """
    missing = [c for c in _MAPPING_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"selu_mapping: the DataFrame lacks columns {missing}. Pass the table "
            f"fnnlab.theory.selu_mapping(...) returned."
        )
    if fixed_point is None:
        fixed_point = df.attrs.get("fixed_point")
    # Arrows point along (mean_next - mean, var_next - var), shrunk by one common factor
    # so the longest spans 90% of a grid cell; at full length they would cross each other.
    steps = [_spacing(df["mean"]), _spacing(df["var"])]
    reach = max(float((df["d_mean"].abs() / steps[0]).max()),
                float((df["d_var"].abs() / steps[1]).max()), 1e-300)
    shrink = max(1.0, reach / 0.9)
    fig = Figure(figsize=(6, 5), layout="constrained")
    ax = fig.add_subplot()
    ax.quiver(df["mean"], df["var"], df["d_mean"], df["d_var"], angles="xy",
              scale_units="xy", scale=shrink, width=0.004, color="tab:blue")
    if fixed_point is not None:
        mean, var = (round(float(v), 10) + 0.0 for v in fixed_point)
        ax.plot(mean, var, marker="*", markersize=16, color="tab:red", linestyle="none",
                label=f"fixed point ({mean:.4g}, {var:.4g})")
        ax.legend(loc="best")
    ax.set_xlabel(r"mean $\mu$ of a layer's activations")
    ax.set_ylabel(r"variance $\nu$ of a layer's activations")
    title = r"SELU moment map $g: (\mu, \nu) \mapsto (\tilde\mu, \tilde\nu)$"
    if {"alpha", "scale", "omega", "tau"} <= set(df.columns) and len(df):
        row = df.iloc[0]
        title += ("\n" + rf"$\alpha$={row['alpha']:.4g}, $\lambda$={row['scale']:.4g}, "
                  + rf"$\omega$={row['omega']:.3g}, $\tau$={row['tau']:.3g}")
    if shrink > 1:
        title += f"; arrows shortened {shrink:.3g}x"
    ax.set_title(title)
    return fig


def _spacing(values: pd.Series) -> float:
    """Smallest gap between distinct grid values (1.0 for a single value)."""
    distinct = values.drop_duplicates().sort_values()
    gaps = distinct.diff().dropna()
    return float(gaps.min()) if len(gaps) else 1.0
