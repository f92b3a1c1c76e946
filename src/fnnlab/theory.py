r"""SELU theory: the moment map of a SELU layer, its fixed points, and alpha dropout.

After Klambauer, Unterthiner, Mayr, Hochreiter, "Self-Normalizing Neural
Networks", NeurIPS 2017, arXiv:1706.02515 (Section 3 and Appendix A2).

A unit of the next layer sees ``z = w^T x``. If the inputs ``x_i`` have mean
``mu`` and variance ``nu``, and the weight vector has ``omega = sum_i w_i`` and
``tau = sum_i w_i^2``, then (central limit theorem) ``z ~ N(mu*omega, nu*tau)``.
The unit outputs ``y = selu(z)`` with

    selu(z) = scale * z                        if z > 0
              scale * alpha * (exp(z) - 1)     if z <= 0,

and the moment map ``g: (mu, nu) -> (E[y], Var[y])`` is available in closed form
(:func:`selu_moments`). SNNs pick ``alpha`` and ``scale`` so that a chosen
``(mean, var)`` is a fixed point of ``g`` (:func:`selu_parameters`); the paper's
constants make (0, 1) the fixed point for ``omega = 0, tau = 1``, and any other
reachable fixed point (0 and 4, say) gets its own constants. The fixed point
attracts when ``g`` contracts near it (:func:`jacobian_norm` < 1,
:func:`is_stable`). :func:`alpha_dropout_affine` gives the affine correction that
lets alpha dropout keep a fixed point's mean and variance.

Note [Gaussian integrals in log space]
    With ``z ~ N(m, s^2)`` the closed form needs terms such as
    ``E[exp(z); z < 0] = exp(m + s^2/2) * Phi(-(m + s^2)/s)``. The paper writes them
    as ``exp(...) * erfc(...)``, which overflows to ``inf * 0 = nan`` once
    ``m + s^2/2`` exceeds about 709, although the product is small. We evaluate
    ``exp(m + s^2/2 + log Phi(-(m + s^2)/s))`` with ``scipy.special.log_ndtr``,
    which is accurate over the whole real line, so the map is finite wherever
    its value is.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize, special

ALPHA = 1.6732632423543772848170429916717
SCALE = 1.0507009873554804934193349852946

__all__ = [
    "ALPHA",
    "SCALE",
    "alpha_dropout_affine",
    "fixed_point",
    "is_stable",
    "jacobian",
    "jacobian_norm",
    "selu_mapping",
    "selu_moments",
    "selu_parameters",
]

ArrayLike = float | np.ndarray


def _check_positive(name: str, value: ArrayLike, where: str) -> None:
    if np.any(~np.isfinite(value)) or np.any(np.asarray(value) <= 0):
        raise ValueError(f"{where}: {name} must be finite and > 0, got {value!r}.")


def _pieces(m: ArrayLike, s: ArrayLike) -> dict[str, np.ndarray]:
    """Truncated Gaussian integrals of ``z ~ N(m, s^2)`` that the SELU moments are made of.

    Returns ``pos = P(z > 0)``, ``dens = s * pdf_z(0) = phi(m/s)``, ``e1 = E[e^z; z <= 0]``
    and ``e2 = E[e^{2z}; z <= 0]`` (see Note [Gaussian integrals in log space]).
    """
    m = np.asarray(m, dtype=float)
    s = np.asarray(s, dtype=float)
    t = m / s
    return {
        "pos": special.ndtr(t),
        "neg": special.ndtr(-t),
        "dens": np.exp(-0.5 * t * t) / math.sqrt(2 * math.pi),
        "e1": np.exp(m + 0.5 * s * s + special.log_ndtr(-(m + s * s) / s)),
        "e2": np.exp(2 * m + 2 * s * s + special.log_ndtr(-(m + 2 * s * s) / s)),
    }


def _unit_moments(m: ArrayLike, s: ArrayLike, alpha: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``(E[f], E[f^2])`` of ``f = selu(z) / scale`` for ``z ~ N(m, s^2)``.

    ``E[f]   = m P + s phi(m/s) + alpha (e1 - P(z <= 0))``
    ``E[f^2] = (m^2 + s^2) P + m s phi(m/s) + alpha^2 (e2 - 2 e1 + P(z <= 0))``
    """
    p = _pieces(m, s)
    first = m * p["pos"] + s * p["dens"] + alpha * (p["e1"] - p["neg"])
    second = ((m * m + s * s) * p["pos"] + m * s * p["dens"]
              + alpha * alpha * (p["e2"] - 2 * p["e1"] + p["neg"]))
    return first, second


def selu_moments(
    mean: ArrayLike,
    var: ArrayLike,
    omega: float = 0.0,
    tau: float = 1.0,
    alpha: float = ALPHA,
    scale: float = SCALE,
) -> tuple[ArrayLike, ArrayLike]:
    r"""The moment map ``g(mean, var) -> (mean_next, var_next)`` of a SELU layer.

    With ``z ~ N(m, s^2)``, ``m = mean * omega``, ``s^2 = var * tau`` (Klambauer et al.
    2017, Eqs. 4-5 and Appendix A2, written with the normal CDF ``Phi``)::

        mean_next = scale * (m Phi(m/s) + s phi(m/s)
                             + alpha (exp(m + s^2/2) Phi(-(m + s^2)/s) - Phi(-m/s)))
        xi        = scale^2 * ((m^2 + s^2) Phi(m/s) + m s phi(m/s)
                               + alpha^2 (exp(2m + 2s^2) Phi(-(m + 2s^2)/s)
                                          - 2 exp(m + s^2/2) Phi(-(m + s^2)/s) + Phi(-m/s)))
        var_next  = xi - mean_next^2

    Parameters
    ----------
    mean, var : float or ndarray
        Mean and variance of the layer's inputs ``x_i`` (``var > 0``); arrays broadcast.
    omega, tau : float, default=0.0, 1.0
        ``sum_i w_i`` and ``sum_i w_i^2`` of the weight vector (``tau > 0``).
        ``omega = 0, tau = 1`` is LeCun-normal init in the limit of many inputs.
    alpha, scale : float
        SELU parameters (paper: alpha and lambda).

    Returns
    -------
    (mean_next, var_next) : tuple of float or ndarray
        Mean and variance of ``selu(z)``. ``var_next`` is the difference of two
        numbers, so it loses relative precision when ``|mean_next| >> sqrt(var_next)``.
    """
    _check_positive("var", var, "selu_moments")
    _check_positive("tau", tau, "selu_moments")
    m = np.asarray(mean, dtype=float) * omega
    s = np.sqrt(np.asarray(var, dtype=float) * tau)
    first, second = _unit_moments(m, s, alpha)
    mean_next = scale * first
    var_next = scale * scale * (second - first * first)
    if np.ndim(mean_next) == 0:
        return float(mean_next), float(var_next)
    return mean_next, var_next


def jacobian(
    mean: float,
    var: float,
    alpha: float = ALPHA,
    scale: float = SCALE,
    omega: float = 0.0,
    tau: float = 1.0,
) -> np.ndarray:
    r"""The Jacobian of the moment map ``g`` at ``(mean, var)``, in closed form.

    ``J = [[d mean_next/d mean, d mean_next/d var], [d var_next/d mean, d var_next/d var]]``.

    Derivatives of a Gaussian expectation: ``d/dm E[f(z)] = E[f'(z)]`` and
    ``d/d(s^2) E[f(z)] = E[f''(z)] / 2`` (Price's theorem), with the chain rule
    ``d/d mean = omega d/dm``, ``d/d var = tau d/d(s^2)``. For ``f = selu``,
    ``f''`` holds the point mass ``scale (1 - alpha) delta(z)`` from the kink at 0;
    ``selu^2`` has no kink. At (0, 1) with ``omega = 0, tau = 1`` and the default
    parameters, ``J = [[0, 0.0888348], [0, 0.7826479]]`` (the first column is 0
    because ``omega = 0`` hides the input mean); its spectral norm is the paper's 0.7877.

    Returns
    -------
    ndarray of shape (2, 2)
    """
    _check_positive("var", var, "jacobian")
    _check_positive("tau", tau, "jacobian")
    m = float(mean) * omega
    s = math.sqrt(float(var) * tau)
    p = _pieces(m, s)
    pos, e1, e2 = float(p["pos"]), float(p["e1"]), float(p["e2"])
    density_at_zero = float(p["dens"]) / s
    first, _ = _unit_moments(m, s, alpha)
    mean_next = scale * float(first)
    # Derivatives of E[selu] and E[selu^2] with respect to m and s^2.
    dmean_dm = scale * (pos + alpha * e1)
    dmean_ds2 = 0.5 * scale * (alpha * e1 + (1 - alpha) * density_at_zero)
    dxi_dm = scale**2 * 2 * (m * pos + s * float(p["dens"]) + alpha**2 * (e2 - e1))
    dxi_ds2 = scale**2 * (pos + alpha**2 * (2 * e2 - e1))
    dvar_dm = dxi_dm - 2 * mean_next * dmean_dm
    dvar_ds2 = dxi_ds2 - 2 * mean_next * dmean_ds2
    return np.array([[omega * dmean_dm, tau * dmean_ds2],
                     [omega * dvar_dm, tau * dvar_ds2]])


def jacobian_norm(
    mean: float = 0.0,
    var: float = 1.0,
    alpha: float = ALPHA,
    scale: float = SCALE,
    omega: float = 0.0,
    tau: float = 1.0,
) -> float:
    """Spectral norm (largest singular value) of :func:`jacobian` at ``(mean, var)``.

    Below 1, ``g`` is a contraction near ``(mean, var)`` (Banach fixed-point
    theorem). The paper reports 0.7877 for the default parameters at (0, 1) with
    ``omega = 0, tau = 1`` (Klambauer et al. 2017, Section 3, "Stable and
    attracting fixed point (0, 1) for normalized weights").
    """
    return float(np.linalg.norm(jacobian(mean, var, alpha, scale, omega, tau), ord=2))


def is_stable(
    mean: float = 0.0,
    var: float = 1.0,
    alpha: float = ALPHA,
    scale: float = SCALE,
    omega: float = 0.0,
    tau: float = 1.0,
) -> bool:
    """Whether ``(mean, var)`` is a stable, attracting fixed point of ``g``.

    Uses the paper's criterion: the spectral norm of the Jacobian is below 1, so
    ``g`` contracts a neighbourhood of the point. This is sufficient (it implies
    a spectral radius below 1).

    Raises
    ------
    ValueError
        If ``(mean, var)`` is not a fixed point of ``g`` for these parameters
        (relative mismatch above 1e-6); get matching parameters from
        :func:`selu_parameters`.
    """
    got = np.array(selu_moments(mean, var, omega, tau, alpha, scale))
    want = np.array([mean, var], dtype=float)
    if np.max(np.abs(got - want)) > 1e-6 * max(1.0, float(np.max(np.abs(want)))):
        raise ValueError(
            f"is_stable: ({mean}, {var}) is not a fixed point of the SELU moment map with "
            f"alpha={alpha}, scale={scale}, omega={omega}, tau={tau} (it maps to "
            f"({got[0]:.6g}, {got[1]:.6g})). Pass alpha, scale = "
            f"selu_parameters({mean}, {var}, omega={omega}, tau={tau})."
        )
    return jacobian_norm(mean, var, alpha, scale, omega, tau) < 1.0


def _mean_to_std_limits(m: float, s: float) -> tuple[float, float]:
    """Range of ``E[selu(z)] / std(selu(z))`` over ``alpha in (0, inf)``, ``z ~ N(m, s^2)``.

    ``alpha -> 0`` gives ReLU (the largest ratio), ``alpha -> inf`` the negative
    saturating part alone (the smallest). The ratio does not depend on ``scale``.
    """
    p = _pieces(m, s)
    relu_mean = m * float(p["pos"]) + s * float(p["dens"])
    relu_sq = (m * m + s * s) * float(p["pos"]) + m * s * float(p["dens"])
    neg_mean = float(p["e1"] - p["neg"])
    neg_sq = float(p["e2"] - 2 * p["e1"] + p["neg"])
    return (neg_mean / math.sqrt(neg_sq - neg_mean**2),
            relu_mean / math.sqrt(relu_sq - relu_mean**2))


def selu_parameters(
    mean: float = 0.0,
    var: float = 1.0,
    omega: float = 0.0,
    tau: float = 1.0,
) -> tuple[float, float]:
    r"""The SELU ``(alpha, scale)`` that make ``(mean, var)`` a fixed point of ``g``.

    Solves ``selu_moments(mean, var, omega, tau, alpha, scale) = (mean, var)``.
    Both moments scale exactly with ``scale`` (``E[y] = scale M(alpha)``,
    ``Var[y] = scale^2 V(alpha)``), so the ratio ``M / sqrt(V) = mean / sqrt(var)``
    fixes ``alpha`` (a 1-D root, ``scipy.optimize.brentq``) and then
    ``scale = sqrt(var / V(alpha))``. For (0, 1) this returns the paper's
    constants 1.6732632423543772848... and 1.0507009873554804934...

    Parameters
    ----------
    mean, var : float
        The wanted fixed point (``var > 0``).
    omega, tau : float, default=0.0, 1.0
        Weight statistics (see :func:`selu_moments`); ``tau > 0``.

    Returns
    -------
    (alpha, scale) : tuple of float, both > 0

    Raises
    ------
    ValueError
        If no SELU with ``alpha > 0`` has this fixed point. A SELU output's
        ``mean / std`` lies strictly between the value of the pure negative,
        saturating branch (``alpha -> inf``) and that of a ReLU (``alpha -> 0``);
        for ``omega = 0, tau = 1, var = 1`` that is about (-0.803, 0.683).
    """
    _check_positive("var", var, "selu_parameters")
    _check_positive("tau", tau, "selu_parameters")
    if not math.isfinite(mean) or not math.isfinite(omega):
        raise ValueError(f"selu_parameters: mean and omega must be finite, got {mean}, {omega}.")
    m, s = mean * omega, math.sqrt(var * tau)
    target = mean / math.sqrt(var)
    low, high = _mean_to_std_limits(m, s)
    if not low < target < high:
        raise ValueError(
            f"selu_parameters: ({mean}, {var}) is not reachable as a fixed point with "
            f"omega={omega}, tau={tau}. A SELU unit's output mean/std lies in "
            f"({low:.4f}, {high:.4f}) for every alpha > 0 (ReLU-like as alpha -> 0, "
            f"saturation-dominated as alpha -> inf), but mean/sqrt(var) = {target:.4f}. "
            f"Pick a mean closer to 0 or a larger variance."
        )

    def ratio(alpha: float) -> float:
        first, second = _unit_moments(m, s, alpha)
        return float(first / np.sqrt(second - first * first)) - target

    upper = 4.0
    while ratio(upper) > 0:  # the ratio falls with alpha towards `low` < target
        upper *= 4.0
    alpha = optimize.brentq(ratio, 0.0, upper, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    first, second = _unit_moments(m, s, alpha)
    scale = math.sqrt(var / float(second - first * first))
    return float(alpha), scale


def fixed_point(
    alpha: float = ALPHA,
    scale: float = SCALE,
    omega: float = 0.0,
    tau: float = 1.0,
    start: tuple[float, float] = (0.0, 1.0),
) -> tuple[float, float]:
    """The fixed point ``(mean, var)`` of ``g`` reached from ``start`` (inverse of
    :func:`selu_parameters`), found with ``scipy.optimize.root``.

    Raises
    ------
    ValueError
        If the solver does not converge to a point with ``var > 0``.
    """
    def residual(x: np.ndarray) -> np.ndarray:
        mean, log_var = x
        got = selu_moments(mean, math.exp(log_var), omega, tau, alpha, scale)
        return np.array([got[0] - mean, math.log(got[1]) - log_var])

    solution = optimize.root(residual, [start[0], math.log(start[1])], tol=1e-13)
    # hybr reports "no progress" when it starts on the solution; judge by the residual.
    if not np.all(np.abs(residual(solution.x)) < 1e-9):
        raise ValueError(
            f"fixed_point: no fixed point found from start={start} for alpha={alpha}, "
            f"scale={scale}, omega={omega}, tau={tau} ({solution.message}). Try another start."
        )
    return float(solution.x[0]), math.exp(float(solution.x[1]))


def selu_mapping(
    means: np.ndarray | None = None,
    variances: np.ndarray | None = None,
    alpha: float = ALPHA,
    scale: float = SCALE,
    omega: float = 0.0,
    tau: float = 1.0,
) -> pd.DataFrame:
    """The moment map ``g`` as a vector field over a (mean, var) grid (the paper's Figure 2).

    Parameters
    ----------
    means, variances : array-like, optional
        Grid axes; default ``linspace(-0.4, 0.4, 9)`` and ``linspace(0.8, 1.5, 8)``.
    alpha, scale, omega, tau : float
        As in :func:`selu_moments`.

    Returns
    -------
    DataFrame
        One row per grid point: ``mean``, ``var``, ``mean_next``, ``var_next``,
        ``d_mean = mean_next - mean``, ``d_var = var_next - var``, plus the constant
        columns ``alpha``, ``scale``, ``omega``, ``tau``. ``df.attrs["fixed_point"]``
        holds the fixed point of ``g`` (from :func:`fixed_point`), or None if the
        solver found none.
    """
    means = np.linspace(-0.4, 0.4, 9) if means is None else np.asarray(means, dtype=float)
    variances = (np.linspace(0.8, 1.5, 8) if variances is None
                 else np.asarray(variances, dtype=float))
    grid_mean, grid_var = (a.ravel() for a in np.meshgrid(means, variances, indexing="ij"))
    mean_next, var_next = selu_moments(grid_mean, grid_var, omega, tau, alpha, scale)
    frame = pd.DataFrame({
        "mean": grid_mean, "var": grid_var,
        "mean_next": mean_next, "var_next": var_next,
        "d_mean": mean_next - grid_mean, "d_var": var_next - grid_var,
        "alpha": alpha, "scale": scale, "omega": omega, "tau": tau,
    })
    try:
        frame.attrs["fixed_point"] = fixed_point(alpha, scale, omega, tau)
    except ValueError:
        frame.attrs["fixed_point"] = None
    return frame


def alpha_dropout_affine(
    rate: float,
    alpha: float = ALPHA,
    scale: float = SCALE,
    mean: float = 0.0,
    var: float = 1.0,
) -> tuple[float, float]:
    r"""The affine terms ``(a, b)`` of alpha dropout for any fixed point.

    Alpha dropout keeps each unit with probability ``q = 1 - rate`` and sets the
    others to the SELU saturation value ``s = -scale * alpha``:
    ``x' = d x + (1 - d) s``, ``d ~ Bernoulli(q)``. For inputs with mean ``mean``
    and variance ``var``, ``E[x'] = q mean + (1 - q) s`` and
    ``Var[x'] = q var + q (1 - q) (s - mean)^2``, so ``a x' + b`` has the original
    moments for::

        a = sqrt(var / (q var + q (1 - q) (s - mean)^2))
        b = mean - a (q mean + (1 - q) s)

    With ``mean = 0, var = 1`` this is the paper's ``a = (q + s^2 q (1 - q))^{-1/2}``,
    ``b = -a (1 - q) s`` (Klambauer et al. 2017, Section "New dropout technique"),
    which gives a = 0.954844, b = 0.083936 at rate 0.05.

    Raises
    ------
    ValueError
        If ``rate`` is outside [0, 1) or ``var`` is not positive.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"alpha_dropout_affine: rate must be in [0, 1), got {rate}.")
    _check_positive("var", var, "alpha_dropout_affine")
    keep = 1.0 - rate
    saturation = -scale * alpha
    a = math.sqrt(var / (keep * var + keep * rate * (saturation - mean) ** 2))
    b = mean - a * (keep * mean + rate * saturation)
    return a, b
