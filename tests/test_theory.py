"""Tests for fnnlab.theory: the SELU moment map, its fixed points, alpha-dropout terms."""

import math

import numpy as np
import pytest

from fnnlab import theory
from fnnlab.theory import (
    ALPHA,
    SCALE,
    alpha_dropout_affine,
    fixed_point,
    is_stable,
    jacobian,
    jacobian_norm,
    selu_mapping,
    selu_moments,
    selu_parameters,
)

PAPER_ALPHA = 1.6732632423543772848170429916717
PAPER_SCALE = 1.0507009873554804934193349852946


def _selu(z: np.ndarray, alpha: float, scale: float) -> np.ndarray:
    return scale * np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))


@pytest.mark.parametrize(
    ("mean", "var", "omega", "tau", "params"),
    [
        (0.0, 1.0, 0.0, 1.0, None),
        (0.3, 0.7, 0.5, 1.2, None),
        (-1.0, 2.0, -0.8, 0.9, None),
        (0.0, 4.0, 0.0, 1.0, (0.0, 4.0)),
        (0.0, 1000.0, 0.0, 1.0, None),  # exp(m + s^2/2) alone would overflow
    ],
)
def test_selu_moments_match_monte_carlo(mean, var, omega, tau, params):
    alpha, scale = (ALPHA, SCALE) if params is None else selu_parameters(*params)
    rng = np.random.default_rng(0)
    n = 1_000_000
    z = mean * omega + math.sqrt(var * tau) * rng.standard_normal(n)
    y = _selu(z, alpha, scale)
    got_mean, got_var = selu_moments(mean, var, omega, tau, alpha, scale)
    # Tolerance: 5 Monte Carlo standard errors (of the mean, and of the variance
    # estimated from the fourth central moment), i.e. a false alarm every ~1e6 runs.
    se_mean = y.std() / math.sqrt(n)
    se_var = math.sqrt((np.mean((y - y.mean()) ** 4) - y.var() ** 2) / n)
    assert math.isfinite(got_mean) and math.isfinite(got_var)
    assert abs(got_mean - y.mean()) < 5 * se_mean
    assert abs(got_var - y.var()) < 5 * se_var


def test_selu_moments_broadcast_over_arrays():
    mean, var = np.array([0.0, 0.5]), np.array([1.0, 2.0])
    got_mean, got_var = selu_moments(mean, var, omega=0.3)
    for i in range(2):
        assert got_mean[i] == pytest.approx(selu_moments(mean[i], var[i], omega=0.3)[0])
        assert got_var[i] == pytest.approx(selu_moments(mean[i], var[i], omega=0.3)[1])


def test_selu_moments_rejects_nonpositive_variance():
    with pytest.raises(ValueError, match="var must be finite and > 0"):
        selu_moments(0.0, -1.0)


def test_selu_parameters_for_zero_one_are_the_paper_constants():
    alpha, scale = selu_parameters(0.0, 1.0)
    assert abs(alpha - PAPER_ALPHA) < 1e-10
    assert abs(scale - PAPER_SCALE) < 1e-10


@pytest.mark.parametrize(
    ("mean", "var", "omega", "tau"),
    [(0.0, 4.0, 0.0, 1.0), (0.2, 1.0, 0.0, 1.0), (-0.5, 2.0, 0.0, 1.0), (0.3, 2.0, 0.1, 1.05)],
)
def test_selu_parameters_make_the_point_a_fixed_point(mean, var, omega, tau):
    alpha, scale = selu_parameters(mean, var, omega, tau)
    assert alpha > 0 and scale > 0
    got = selu_moments(mean, var, omega, tau, alpha, scale)
    np.testing.assert_allclose(got, (mean, var), rtol=1e-10, atol=1e-12)


def test_selu_parameters_for_variance_four_differ_from_the_defaults():
    alpha, scale = selu_parameters(0.0, 4.0)
    assert alpha == pytest.approx(2.404005338, abs=1e-8)
    assert scale == pytest.approx(1.070232274, abs=1e-8)
    assert is_stable(0.0, 4.0, alpha, scale)
    assert fixed_point(alpha, scale, start=(0.0, 3.0)) == pytest.approx((0.0, 4.0), abs=1e-9)


@pytest.mark.parametrize(("mean", "var"), [(2.0, 1.0), (-0.9, 1.0)])
def test_unreachable_fixed_point_raises_with_reason(mean, var):
    with pytest.raises(ValueError, match=r"not reachable.*output mean/std lies in"):
        selu_parameters(mean, var)


def test_reachable_range_edges_are_the_relu_and_saturation_limits():
    # omega = 0, var = 1: ReLU's mean/std is phi(0) / sqrt(1/2 - phi(0)^2) = 0.6833.
    relu = (1 / math.sqrt(2 * math.pi)) / math.sqrt(0.5 - 1 / (2 * math.pi))
    alpha, _ = selu_parameters(0.999 * relu, 1.0)
    assert alpha < 0.05
    with pytest.raises(ValueError, match="not reachable"):
        selu_parameters(1.001 * relu, 1.0)


def test_jacobian_and_its_norm_match_the_paper_at_zero_one():
    # Klambauer et al. 2017, Section 3 ("Stable and attracting fixed point (0, 1) for
    # normalized weights"): omega = 0, tau = 1, the default alpha and scale, at (0, 1),
    # the spectral norm of the Jacobian is 0.7877 < 1. The entries are our own closed
    # form (checked against finite differences below).
    np.testing.assert_allclose(jacobian(0.0, 1.0), [[0.0, 0.0888348], [0.0, 0.7826479]],
                               atol=1e-7)
    assert jacobian_norm(0.0, 1.0) == pytest.approx(0.7877, abs=5e-5)
    assert is_stable(0.0, 1.0)


@pytest.mark.parametrize(
    ("mean", "var", "omega", "tau"), [(0.0, 1.0, 0.0, 1.0), (0.4, 1.3, 0.7, 0.9), (-1, 3, 1, 2)]
)
def test_jacobian_matches_central_differences(mean, var, omega, tau):
    h = 1e-6

    def g(m, v):
        return np.array(selu_moments(m, v, omega, tau))

    numeric = np.column_stack([(g(mean + h, var) - g(mean - h, var)) / (2 * h),
                               (g(mean, var + h) - g(mean, var - h)) / (2 * h)])
    np.testing.assert_allclose(jacobian(mean, var, omega=omega, tau=tau), numeric,
                               rtol=1e-6, atol=1e-8)


def test_is_stable_rejects_a_point_that_is_not_fixed():
    with pytest.raises(ValueError, match=r"not a fixed point.*selu_parameters"):
        is_stable(0.0, 4.0)


def test_alpha_dropout_affine_published_values():
    # Klambauer et al. 2017, Section "New dropout technique".
    a, b = alpha_dropout_affine(0.05)
    assert (a, b) == (pytest.approx(0.954844, abs=1e-6), pytest.approx(0.083936, abs=1e-6))
    a, b = alpha_dropout_affine(0.1)
    assert (a, b) == (pytest.approx(0.921285, abs=1e-6), pytest.approx(0.161971, abs=1e-6))


@pytest.mark.parametrize(("rate", "mean", "var"), [(0.1, 0.0, 4.0), (0.3, 0.5, 2.0)])
def test_alpha_dropout_affine_restores_mean_and_variance_exactly(rate, mean, var):
    # Exact moments of a * (d x + (1 - d) s) + b for x with the given mean/var.
    alpha, scale = selu_parameters(mean, var)
    a, b = alpha_dropout_affine(rate, alpha, scale, mean, var)
    keep, s = 1 - rate, -scale * alpha
    second = keep * (var + mean**2) + rate * s**2
    first = keep * mean + rate * s
    assert a * first + b == pytest.approx(mean, abs=1e-12)
    assert a**2 * (second - first**2) == pytest.approx(var, rel=1e-12)


def test_alpha_dropout_affine_is_identity_at_rate_zero():
    assert alpha_dropout_affine(0.0, mean=0.3, var=2.0) == pytest.approx((1.0, 0.0))


@pytest.mark.parametrize("rate", [-0.1, 1.0])
def test_alpha_dropout_affine_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        alpha_dropout_affine(rate)


def test_selu_mapping_is_a_tidy_vector_field_with_the_fixed_point():
    df = selu_mapping(np.linspace(-0.4, 0.4, 5), np.linspace(0.8, 1.5, 4))
    assert len(df) == 20
    assert {"mean", "var", "mean_next", "var_next", "d_mean", "d_var"} <= set(df.columns)
    np.testing.assert_allclose(df["d_var"], df["var_next"] - df["var"])
    assert df.attrs["fixed_point"] == pytest.approx((0.0, 1.0), abs=1e-9)
    # Variances below 1 grow, above 1 shrink: the flow points at the fixed point.
    assert (df.loc[df["var"] < 1, "d_var"] > 0).all()
    assert (df.loc[df["var"] > 1, "d_var"] < 0).all()


def test_module_exports():
    assert set(theory.__all__) >= {"selu_moments", "selu_parameters", "jacobian",
                                   "jacobian_norm", "is_stable", "alpha_dropout_affine"}
