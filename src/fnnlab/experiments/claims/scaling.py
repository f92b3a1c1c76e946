"""Claim 21: gradient descent converges much faster on standardized features.

The notes (001, "Feature Scaling") standardize every input dimension to mean 0 and
variance 1. For least squares, gradient descent's rate is set by the condition number
of the features' covariance (LeCun, Bottou, Orr, Müller, "Efficient BackProp", 1998,
Sec. 4.3), which standardization shrinks when the features have different scales.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.datasets import load_wine

from fnnlab.experiments.claims.claim import Outcome, above, claim

_TOL = 0.01  # converged: loss within 1% of the least-squares optimum


def gd_steps(x: np.ndarray, y: np.ndarray, lr: float, budget: int) -> float:
    """Full-batch gradient descent on the mean squared error of y ≈ x w + b from zero;
    the steps until the loss is within ``_TOL`` of the optimum (``inf``: never)."""
    a = np.hstack([x, np.ones((len(x), 1))])
    best = np.linalg.lstsq(a, y, rcond=None)[0]
    target = float(np.mean((a @ best - y) ** 2)) * (1 + _TOL)
    w = np.zeros(a.shape[1])
    for step in range(budget + 1):
        residual = a @ w - y
        loss = float(residual @ residual) / len(y)
        if not math.isfinite(loss) or loss > 1e12:
            return math.inf
        if loss <= target:
            return float(step)
        w -= lr * 2 * (a.T @ residual) / len(y)
    return math.inf


def scaling_checks(steps_raw: float, steps_scaled: float, budget: int) -> list:
    """Claim 21's rule: log10 of (steps on raw features / steps on standardized ones),
    each at its fastest rate, above 1 (ten times faster; margin 0.3). A run that never
    converges counts as the budget."""
    raw, scaled = min(steps_raw, budget), min(steps_scaled, budget)
    return [above("log10(GD steps to the optimum, raw / standardized features)",
                  math.log10(raw / scaled), 1.0, 0.3)]


@claim(
    21,
    "Feature scaling makes gradient descent converge much faster",
    "“x_i^r ← (x_i^r − m_i) / σ_i … The means of all dimensions are 0, and the variances "
    "are all 1 … In general, gradient descent converges much faster with feature scaling "
    "than without it.”",
    "001_3b6e40b80fa3dc00.txt",
)
def feature_scaling(quick: bool, seed: int) -> Outcome:
    raw = load_wine().data.astype(np.float64)
    x, y = raw[:, 1:], raw[:, 0]                     # alcohol from the other 12 columns
    scaled = (x - x.mean(0)) / x.std(0)
    # Raw features need millions of steps (condition number ~1e7), so they hit any
    # affordable budget; the budget only has to be well above the standardized count.
    budget = 3_000 if quick else 20_000
    rates = 10.0 ** np.arange(-9, 0.5, 0.5)
    rows = []
    for name, features in (("raw", x), ("standardized", scaled)):
        for lr in rates:
            rows.append({"features": name, "lr": float(lr),
                         "steps": gd_steps(features, y, float(lr), budget)})
    runs = pd.DataFrame(rows)
    fastest = runs.groupby("features")["steps"].min()
    checks = scaling_checks(fastest["raw"], fastest["standardized"], budget)
    cond = {name: float(np.linalg.cond(np.cov(f, rowvar=False))) for name, f in
            (("raw", x), ("standardized", scaled))}
    runs = pd.concat([runs, pd.DataFrame([
        {"features": name, "quantity": "condition number of the feature covariance",
         "value": c} for name, c in cond.items()])], ignore_index=True)
    setup = (
        f"Wine data set (scikit-learn, 178 rows): least-squares regression of the alcohol "
        f"content on the other 12 measurements (scales from about 0.1 to about 1000), by "
        f"full-batch gradient descent from zero, on the raw features and on features "
        f"standardized to mean 0, variance 1. Step sizes 1e-9 to 1 (half decades); steps "
        f"until the mean squared error is within {_TOL:.0%} of the least-squares optimum, "
        f"budget {budget:,} steps; each feature set at its fastest step size. "
        f"Deterministic (the seed is not used)."
    )
    notes = (f"The feature covariance's condition number is {cond['raw']:.3g} raw and "
             f"{cond['standardized']:.3g} standardized; gradient descent needs a number of "
             f"steps that grows with it, because the step size must suit the steepest "
             f"direction while progress along the flattest is proportional to it.")
    return Outcome(setup=setup, numbers=runs, checks=checks, notes=notes)
