"""Grid LSTM on k-bit parity (along depth) and digit addition (along time x depth).

Runs :func:`fnnlab.experiments.grid_lstm.parity_experiment` and
:func:`~fnnlab.experiments.grid_lstm.addition_experiment` and prints their tables.
A few minutes on one CPU core with the defaults:

    python examples/grid_lstm_parity.py
    python examples/grid_lstm_parity.py --k 24 --steps 4000
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch

from fnnlab.experiments.grid_lstm import addition_experiment, parity_experiment


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=16, help="number of parity bits")
    parser.add_argument("--depth", type=int, default=12)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1500, help="parity training steps")
    parser.add_argument("--addition-steps", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        print(f"{args.k}-bit parity, depth {args.depth}")
        print(parity_experiment(args.k, depth=args.depth, hidden_size=args.hidden_size,
                                steps=args.steps, seed=args.seed).round(4).to_string(index=False))
        print("\nAddition of two numbers, digit by digit (2-D Grid LSTM, time x depth)")
        print(addition_experiment(steps=args.addition_steps, seed=args.seed)
              .round(4).to_string(index=False))


if __name__ == "__main__":
    main()
