"""``fnnlab selu``: the SELU parameters, stability and alpha-dropout terms for a fixed point.

    fnnlab selu --mean 0 --var 4 --dropout 0.1
"""

from __future__ import annotations

import argparse

from fnnlab import theory


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``selu`` subcommand."""
    parser = subparsers.add_parser(
        "selu",
        help="SELU parameters for a fixed point (mean, variance)",
        description="Print the SELU alpha and scale that make (mean, var) a fixed point of the "
                    "layer-to-layer moment map (Klambauer et al. 2017), the spectral norm of its "
                    "Jacobian there, whether the point is stable, and the alpha-dropout affine "
                    "terms a, b.",
    )
    parser.add_argument("--mean", type=float, default=0.0, help="fixed-point mean (default 0)")
    parser.add_argument("--var", type=float, default=1.0, help="fixed-point variance (default 1)")
    parser.add_argument("--omega", type=float, default=0.0,
                        help="sum of a unit's weights (default 0: normalized weights)")
    parser.add_argument("--tau", type=float, default=1.0,
                        help="sum of a unit's squared weights (default 1)")
    parser.add_argument("--dropout", type=float, default=None, metavar="RATE",
                        help="alpha-dropout rate for the affine terms a, b")
    return parser


def run(args: argparse.Namespace) -> int:
    """Compute with :mod:`fnnlab.theory` and print one ``name value`` line per result."""
    alpha, scale = theory.selu_parameters(args.mean, args.var, args.omega, args.tau)
    point = (args.mean, args.var, alpha, scale, args.omega, args.tau)
    lines = [
        ("fixed point", f"mean={args.mean:g}, var={args.var:g} "
                        f"(omega={args.omega:g}, tau={args.tau:g})"),
        ("alpha", f"{alpha:.12f}"),
        ("scale", f"{scale:.12f}"),
        ("jacobian norm", f"{theory.jacobian_norm(*point):.6f}"),
        ("stable", "yes" if theory.is_stable(*point) else "no (Jacobian norm >= 1)"),
    ]
    if args.dropout is not None:
        a, b = theory.alpha_dropout_affine(args.dropout, alpha, scale, args.mean, args.var)
        lines += [("dropout rate", f"{args.dropout:g}"), ("dropout a", f"{a:.6f}"),
                  ("dropout b", f"{b:.6f}")]
    for name, value in lines:
        print(f"{name:<14} {value}")
    return 0
