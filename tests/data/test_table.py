"""Tests for fnnlab.data.table: from_frame / from_arrays validation and task inference."""

import numpy as np
import pandas as pd
import pytest

from fnnlab.data import from_arrays, from_frame


def test_missing_target_lists_columns_and_suggests_target():
    df = pd.DataFrame({"a": [1, 2], "label": [0, 1]})
    with pytest.raises(ValueError, match=r"no target column 'target'.*'a', 'label'.*target="):
        from_frame(df)


def test_single_class_is_an_error():
    with pytest.raises(ValueError, match=r"single class \('yes'\).*at least 2 classes"):
        from_arrays(np.zeros((5, 2)), ["yes"] * 5)


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError, match="X has 5 rows, y has 4"):
        from_arrays(np.zeros((5, 2)), [0, 1, 0, 1])


def test_one_dimensional_X_suggests_reshape():
    with pytest.raises(ValueError, match=r"reshape\(-1, 1\)"):
        from_arrays(np.zeros(5), [0, 1, 0, 1, 0])


def test_mixed_type_column_cannot_be_encoded():
    df = pd.DataFrame({"ok": [1.0, 2.0, 3.0], "mixed": [1, "a", 2.5], "target": [0, 1, 0]})
    with pytest.raises(TypeError, match=r"column 'mixed' mixes value types \(float, int, str"):
        from_frame(df)


def test_object_column_is_refused():
    df = pd.DataFrame({"x": [[1], [2], [3]], "target": [0, 1, 0]})
    with pytest.raises(TypeError, match="column 'x' mixes value types"):
        from_frame(df)


def test_datetime_column_is_refused():
    df = pd.DataFrame({"when": pd.date_range("2020", periods=3), "target": [0, 1, 0]})
    with pytest.raises(TypeError, match=r"column 'when' has dtype datetime64.*Convert"):
        from_frame(df)


def test_missing_target_values_name_rows():
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "target": [0, None, 1]})
    with pytest.raises(ValueError, match=r"missing in 1 rows \(rows 1\)"):
        from_frame(df)


def test_float_targets_with_fractions_are_regression():
    table = from_arrays(np.zeros((4, 1)), [0.5, 1.0, 2.0, 3.0])
    assert table.task == "regression" and table.classes is None
    assert table.y.dtype == np.float32


def test_string_labels_are_encoded_and_kept():
    table = from_arrays(np.zeros((4, 1)), ["dog", "cat", "dog", "emu"])
    assert table.task == "classification"
    assert table.classes.tolist() == ["cat", "dog", "emu"]
    assert table.y.tolist() == [1, 0, 1, 2]


def test_integral_float_target_with_many_values_warns():
    y = np.arange(100, dtype=float)
    with pytest.warns(UserWarning, match="task='regression'"):
        table = from_arrays(np.zeros((100, 1)), y)
    assert table.task == "classification"
    assert from_arrays(np.zeros((100, 1)), y, task="regression").task == "regression"


def test_column_kinds():
    df = pd.DataFrame({
        "num": [1.0, 2.0, 3.0], "flag": [True, False, True], "color": ["r", "g", "r"],
        "cat": pd.Categorical(["a", "b", "a"]), "boxed": pd.Series([1, 2, 3], dtype=object),
        "target": [0, 1, 0],
    })
    kinds = from_frame(df).kinds
    assert kinds == {"num": "numeric", "flag": "numeric", "color": "categorical",
                     "cat": "categorical", "boxed": "numeric"}


def test_multi_output_regression_from_arrays():
    table = from_arrays(np.zeros((5, 2)), np.ones((5, 3)))
    assert table.task == "regression" and table.targets == ("target0", "target1", "target2")
    assert table.y.shape == (5, 3)


def _tasks_frame(n=40, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    for name in ["t_x", "t_y", "t_z"]:
        labels = (rng.random(n) < 0.4).astype(float)
        labels[rng.random(n) < 0.3] = np.nan
        frame[name] = labels
    return frame


def test_several_binary_targets_are_tasks_with_missing_labels():
    frame = _tasks_frame()
    table = from_frame(frame, "t_*")
    assert table.multi_label and table.task == "classification"
    assert table.targets == ("t_x", "t_y", "t_z") and table.classes.tolist() == [0, 1]
    want = frame[["t_x", "t_y", "t_z"]].to_numpy(np.float32)
    keep = ~np.isnan(want).all(axis=1)
    np.testing.assert_array_equal(table.y, want[keep])  # NaN where a label is missing
    assert list(table.X.columns) == ["a", "b"]
    with pytest.warns(UserWarning, match="dropped"):
        assert from_frame(frame, ["t_z", "t_x"]).targets == ("t_z", "t_x")
    table = from_arrays(frame[["a", "b"]], want[keep], task="classification")
    assert table.multi_label and table.targets == ("target0", "target1", "target2")


def test_rows_without_a_label_are_dropped_with_one_warning():
    frame = _tasks_frame()
    frame.loc[[3, 7], ["t_x", "t_y", "t_z"]] = np.nan
    before = int(frame[["t_x", "t_y", "t_z"]].isna().all(axis=1).sum())
    with pytest.warns(UserWarning, match=rf"dropped {before} of 40 rows .*rows .*3, .*7") as rec:
        table = from_frame(frame, "t_*")
    assert len(rec) == 1 and len(table) == 40 - before


def test_a_target_column_without_labels_is_an_error_naming_it():
    frame = _tasks_frame()
    frame["t_y"] = np.nan
    with pytest.raises(ValueError, match=r"target column 't_y' has no observed label"):
        from_frame(frame, "t_*")


def test_target_patterns_and_non_binary_tasks_have_clear_errors():
    frame = _tasks_frame()
    with pytest.raises(ValueError, match=r"no column matching 'y_\*'.*'a', 'b'"):
        from_frame(frame, "y_*")
    frame["t_z"] = frame["t_z"] * 2
    with pytest.raises(ValueError, match=r"'t_z' holds values other than 0 and 1"):
        from_frame(frame, "t_*", task="classification")
    # Without task=, non-binary columns are multi-output regression (which needs every value).
    with pytest.raises(ValueError, match=r"target column 't_x' is missing in"):
        from_frame(frame, "t_*")
