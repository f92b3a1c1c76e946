"""``fnnlab diagnose``: signal propagation, shattered gradients and loss landscapes.

    fnnlab diagnose --method snn --depth 32
    fnnlab diagnose --methods msra,batchnorm,resnet --depth 24 --report report/

Prints the tables of :mod:`fnnlab.diagnostics` and, with ``--report DIR``, writes the
matching figures of :mod:`fnnlab.plots` there as PNG files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch

_SECTIONS = ("signal", "shattered", "landscape")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``diagnose`` subcommand."""
    parser = subparsers.add_parser(
        "diagnose",
        help="signal propagation, shattered gradients and loss landscapes of methods",
        description="Measure why a deep net trains or doesn't: per-layer activation mean, "
                    "variance, dead units and gradient norms at initialization; the "
                    "correlation of input gradients across depths (Balduzzi et al. 2017); "
                    "loss smoothness along SGD (Santurkar et al. 2018) and filter-normalized "
                    "loss surfaces (Li et al. 2018).",
    )
    parser.add_argument("--method", default="snn",
                        help="method preset (default snn); ignored when --methods is given")
    parser.add_argument("--methods", default=None,
                        help="comma-separated presets to compare, e.g. msra,batchnorm,resnet; "
                             "a preset may carry spec overrides: resnet:branch_scale=0.1")
    parser.add_argument("--depth", type=int, default=32, help="hidden blocks (default 32)")
    parser.add_argument("--width", type=int, default=64,
                        help="hidden units for the signal and landscape sections (default 64; "
                             "the shattered-gradients section uses the paper's 200)")
    parser.add_argument("--data", default="breast_cancer",
                        help="bundled data set or file for the landscape section "
                             "(default breast_cancer)")
    parser.add_argument("--sections", default=",".join(_SECTIONS),
                        help=f"comma-separated subset of {','.join(_SECTIONS)} (default all)")
    parser.add_argument("--seeds", type=int, default=2,
                        help="networks per method and depth for shattered gradients (default 2)")
    parser.add_argument("--lr", type=float, default=0.05,
                        help="SGD learning rate for the landscape section (default 0.05)")
    parser.add_argument("--steps", type=int, default=100,
                        help="SGD steps probed for smoothness (default 100)")
    parser.add_argument("--grid-points", type=int, default=51,
                        help="points per axis of the 1-D surface (default 51)")
    parser.add_argument("--contour-points", type=int, default=21,
                        help="points per axis of the 2-D surface (default 21)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--report", type=Path, default=None, metavar="DIR",
                        help="write PNG figures to this folder")
    return parser


def _print(title: str, table: pd.DataFrame) -> None:
    print(f"\n== {title} ==")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def _save(fig, report: Path | None, name: str) -> None:
    if report is not None:
        path = report / f"{name}.png"
        fig.savefig(path, dpi=110)
        print(f"wrote {path}")


def run(args: argparse.Namespace) -> int:
    """Run the chosen sections and print (and plot) their tables."""
    from fnnlab import data, diagnostics, plots
    from fnnlab.models import FNNSpec, build
    from fnnlab.training import fit

    methods = [m.strip() for m in (args.methods or args.method).split(",") if m.strip()]
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(_SECTIONS))
    if unknown:
        raise ValueError(f"Unknown section(s) {unknown}; choose from {', '.join(_SECTIONS)}.")
    if args.depth < 1 or args.width < 1:
        raise ValueError(f"--depth and --width must be >= 1, got {args.depth}, {args.width}.")
    if args.report is not None:
        args.report.mkdir(parents=True, exist_ok=True)
    # Each network's weights come from build(..., seed=args.seed); dropout masks drawn
    # inside the diagnostics come from torch's global generator, seeded once here so a
    # run with dropout repeats exactly.
    torch.manual_seed(args.seed)

    def spec(method: str, in_features: int, out_features: int) -> FNNSpec:
        name, overrides = diagnostics.parse_method(method)
        return FNNSpec(in_features, out_features, depth=args.depth, width=args.width,
                       method=name, **overrides)

    if "signal" in sections:
        gen = torch.Generator().manual_seed(args.seed)
        x = torch.randn(256, 32, generator=gen)
        tables = []
        for method in methods:
            table = diagnostics.signal_propagation(build(spec(method, 32, 1), seed=args.seed),
                                                   x)
            tables.append(table.assign(method=method))
        signal = pd.concat(tables, ignore_index=True)
        _print(f"Signal propagation at initialization (256 standard-normal inputs, "
               f"width {args.width})", signal)
        _save(plots.signal_by_depth(signal), args.report, "signal")

    if "shattered" in sections:
        depths = sorted({1, min(8, args.depth), args.depth})
        profiles = diagnostics.gradient_profiles(methods, depths, seed=args.seed,
                                                 n_seeds=args.seeds)
        summary = diagnostics.shattered_gradients(profiles=profiles)
        _print("Shattered gradients (256-point grid on [-2, 2), width 200)", summary)
        acf = diagnostics.autocorrelation(profiles, max_lag=32)
        spectrum = diagnostics.power_spectrum(profiles)
        coact = diagnostics.coactivation(methods, depths, seed=args.seed, n_seeds=args.seeds)
        _print("Co-activation, last activation layer",
               coact.groupby(["method", "depth"], sort=False).tail(1))
        _save(plots.gradient_correlation(summary), args.report, "gradient_correlation")
        _save(plots.gradient_autocorrelation(acf), args.report, "gradient_autocorrelation")
        _save(plots.gradient_spectrum(spectrum), args.report, "gradient_spectrum")
        _save(plots.coactivation_by_layer(coact), args.report, "coactivation")

    if "landscape" in sections:
        parts = data.split(data.load(args.data), valid=0.15, test=0.2, seed=args.seed)
        train = parts.train
        if train.task != "classification":
            raise ValueError(f"The landscape section needs a classification data set, "
                             f"got {args.data!r} ({train.task}).")
        X, y = train.X, train.y
        smooth, line, plane = [], [], []
        for method in methods:
            model = build(spec(method, X.shape[1], train.n_classes), seed=args.seed)
            smooth.append(diagnostics.loss_smoothness(
                model, X, y, lr=args.lr, steps=args.steps, every=max(1, args.steps // 10),
                seed=args.seed).assign(method=method))
            fit(model, (X, y), lr=args.lr, epochs=20, seed=args.seed, progress=False)
            grid = torch.linspace(-1, 1, args.grid_points).tolist()
            line.append(diagnostics.loss_surface_1d(model, X, y, grid=grid, seed=args.seed)
                        .assign(method=method))
            grid = torch.linspace(-1, 1, args.contour_points).tolist()
            plane.append(diagnostics.loss_surface_2d(model, X, y, grid=grid, seed=args.seed)
                         .assign(method=method))
        smooth_table = pd.concat(smooth, ignore_index=True)
        _print(f"Loss smoothness along SGD (lr {args.lr}, {args.data})", smooth_table)
        print("\nmeans over probed steps:")
        print(smooth_table.groupby("method", sort=False)[
            ["loss_range", "grad_change", "beta_smoothness"]].mean()
            .to_string(float_format=lambda v: f"{v:.4g}"))
        line_table = pd.concat(line, ignore_index=True)
        _print("1-D loss surface after 20 epochs (every 10th point)",
               line_table.groupby("method", sort=False).nth(slice(None, None, 10)))
        plane_table = pd.concat(plane, ignore_index=True)
        _save(plots.loss_smoothness(smooth_table), args.report, "loss_smoothness")
        _save(plots.loss_surface_1d(line_table), args.report, "loss_surface_1d")
        _save(plots.loss_surface_2d(plane_table), args.report, "loss_surface_2d")
    return 0
