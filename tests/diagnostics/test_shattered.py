import numpy as np
import pytest
import torch

from fnnlab.diagnostics import (
    autocorrelation,
    coactivation,
    gradient_profiles,
    input_gradients,
    input_grid,
    neighbor_correlation,
    power_spectrum,
    shattered_gradients,
    spectrum_slope,
)
from fnnlab.models import FNNSpec, build


def test_grid_is_256_midpoints_of_minus_two_to_two():
    x = input_grid()
    assert x.shape == (256, 1)
    assert float(x[0]) == pytest.approx(-2 + 2 / 256) and float(x[-1]) == pytest.approx(2 - 2 / 256)
    assert not (x == 0).any()


def test_backprop_gradient_matches_finite_differences_through_batch_norm():
    model = build(FNNSpec(1, 1, depth=3, width=16, method="batchnorm")).double().train()
    x = input_grid(32).double()
    g = input_gradients(model, x)
    h = 1e-6
    fd = torch.empty(32, dtype=torch.float64)
    with torch.no_grad():
        for i in range(32):
            e = torch.zeros_like(x)
            e[i] = h
            fd[i] = (model(x + e).sum() - model(x - e).sum()) / (2 * h)
    torch.testing.assert_close(g, fd, rtol=1e-5, atol=1e-7)


def test_linear_net_has_constant_gradient_and_correlation_exactly_one():
    model = build(FNNSpec(1, 1, depth=4, width=16, method="msra", activation="identity"))
    g = input_gradients(model, input_grid())
    torch.testing.assert_close(g, g[:1].expand_as(g), rtol=1e-5, atol=0)
    assert neighbor_correlation(g) == pytest.approx(1.0, abs=1e-6)


def test_white_noise_is_uncorrelated_with_flat_spectrum_and_brown_noise_is_not():
    rng = np.random.default_rng(0)
    white = rng.standard_normal((8, 256))
    brown = np.cumsum(white, axis=1)
    # Standard error of a lag-1 correlation of 256 white samples: 1/sqrt(255) ≈ 0.063.
    assert abs(np.mean([neighbor_correlation(w) for w in white])) < 0.07
    assert np.mean([neighbor_correlation(b) for b in brown]) > 0.9
    # Log-periodogram regression over 128 frequencies: slope standard error ≈ 0.1 per
    # series, 0.04 over 8; white noise has slope 0, a random walk -2.
    assert np.mean([spectrum_slope(w) for w in white]) == pytest.approx(0.0, abs=0.2)
    assert np.mean([spectrum_slope(b) for b in brown]) == pytest.approx(-2.0, abs=0.3)
    assert np.isnan(neighbor_correlation(np.zeros(10)))


def test_balduzzi_feedforward_relu_bn_gradients_shatter_with_depth():
    # Balduzzi et al. 2017, Fig. 1: ReLU + BN, width 200, 256 grid points as the batch.
    # A reference implementation measured ≈0.97 (depth 1), ≈0.4 (8), ≈0 (24). Seed-to-seed
    # spread is 0.001 / 0.01 / 0.03 (4 seeds), so the bands below are several spreads wide.
    table = shattered_gradients(["batchnorm"], [1, 8, 24], n_seeds=2).set_index("depth")
    rho = table["neighbor_correlation"]
    assert rho[1] > 0.95
    assert 0.3 < rho[8] < 0.55
    assert abs(rho[24]) < 0.15
    # White noise: flat spectrum at depth 24, brown-ish (steep) at depth 1.
    assert table.loc[24, "spectrum_slope"] > -0.5 > table.loc[1, "spectrum_slope"]


def test_scaled_resnet_and_plain_relu_keep_gradients_correlated_at_depth_24():
    # Skip connections with branch scaling 0.1 resist shattering (measured 0.82 ± 0.05 at
    # depth 24); without BN a He-initialized ReLU net stays near 0.99: batch norm, not
    # depth alone, drives the decay. Bound 0.6 leaves four seed spreads of margin.
    table = shattered_gradients(["resnet:branch_scale=0.1", "msra"], [24], n_seeds=2)
    rho = table.set_index("method")["neighbor_correlation"]
    assert rho["resnet:branch_scale=0.1"] > 0.6
    assert rho["msra"] > 0.9


def test_balduzzi_resnet_with_bn_decays_far_slower_than_feedforward_bn():
    # Balduzzi et al. analyse one-layer branches, x + W relu(BN(x)); a reference
    # implementation measured ≈0.6 at depth 24 (ours: 0.60), against ≈0 for ReLU + BN.
    # The two-layer pre-activation unit decays almost as fast as feedforward BN (0.07).
    table = shattered_gradients(["resnet:branch_layers=1", "batchnorm"], [24], n_seeds=2)
    rho = table.set_index("method")["neighbor_correlation"]
    assert rho["resnet:branch_layers=1"] > 0.4
    assert rho["resnet:branch_layers=1"] - rho["batchnorm"] > 0.3


def test_autocorrelation_and_spectrum_tables_come_from_the_profiles():
    profiles = gradient_profiles(["batchnorm"], [2], n_seeds=2, width=32, n_points=64)
    assert len(profiles) == 2 * 64
    acf = autocorrelation(profiles, max_lag=5)
    assert acf["lag"].tolist() == list(range(6))
    assert acf["autocorrelation"].iloc[0] == pytest.approx(1.0)
    summary = shattered_gradients(profiles=profiles)
    assert acf["autocorrelation"].iloc[1] == pytest.approx(summary["neighbor_correlation"][0])
    spectrum = power_spectrum(profiles)
    assert spectrum["frequency"].min() == pytest.approx(1 / 64)
    assert spectrum["frequency"].max() == pytest.approx(0.5)
    assert (spectrum["power"] >= 0).all()


def test_batch_norm_keeps_co_activation_near_one_quarter_at_depth():
    # BN centres every unit over the grid: active on half the points, so two distinct
    # points co-activate a unit at rate (n/2)(n/2 - 1) / (n(n - 1)) ≈ 0.249.
    table = coactivation(["batchnorm", "msra"], [16], n_seeds=1, width=64)
    last = table.groupby("method").tail(1).set_index("method")
    assert last.loc["batchnorm", "co_activation"] == pytest.approx(0.25, abs=0.02)
    # Without BN deep units end up always on or always off: co-activation -> share of
    # always-on units (measured 0.46 at depth 24), far above 1/4.
    assert last.loc["msra", "co_activation"] > 0.33


def test_bad_method_override_is_rejected_with_the_syntax():
    with pytest.raises(ValueError, match="preset:field=value"):
        shattered_gradients(["resnet:branchscale=0.1"], [1])
    with pytest.raises(ValueError, match="Unknown method"):
        shattered_gradients(["resnett"], [1])
    with pytest.raises(TypeError, match="list of names"):
        shattered_gradients("resnet", [1])
