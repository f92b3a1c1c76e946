"""Training speed of FNNClassifier against skorch's NeuralNetClassifier and MLPClassifier.

All three train the same network, 8 hidden layers x 256 ReLU units with a softmax
output, by plain minibatch SGD (lr 0.01, no momentum, no weight decay, batch 128) for
the same number of epochs on the same standardized float32 data. FNNClassifier and
skorch train the very same module (``fnnlab.build`` of the "msra" preset);
MLPClassifier trains its own NumPy implementation of that architecture. Runs
alternate between the three (the order rotates each repeat) after one warm-up fit
each, so drifting machine load hits all three alike. Reported: training samples per
second (samples x epochs / wall time of ``fit``), median and min-max over the
repeats, and the ratios of the medians.

    .venv/bin/python benchmarks/bench_sklearn.py                  # the recorded setting
    .venv/bin/python benchmarks/bench_sklearn.py --quick          # a 1-minute smoke run

With ``--check-estimator`` it instead times scikit-learn's ``check_estimator`` on
``FNNClassifier()`` and ``FNNRegressor()`` with their default parameters, beside
``MLPClassifier()`` and ``MLPRegressor()`` (alternating, ``--repeats`` rounds), and
reports wall time, the process's CPU time and the number of failed checks:

    .venv/bin/python benchmarks/bench_sklearn.py --check-estimator --threads 2 --repeats 3

Needs skorch (``pip install -c constraints.txt skorch``). Threads: torch and NumPy's
BLAS are both limited to ``--threads`` (default 2), set before any timing.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from fnnlab.models import FNNSpec, build
from fnnlab.sklearn import FNNClassifier

DEPTH, WIDTH, BATCH, LR = 8, 256, 128, 0.01


def make_data(n_samples: int, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(n_samples=n_samples, n_features=n_features,
                               n_informative=n_features // 2, n_classes=2, random_state=0)
    return StandardScaler().fit_transform(X).astype(np.float32), y.astype(np.int64)


def fnnlab_estimator(epochs: int, n_features: int):
    return FNNClassifier(method="msra", depth=DEPTH, width=WIDTH, optimizer="sgd", lr=LR,
                         batch_size=BATCH, epochs=epochs, random_state=0)


def skorch_estimator(epochs: int, n_features: int):
    from skorch import NeuralNetClassifier

    torch.manual_seed(0)
    module = build(FNNSpec(in_features=n_features, out_features=2, depth=DEPTH, width=WIDTH,
                           method="msra"))
    return NeuralNetClassifier(
        module, criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.SGD, lr=LR,
        batch_size=BATCH, max_epochs=epochs, train_split=None, iterator_train__shuffle=True,
        verbose=0, device="cpu",
    )


def sklearn_estimator(epochs: int, n_features: int):
    return MLPClassifier(
        hidden_layer_sizes=(WIDTH,) * DEPTH, activation="relu", solver="sgd",
        learning_rate_init=LR, momentum=0.0, nesterovs_momentum=False, alpha=0.0,
        batch_size=BATCH, max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1,
        shuffle=True, random_state=0,
    )


CONTENDERS = {"FNNClassifier": fnnlab_estimator, "skorch NeuralNetClassifier": skorch_estimator,
              "sklearn MLPClassifier": sklearn_estimator}


def time_fit(name: str, X: np.ndarray, y: np.ndarray, epochs: int) -> tuple[float, float]:
    """Seconds of one ``fit`` and the training accuracy it reached."""
    estimator = CONTENDERS[name](epochs, X.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X, y)
        seconds = time.perf_counter() - start
    return seconds, float((estimator.predict(X) == y).mean())


ESTIMATOR_CHECKS = ("FNNClassifier", "FNNRegressor", "MLPClassifier", "MLPRegressor")


def time_check_estimator(name: str) -> tuple[float, float, int, int]:
    """Wall seconds, CPU seconds, checks run and checks failed of one ``check_estimator``."""
    from sklearn.neural_network import MLPRegressor
    from sklearn.utils.estimator_checks import check_estimator

    from fnnlab.sklearn import FNNRegressor

    estimator = {"FNNClassifier": FNNClassifier, "FNNRegressor": FNNRegressor,
                 "MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wall, cpu = time.perf_counter(), time.process_time()
        results = check_estimator(estimator, on_fail=None)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    for check in failed:
        print(f"# {name}: failed {check}")
    return wall, cpu, len(results), len(failed)


def check_estimator_main(repeats: int) -> None:
    """Print a Markdown table of check_estimator's wall and CPU time per estimator."""
    wall: dict[str, list[float]] = {name: [] for name in ESTIMATOR_CHECKS}
    cpu: dict[str, list[float]] = {name: [] for name in ESTIMATOR_CHECKS}
    counts: dict[str, tuple[int, int]] = {}
    names = list(ESTIMATOR_CHECKS)
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            seconds, cpu_seconds, n_checks, n_failed = time_check_estimator(name)
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
            counts[name] = (n_checks, max(n_failed, counts.get(name, (0, 0))[1]))
            print(f"# {name}: {seconds:.1f} s wall, {cpu_seconds:.1f} s CPU", flush=True)
    print("| estimator (defaults) | wall: median (min–max) | CPU: median (min–max) | checks "
          "| failed |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        w, c = wall[name], cpu[name]
        print(f"| {name}() | {statistics.median(w):.0f} s ({min(w):.0f}–{max(w):.0f}) | "
              f"{statistics.median(c):.0f} s ({min(c):.0f}–{max(c):.0f}) | {counts[name][0]} "
              f"| {counts[name][1]} |")


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2048 samples, 2 epochs, 3 repeats")
    parser.add_argument("--check-estimator", action="store_true",
                        help="time check_estimator on the default estimators instead")
    args = parser.parse_args(argv)
    if args.check_estimator:
        torch.set_num_threads(args.threads)
        with threadpool_limits(limits=args.threads):
            print(f"# {_cpu()}, torch {torch.__version__}, torch and BLAS threads "
                  f"{args.threads}, {os.cpu_count()} cores, load average "
                  f"{os.getloadavg()[0]:.1f}", flush=True)
            check_estimator_main(args.repeats)
            print(f"# load average at the end {os.getloadavg()[0]:.1f}")
        return
    if args.quick:
        args.samples, args.epochs, args.repeats = 2048, 2, 3

    torch.set_num_threads(args.threads)
    X, y = make_data(args.samples, args.features)
    names = list(CONTENDERS)
    rates: dict[str, list[float]] = {name: [] for name in names}
    accuracy: dict[str, float] = {}
    with threadpool_limits(limits=args.threads):
        for name in names:  # warm-up: imports, allocator, kernel selection
            time_fit(name, X[:1024], y[:1024], 1)
        for r in range(args.repeats):
            for name in names[r % 3:] + names[:r % 3]:
                seconds, accuracy[name] = time_fit(name, X, y, args.epochs)
                rates[name].append(args.samples * args.epochs / seconds)

    print(f"# {_cpu()}, Python {platform.python_version()}, "
          f"torch {torch.__version__}, torch threads {torch.get_num_threads()}, "
          f"BLAS threads {args.threads}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"# {args.samples} samples x {args.features} features, {args.epochs} epochs, "
          f"{DEPTH}x{WIDTH} ReLU, SGD lr={LR}, batch {BATCH}, {args.repeats} alternating repeats")
    print(f"{'estimator':<28}{'samples/s median':>18}{'min-max':>22}{'train acc':>11}")
    medians = {name: statistics.median(rates[name]) for name in names}
    for name in names:
        low, high = min(rates[name]), max(rates[name])
        print(f"{name:<28}{medians[name]:>18,.0f}{f'{low:,.0f}-{high:,.0f}':>22}"
              f"{accuracy[name]:>11.3f}")
    base = medians["FNNClassifier"]
    for name in names[1:]:
        print(f"FNNClassifier / {name}: {base / medians[name]:.2f}x")


if __name__ == "__main__":
    main()
