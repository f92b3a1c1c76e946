import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.preprocessing import QuantileTransformer, StandardScaler

from fnnlab.data import SCALINGS, Preprocessor, split
from fnnlab.data.scaling import from_parameters


def _heavy(n: int, seed: int = 0) -> np.ndarray:
    """Three heavy-tailed columns: lognormal, a Cauchy with 1e10 outliers, small integers."""
    rng = np.random.default_rng(seed)
    cauchy = rng.standard_cauchy(n)
    cauchy[:3] = [1e10, -1e10, 5e9]
    return np.column_stack([rng.lognormal(0, 3, n), cauchy, rng.integers(0, 5, n)])


def test_robust_scaling_matches_realmlps_formula_on_a_hand_vector():
    train = np.array([[1.0, 0.0, 5.0], [2.0, 0.0, 5.0], [3.0, 0.0, 5.0], [4.0, 0.0, 5.0],
                      [100.0, 1.0, 5.0]])
    scaling = SCALINGS.create("robust").fit(train)
    # Column 0: median 3, quartiles 2 and 4. Column 1: quartiles tie at 0, so the range
    # falls back to (max - min) / 2 = 0.5. Column 2 is constant: factor 0.
    np.testing.assert_allclose(scaling.parameters_["center"], [3.0, 0.0, 5.0])
    np.testing.assert_allclose(scaling.parameters_["factor"], [0.5, 2.0, 0.0])
    new = np.array([[3.0, 0.0, 5.0], [100.0, 1.0, 7.0], [-1e12, -3.0, -1.0]])
    s = np.array([[0.0, 0.0, 0.0], [48.5, 2.0, 0.0], [(-1e12 - 3) / 2, -6.0, 0.0]])
    np.testing.assert_allclose(scaling.transform(new), s / np.sqrt(1 + (s / 3) ** 2),
                               rtol=1e-15, atol=0)
    assert np.abs(scaling.transform(new)).max() <= 3.0  # 3 itself only by float rounding


def test_quantile_scaling_equals_scikit_learns_on_continuous_columns():
    train, new = _heavy(600), _heavy(200, seed=1) * 1.5  # new rows reach beyond the range
    train[:, 2] += np.random.default_rng(2).normal(0, 1e-3, len(train))  # no ties
    reference = QuantileTransformer(n_quantiles=600, output_distribution="normal",
                                    random_state=0).fit(train)
    scaling = SCALINGS.create("quantile").fit(train)
    np.testing.assert_allclose(scaling.transform(new), reference.transform(new),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scaling.parameters_["quantiles"], reference.quantiles_.T)


def test_quantile_scaling_maps_a_binary_column_to_its_mid_ranks():
    rng = np.random.default_rng(0)
    bits = (rng.random((2000, 1)) < 0.05).astype(float)
    p = bits.mean()
    z = SCALINGS.create("quantile").fit(bits).transform(np.array([[0.0], [1.0]]))
    # Note [tied quantile bounds]: the middle of each value's probability mass, up to
    # the grid of 1000 quantiles (1e-3 in probability).
    np.testing.assert_allclose(z.ravel(), norm.ppf([(1 - p) / 2, 1 - p / 2]), atol=0.01)
    sklearns = QuantileTransformer(output_distribution="normal").fit(bits)
    np.testing.assert_allclose(sklearns.transform([[0.0], [1.0]]).ravel(), [-5.199, 5.199],
                               atol=1e-3)  # what the override would give instead


def test_standard_scaling_equals_scikit_learns():
    train = _heavy(300)
    np.testing.assert_allclose(SCALINGS.create("standard").fit(train).transform(train),
                               StandardScaler().fit_transform(train), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", SCALINGS.names())
def test_outputs_are_finite_and_of_unit_order_on_heavy_tails(name):
    train = _heavy(500)
    z = SCALINGS.create(name).fit(train).transform(train)
    assert np.isfinite(z).all()
    if name in ("robust", "quantile"):
        assert np.abs(z).max() <= 5.2
        assert np.median(np.abs(z), axis=0).max() < 1.5


@pytest.mark.parametrize("name", SCALINGS.names())
def test_preprocessor_round_trip_through_json_transforms_identically(name):
    frame = pd.DataFrame(_heavy(200), columns=["a", "b", "c"])
    frame["color"] = np.where(np.arange(200) % 3, "red", "blue")
    pre = Preprocessor(name="toy", scaling=name).fit(frame.iloc[:150])
    state = json.loads(json.dumps(pre.to_dict()))
    rebuilt = Preprocessor.from_dict(state)
    np.testing.assert_array_equal(rebuilt.transform(frame.iloc[150:]),
                                  pre.transform(frame.iloc[150:]))
    assert rebuilt.to_dict() == pre.to_dict()
    assert ("scaling" in state) == (name != "standard")


@pytest.mark.parametrize("name", SCALINGS.names())
def test_split_fits_the_scaling_on_the_training_rows_only(name):
    frame = pd.DataFrame(_heavy(300), columns=["a", "b", "c"])
    frame["target"] = np.arange(300) % 2
    parts = split(frame, seed=0, scaling=name)
    expected = SCALINGS.create(name).fit(frame.iloc[parts.train_index, :3].to_numpy())
    np.testing.assert_array_equal(parts.train.X.numpy(),
                                  expected.transform(frame.iloc[parts.train_index, :3].to_numpy())
                                  .astype(np.float32))
    # Changing every validation and test row leaves the training features as they were.
    changed = frame.copy()
    held_out = np.concatenate([parts.valid_index, parts.test_index])
    changed.loc[held_out, ["a", "b", "c"]] *= 1e3
    again = split(changed, seed=0, scaling=name)
    np.testing.assert_array_equal(again.train.X.numpy(), parts.train.X.numpy())


def test_unknown_scaling_lists_the_known_names():
    with pytest.raises(ValueError, match="Unknown scaling 'quantil'. Did you mean 'quantile'"
                                         r"\? Known scalings: none, quantile, robust, standard"):
        Preprocessor(scaling="quantil")


def test_from_dict_rejects_decreasing_quantiles():
    pre = Preprocessor(scaling="quantile").fit(pd.DataFrame({"x": np.arange(10.0)}))
    state = pre.to_dict()
    state["columns"][0]["quantiles"] = state["columns"][0]["quantiles"][::-1]
    with pytest.raises(ValueError, match="quantiles must be finite and non-decreasing"):
        Preprocessor.from_dict(state)


def test_from_parameters_needs_exactly_the_scalings_fields():
    with pytest.raises(ValueError, match=r"unknown parameters \['mean'\], missing "
                                         r"parameters \['center', 'factor'\]"):
        from_parameters("robust", {"mean": [0.0]}, 1)


def test_transform_checks_the_number_of_columns():
    scaling = SCALINGS.create("robust").fit(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"fitted on 2 column\(s\), got 3"):
        scaling.transform(np.ones((1, 3)))
