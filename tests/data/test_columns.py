"""Column kinds: numeric when most values are numbers, categorical within limits, declared."""

import numpy as np
import pandas as pd
import pytest

from fnnlab.data import MAX_CATEGORIES, from_frame, load, read_rows, split
from fnnlab.data.columns import infer_kind, typed_column


def _numbers_with_a_typo(n=52):
    values = [f"{v:.3f}" for v in np.random.default_rng(0).normal(size=n)]
    values[7] = "oops"
    return values


def _frame(**columns):
    n = len(next(iter(columns.values())))
    return pd.DataFrame({**columns, "target": np.arange(n) % 2})


def test_a_typo_in_a_numeric_column_names_column_row_and_value():
    with pytest.raises(ValueError, match=r"numeric feature column 'b' has 1 value\(s\) that are "
                                         r"not numbers: 'oops' \(rows 7\).*non_numeric='missing'"):
        from_frame(_frame(b=_numbers_with_a_typo()))


def test_a_typo_in_a_csv_file_does_not_one_hot_the_column(tmp_path):
    path = tmp_path / "typo.csv"
    _frame(b=_numbers_with_a_typo()).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"typo\.csv: .*column 'b'.*'oops' \(rows 7\)"):
        load(path)
    table = load(path, non_numeric="missing")
    assert table.kinds == {"b": "numeric"}
    assert table.frame["b"].dtype == np.float64 and table.frame["b"].isna().sum() == 1
    parts = split(table, impute="median", seed=0)
    assert parts.n_features == 1  # one standardized column, not 52 one-hot ones


def test_numeric_columns_parse_their_text():
    kind, column = typed_column(pd.Series(["1.5", " 2", "3e2", None], name="x"), "d")
    assert kind == "numeric"
    np.testing.assert_array_equal(column.to_numpy(), [1.5, 2.0, 300.0, np.nan])


def test_mostly_text_is_categorical_and_few_numbers_stay_categories():
    assert infer_kind(pd.Series(["red", "blue", "7", "red"], name="c"), "d") == "categorical"


@pytest.mark.parametrize("n, distinct", [(200, 200), (2 * MAX_CATEGORIES + 50, MAX_CATEGORIES + 1)])
def test_high_cardinality_text_is_an_error_saying_how_to_declare(n, distinct):
    values = [f"id{i % distinct}" for i in range(n)]
    with pytest.raises(ValueError, match=rf"column 'c' is text with {distinct} distinct values "
                                         rf"in {n} rows.*kinds=\{{'c': 'categorical'\}}"):
        from_frame(_frame(c=values))
    table = from_frame(_frame(c=values), kinds={"c": "categorical"})
    assert table.kinds == {"c": "categorical"}


def test_dates_as_text_are_an_error_not_one_hot_columns():
    dates = pd.date_range("2020-01-01", periods=60).strftime("%Y-%m-%d").tolist()
    with pytest.raises(ValueError, match="identifier, a date or free text"):
        from_frame(_frame(when=dates))


def test_a_small_table_keeps_its_few_categories():
    table = from_frame(_frame(color=["r", "g", "b", "r", "g"]))
    assert table.kinds == {"color": "categorical"}


def test_declared_kinds_override_inference_and_are_checked():
    table = from_frame(_frame(zip=[1001, 1002, 1001, 1003]), kinds={"zip": "categorical"})
    assert table.kinds == {"zip": "categorical"}
    with pytest.raises(ValueError, match=r"kinds names \['nope'\], which are not feature"):
        from_frame(_frame(a=[1.0, 2.0]), kinds={"nope": "numeric"})
    with pytest.raises(ValueError, match="must be one of"):
        from_frame(_frame(a=[1.0, 2.0]), kinds={"a": "ordinal"})


def test_duplicate_csv_column_names_are_an_error_as_in_a_frame(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("a,a,target\n1,2,0\n3,4,1\n")
    with pytest.raises(ValueError, match=r"dup\.csv has duplicate column names \['a'\]"):
        load(path)
    with pytest.raises(ValueError, match="duplicate column names"):
        read_rows(path)
