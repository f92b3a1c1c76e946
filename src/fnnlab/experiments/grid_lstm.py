"""Grid LSTM experiments: k-bit parity along depth, digit addition along time x depth.

Small CPU versions of two algorithmic tasks of Kalchbrenner, Danihelka & Graves (2015):

- :func:`parity_experiment`: a 1-D Grid LSTM (LSTM gating along depth) against a plain
  tanh network and a highway network of the same depth and about the same number of
  parameters, on the parity of k random bits given all at once (the paper's Sec. 4.1).
- :func:`addition_experiment`: a 2-D Grid LSTM over time x depth adds two numbers fed
  digit by digit, least significant first (a streaming version of the paper's Sec. 4.2),
  and is tested on numbers longer than any it was trained on.

Each function returns a tidy DataFrame, one row per model. Data are drawn fresh for
every step from a seeded generator, so there is no overfitting and runs are repeatable.

References
----------
Kalchbrenner, Danihelka, Graves, "Grid Long Short-Term Memory", 2015, arXiv:1507.01526.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import pandas as pd
import torch
from torch import nn

from fnnlab.models import FNNSpec, build
from fnnlab.nn.grid_lstm import GridLSTMNetwork, GridLSTMStack

_BASELINES = {"tanh": "msra", "highway": "highway"}  # model name -> FNNSpec method
PARITY_MODELS = ("grid_lstm", "tanh", "highway")


def parity_data(
    n: int, k: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random k-bit strings coded as +-1 (float32, (n, k)) and their parity (int64, (n,))."""
    bits = torch.randint(0, 2, (n, k), generator=generator)
    return 2.0 * bits.float() - 1.0, bits.sum(dim=1).remainder(2)


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _baseline(kind: str, k: int, depth: int, width: int) -> nn.Module:
    spec = FNNSpec(in_features=k, out_features=2, depth=depth, width=width,
                   method=_BASELINES[kind], activation="tanh", init="glorot_normal")
    return build(spec)


def _matched_width(make: Callable[[int], nn.Module], target: int) -> int:
    """The width whose model has the parameter count closest to ``target``."""
    width, best = 1, None
    while True:
        gap = abs(_count(make(width)) - target)
        if best is not None and gap > best[0]:
            return best[1]
        best = (gap, width) if best is None or gap <= best[0] else best
        width += 1


def parity_models(
    k: int, depth: int, hidden_size: int, tied: bool = True
) -> dict[str, nn.Module]:
    """The three parity models: Grid LSTM stack and parameter-matched tanh / highway FNNs.

    The baselines are ``fnnlab.models.build`` networks (tanh, Glorot normal init) of
    ``depth`` hidden blocks whose width is chosen to match the Grid LSTM's parameter count.
    """
    models: dict[str, nn.Module] = {
        "grid_lstm": GridLSTMStack(k, 2, hidden_size, depth, tied=tied),
    }
    target = _count(models["grid_lstm"])
    for kind in _BASELINES:
        width = _matched_width(lambda w, kind=kind: _baseline(kind, k, depth, w), target)
        models[kind] = _baseline(kind, k, depth, width)
    return models


@torch.no_grad()
def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    out = (model(x).argmax(dim=-1) == y).float().mean().item()
    model.train()
    return out


def parity_experiment(
    k: int = 16,
    *,
    depth: int = 12,
    hidden_size: int = 64,
    tied: bool = True,
    steps: int = 1500,
    batch_size: int = 256,
    lr: float = 2e-3,
    seed: int = 0,
    models: Sequence[str] = PARITY_MODELS,
    n_test: int = 4000,
) -> pd.DataFrame:
    """Train each model on k-bit parity with Adam and report its test accuracy.

    Parameters
    ----------
    k : int, default=16
        Number of bits.
    depth : int, default=12
        Blocks of the Grid LSTM, hidden blocks of the baselines.
    hidden_size : int, default=64
        Width d of the Grid LSTM; the baselines' widths match its parameter count.
    tied : bool, default=True
        One set of Grid LSTM weights for all layers, as the paper's parity networks.
    steps, batch_size, lr : int, int, float
        Adam steps on fresh batches (cross-entropy loss).
    seed : int, default=0
        Seeds the weights and the data; every model sees the same batches.
    models : sequence of str
        Any of ``"grid_lstm"``, ``"tanh"``, ``"highway"``.
    n_test : int, default=4000
        Size of the held-out test set.

    Returns
    -------
    pandas.DataFrame
        One row per model: model, k, depth, width, params, steps, final_loss,
        test_accuracy, solved_at (first step, checked every ``steps // 20``, with test
        accuracy >= 0.99, or NaN), seconds.
    """
    if not isinstance(k, int) or k < 2:
        raise ValueError(f"k must be an int >= 2, got {k!r}.")
    unknown = sorted(set(models) - set(PARITY_MODELS))
    if unknown:
        raise ValueError(f"Unknown parity models {unknown}; pick from {list(PARITY_MODELS)}.")
    # The models are drawn one after another from one seeded stream (the width search
    # builds baselines too), so each is not build(spec, seed=...); fork_rng leaves the
    # caller's generator as it was.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        built = parity_models(k, depth, hidden_size, tied)
    x_test, y_test = parity_data(n_test, k, torch.Generator().manual_seed(seed + 1))
    check_every = max(1, steps // 20)
    rows = []
    for name in models:
        model = built[name]
        generator = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        solved_at, start = float("nan"), time.perf_counter()
        for step in range(1, steps + 1):
            x, y = parity_data(batch_size, k, generator)
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step % check_every == 0 and solved_at != solved_at:
                if _accuracy(model, x_test, y_test) >= 0.99:
                    solved_at = step
        width = hidden_size if name == "grid_lstm" else model.spec.width
        rows.append({
            "model": name, "k": k, "depth": depth, "width": width, "params": _count(model),
            "steps": steps, "final_loss": loss.item(),
            "test_accuracy": _accuracy(model, x_test, y_test), "solved_at": solved_at,
            "seconds": time.perf_counter() - start,
        })
    return pd.DataFrame(rows)


def addition_data(
    n: int, digits: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs of random ``digits``-digit numbers and their sums, as sequences.

    Returns x of shape (n, digits + 1, 20): one-hot digits of a and b, least significant
    first, and a final all-zero step for the last carry; and y of shape (n, digits + 1):
    the digits of a + b, least significant first.
    """
    a = torch.randint(0, 10, (n, digits), generator=generator)
    b = torch.randint(0, 10, (n, digits), generator=generator)
    x = torch.zeros(n, digits + 1, 20)
    x[:, :digits] = torch.cat(
        [nn.functional.one_hot(a, 10), nn.functional.one_hot(b, 10)], dim=-1
    ).float()
    y = torch.empty(n, digits + 1, dtype=torch.long)
    carry = torch.zeros(n, dtype=torch.long)
    for t in range(digits):
        total = a[:, t] + b[:, t] + carry
        y[:, t], carry = total % 10, total // 10
    y[:, digits] = carry
    return x, y


def addition_experiment(
    digits: int = 6,
    *,
    test_digits: Sequence[int] = (6, 12),
    depth: int = 2,
    hidden_size: int = 32,
    steps: int = 600,
    batch_size: int = 64,
    lr: float = 5e-3,
    tied_depth: bool = False,
    seed: int = 0,
    n_test: int = 1000,
) -> pd.DataFrame:
    """Train a 2-D Grid LSTM (time x depth) to add two numbers digit by digit.

    Parameters
    ----------
    digits : int, default=6
        Length of the training numbers.
    test_digits : sequence of int, default=(6, 12)
        Lengths of the test numbers; longer ones test generalization along time.
    depth, hidden_size, tied_depth :
        As in :class:`fnnlab.nn.GridLSTMNetwork`.
    steps, batch_size, lr : int, int, float
        Adam steps on fresh batches (cross-entropy over every output digit).
    seed : int, default=0
        Seeds the weights and the data.
    n_test : int, default=1000
        Test pairs per length.

    Returns
    -------
    pandas.DataFrame
        One row per test length: model, train_digits, test_digits, depth, hidden_size,
        params, steps, digit_accuracy, sequence_accuracy (whole sum right), seconds
        (training time, the same on every row).
    """
    torch.manual_seed(seed)
    model = GridLSTMNetwork(20, 10, hidden_size, depth, tied_depth=tied_depth)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(steps):
        x, y = addition_data(batch_size, digits, generator)
        loss = nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    rows = []
    test_generator = torch.Generator().manual_seed(seed + 1)
    model.eval()
    for length in test_digits:
        x, y = addition_data(n_test, length, test_generator)
        with torch.no_grad():
            right = model(x).argmax(dim=-1) == y
        rows.append({
            "model": "grid_lstm_2d", "train_digits": digits, "test_digits": length,
            "depth": depth, "hidden_size": hidden_size, "params": _count(model),
            "steps": steps, "digit_accuracy": right.float().mean().item(),
            "sequence_accuracy": right.all(dim=1).float().mean().item(), "seconds": seconds,
        })
    return pd.DataFrame(rows)
