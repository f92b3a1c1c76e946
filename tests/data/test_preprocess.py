"""Tests for fnnlab.data.preprocess: standardization, one-hot, imputation, bad values,
JSON round trips, target scaling."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from fnnlab.data import Preprocessor, TargetScaler


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


def _mixed_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "a": rng.normal(3.0, 2.0, n),
        "b": rng.integers(0, 4, n).astype(float),
        "color": rng.choice(["red", "green", "blue"], n),
        "const": np.full(n, 5.0),
        "size": rng.choice(["s", "m"], n),
    })
    df.loc[rng.choice(n, 12, replace=False), "a"] = np.nan
    df.loc[rng.choice(n, 9, replace=False), "b"] = np.nan
    df.loc[rng.choice(n, 7, replace=False), "color"] = None
    return df


@pytest.mark.parametrize("impute", [None, "mean", "median", "most_frequent"])
def test_transform_equals_scikit_learn_pipeline(impute):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    df = _mixed_frame()
    if impute is None:
        df = df.dropna()
    train, new = df.iloc[:80], df.iloc[80:]
    numeric, categorical = ["a", "b", "const"], ["color", "size"]
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    steps = [] if impute is None else [SimpleImputer(strategy=impute)]
    cat_steps = [] if impute is None else [SimpleImputer(strategy="most_frequent")]
    reference = ColumnTransformer(
        [("num", make_pipeline(*steps, StandardScaler()), numeric),
         ("cat", make_pipeline(*cat_steps, onehot), categorical)],
        verbose_feature_names_out=False,
    ).fit(train)
    pre = Preprocessor(impute=impute).fit(train)
    assert pre.feature_names_out_ == tuple(reference.get_feature_names_out())
    np.testing.assert_allclose(pre.transform(new), reference.transform(new), rtol=1e-6,
                               atol=1e-6)


def test_round_trip_through_json_transforms_identically():
    df = _mixed_frame()
    pre = Preprocessor(impute="median", name="toy").fit(df.iloc[:80])
    state = json.loads(json.dumps(pre.to_dict()))  # JSON-safe: plain lists, floats, strings
    rebuilt = Preprocessor.from_dict(state)
    new = df.iloc[80:].copy()
    new.loc[new.index[0], "color"] = "violet"  # unseen category
    np.testing.assert_array_equal(rebuilt.transform(new), pre.transform(new))
    assert rebuilt.feature_names_out_ == pre.feature_names_out_
    assert rebuilt.to_dict() == pre.to_dict()


def test_to_dict_names_each_columns_statistics():
    train = pd.DataFrame({"x": [1.0, 3.0], "color": ["red", "green"]})
    assert Preprocessor(name="toy").fit(train).to_dict() == {
        "name": "toy", "impute": None, "columns": [
            {"name": "x", "kind": "numeric", "mean": 2.0, "scale": 1.0, "fill": None},
            {"name": "color", "kind": "categorical", "categories": ["green", "red"],
             "fill": None},
        ]}


def test_from_dict_rejects_unknown_keys():
    state = Preprocessor().fit(pd.DataFrame({"x": [1.0, 2.0]})).to_dict()
    state["columns"][0]["std"] = 1.0
    with pytest.raises(ValueError, match=r"columns\[0\]: unknown keys \['std'\]"):
        Preprocessor.from_dict(state)


def test_transform_names_the_missing_columns():
    pre = Preprocessor(name="train").fit(pd.DataFrame({"x": [1.0, 2.0], "y": [0.0, 1.0],
                                                       "z": ["a", "b"]}))
    pre.name = "new.csv"
    with pytest.raises(ValueError, match=r"'new.csv' lacks feature column\(s\) \['y', 'z'\]"):
        pre.transform(pd.DataFrame({"x": [1.0]}))


def test_text_in_a_numeric_column_is_an_error():
    pre = Preprocessor().fit(pd.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(ValueError, match=r"non-numeric values in numeric feature column\(s\) "
                                         r"'x' \(1 row\)"):
        pre.transform(pd.DataFrame({"x": ["3.5", "abc"]}))


def test_column_without_training_values_cannot_be_imputed():
    train = pd.DataFrame({"x": [np.nan, np.nan], "y": [1.0, 2.0]})
    with pytest.raises(ValueError, match="column 'x' has no values in the training rows"):
        Preprocessor(impute="mean").fit(train)


def test_target_scaler_standardizes_and_maps_back():
    rng = np.random.default_rng(0)
    y = torch.from_numpy(rng.normal(150.0, 70.0, (200, 2)).astype(np.float32))
    scaler = TargetScaler().fit(y)
    t = scaler.transform(y)
    torch.testing.assert_close(t.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(t.std(0, unbiased=False), torch.ones(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(scaler.inverse_transform(t), y, atol=1e-4, rtol=1e-6)


def test_target_scaler_maps_column_predictions_of_a_1d_target():
    scaler = TargetScaler().fit(torch.tensor([1.0, 2.0, 3.0, 6.0]))
    assert scaler.mean_ == 3.0 and scaler.scale_ == pytest.approx(np.sqrt(3.5))
    outputs = torch.tensor([[0.0], [1.0]])  # a model's (N, 1) outputs
    torch.testing.assert_close(scaler.inverse_transform(outputs),
                               torch.tensor([[3.0], [3.0 + float(np.sqrt(3.5))]]))


def test_target_scaler_constant_target_is_only_centered():
    scaler = TargetScaler().fit(torch.full((5,), 7.0))
    assert scaler.scale_ == 1.0
    torch.testing.assert_close(scaler.transform(torch.tensor([7.0, 9.0])),
                               torch.tensor([0.0, 2.0]))


def test_target_scaler_round_trip_through_json():
    scaler = TargetScaler().fit(torch.tensor([[1.0, 10.0], [2.0, 30.0], [4.0, 20.0]]))
    rebuilt = TargetScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    t = torch.tensor([[0.5, -1.0]])
    torch.testing.assert_close(rebuilt.inverse_transform(t), scaler.inverse_transform(t),
                               atol=0, rtol=0)


def test_target_scaler_errors():
    with pytest.raises(ValueError, match="not fitted"):
        TargetScaler().transform(torch.zeros(3))
    with pytest.raises(ValueError, match="NaN or inf"):
        TargetScaler().fit(torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match=r"fitted on 1 target column\(s\)"):
        TargetScaler().fit(torch.zeros(3)).transform(torch.zeros(3, 2))


def test_values_too_large_to_standardize_name_their_column_without_numpy_warnings():
    import warnings

    frame = pd.DataFrame({"ok": [1.0, 2.0, 3.0, 4.0], "big": [1e308, -1e308, 2e307, 5.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow warnings would fail here
        with pytest.raises(ValueError, match=r"beyond ±1e\+150 in 'big' \(3 rows\).*Rescale"):
            Preprocessor().fit(frame)
