"""Tests for fnnlab.data.preprocess: standardization, one-hot, imputation, bad values."""

import numpy as np
import pandas as pd
import pytest

from fnnlab.data import Preprocessor


def test_numeric_columns_are_standardized_with_training_statistics():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"a": rng.normal(3.0, 2.0, 50), "b": rng.normal(-1.0, 0.1, 50)})
    out = Preprocessor().fit_transform(train)
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(out.std(0), 1.0, atol=1e-5)  # population std, as StandardScaler


def test_constant_column_gives_zeros_not_nan():
    train = pd.DataFrame({"const": [5.0] * 6, "a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    pre = Preprocessor().fit(train)
    out = pre.transform(pd.DataFrame({"const": [5.0, 7.0], "a": [1.0, 2.0]}))
    assert np.isfinite(out).all()
    assert out[0, 0] == 0.0 and out[1, 0] == 2.0  # zero variance: scale 1, only centered


def test_unseen_category_encodes_as_all_zeros():
    train = pd.DataFrame({"color": ["red", "green", "red"], "x": [1.0, 2.0, 3.0]})
    pre = Preprocessor().fit(train)
    assert pre.feature_names_out_ == ("x", "color_green", "color_red")
    out = pre.transform(pd.DataFrame({"color": ["blue", "green"], "x": [1.0, 1.0]}))
    np.testing.assert_array_equal(out[:, 1:], [[0.0, 0.0], [1.0, 0.0]])


def test_missing_values_without_imputation_name_columns_and_counts():
    df = pd.DataFrame({"a": [1.0, np.nan, np.nan], "b": ["x", None, "y"], "c": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match=r"'a' \(2 rows\), 'b' \(1 row\)\. Pass impute="):
        Preprocessor(name="toy").fit(df)


def test_infinite_values_are_an_error_even_with_imputation():
    df = pd.DataFrame({"a": [1.0, np.inf, 2.0]})
    with pytest.raises(ValueError, match=r"infinite feature values in 'a' \(1 row\)"):
        Preprocessor(impute="mean").fit(df)


def test_median_imputation_uses_training_median():
    train = pd.DataFrame({"a": [1.0, 2.0, 10.0, np.nan], "c": ["u", "u", "v", None]})
    pre = Preprocessor(impute="median").fit(train)
    out = pre.transform(pd.DataFrame({"a": [np.nan, 2.0], "c": [None, "v"]}))
    assert out[0, 0] == out[1, 0]  # NaN became the median 2.0
    np.testing.assert_array_equal(out[0, 1:], [1.0, 0.0])  # most frequent category "u"


def test_unknown_impute_strategy_is_rejected():
    with pytest.raises(ValueError, match="impute must be one of"):
        Preprocessor(impute="zero")


def test_transform_before_fit_is_an_error():
    with pytest.raises(ValueError, match="not fitted"):
        Preprocessor().transform(pd.DataFrame({"a": [1.0]}))
