"""Column kinds: whether a feature column is encoded as numbers or as categories.

A feature column is *numeric* (standardized) or *categorical* (one-hot encoded,
`fnnlab.data.preprocess`). The kind is read from the column's dtype where the
dtype says it (numbers, booleans, pandas categoricals); text columns, as every
column of a CSV file with a stray word in it arrives, are decided by their
values:

- **Mostly numbers.** When more than half of a text column's values parse as
  numbers, the column is numeric and the others are typos or placeholders: an
  error that names the column, the rows and the values, or, with
  ``non_numeric="missing"``, missing values (to drop or impute). A single
  ``oops`` then never turns a numeric column into 52 one-hot columns.
- **Mostly text.** The column is categorical, unless it has so many distinct
  values that one-hot encoding would give a column per row (identifiers, dates,
  free text): more than `MAX_CATEGORIES` distinct values, or more than
  `MIN_CHECKED_CATEGORIES` of which more than half the rows are distinct. That
  is an error saying how to declare the column's kind.

A declared kind (``kinds={"zip": "categorical"}`` for the loaders and `from_frame`,
``--kind zip=categorical`` for ``fnnlab train``) overrides the inference.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from fnnlab.data.messages import rows

__all__ = ["KINDS", "MAX_CATEGORIES", "MIN_CHECKED_CATEGORIES", "NON_NUMERIC", "Kind",
           "NonNumeric", "infer_kind", "numbers", "typed_column"]

Kind = Literal["numeric", "categorical"]
KINDS: tuple[str, ...] = ("numeric", "categorical")
NonNumeric = Literal["error", "missing"]
NON_NUMERIC: tuple[str, ...] = ("error", "missing")

# A categorical column with more distinct values than this is an error unless declared:
# one-hot encoding it adds a column per value, and past ~100 values those columns are
# mostly identifiers the network memorizes rather than categories it can learn.
MAX_CATEGORIES = 100
# Below this many distinct values the share-of-rows rule does not apply, so a small
# table with a few categories (3 colours in 5 rows) stays valid.
MIN_CHECKED_CATEGORIES = 20


def numbers(values: pd.Series) -> np.ndarray:
    """Float64 values of a column; NaN where missing or not a number."""
    return pd.to_numeric(values, errors="coerce").to_numpy(np.float64, na_value=np.nan)


def infer_kind(column: pd.Series, name: str) -> Kind:
    """The kind of a feature column, inferred from its dtype and values (module docstring).

    Raises
    ------
    TypeError
        Complex numbers, dates, or values of mixed Python types.
    ValueError
        A text column with too many distinct values to one-hot encode.
    """
    where = f"Data set {name!r}, feature column {column.name!r}"
    if ptypes.is_complex_dtype(column):
        raise TypeError(f"{where} holds complex numbers, which cannot be encoded; split it "
                        f"into real and imaginary columns.")
    if ptypes.is_bool_dtype(column) or ptypes.is_numeric_dtype(column):
        return "numeric"
    if isinstance(column.dtype, pd.CategoricalDtype):
        return "categorical"  # the dtype is the user's declaration
    if column.dtype == object or ptypes.is_string_dtype(column):
        return _text_kind(column, where)
    raise TypeError(f"{where} has dtype {column.dtype}, which cannot be encoded as features. "
                    f"Convert it to numbers (e.g. a timestamp) or to strings, or drop it.")


def typed_column(
    column: pd.Series, name: str, kind: Kind | None = None, non_numeric: NonNumeric = "error",
) -> tuple[Kind, pd.Series]:
    """The column's kind (``kind``, else inferred) and the column ready for that kind.

    A numeric column comes back as float64 with its text values parsed; values that
    do not parse are an error naming rows and values, or missing (NaN) with
    ``non_numeric="missing"``. A categorical column comes back unchanged.
    """
    if kind is None:
        kind = infer_kind(column, name)
    elif kind not in KINDS:
        raise ValueError(f"Data set {name!r}: the kind of column {column.name!r} must be one "
                         f"of {KINDS}, got {kind!r}.")
    if non_numeric not in NON_NUMERIC:
        raise ValueError(f"non_numeric must be one of {NON_NUMERIC}, got {non_numeric!r}.")
    if kind == "categorical" or ptypes.is_bool_dtype(column) or ptypes.is_numeric_dtype(column):
        return kind, column
    values = numbers(column)
    bad = np.isnan(values) & column.notna().to_numpy()
    if bad.any() and non_numeric == "error":
        examples = ", ".join(repr(v) for v in pd.unique(column[bad])[:5])
        raise ValueError(
            f"Data set {name!r}: numeric feature column {column.name!r} has "
            f"{int(bad.sum())} value(s) that are not numbers: {examples} (rows {rows(bad)}). "
            f"Fix them, pass non_numeric='missing' (fnnlab train --non-numeric missing) to "
            f"read them as missing values, or declare the column categorical."
        )
    return kind, pd.Series(values, index=column.index, name=column.name)


def _text_kind(column: pd.Series, where: str) -> Kind:
    values = column.dropna()
    is_text = values.map(lambda v: isinstance(v, str)).to_numpy(bool)
    if not is_text.all():
        # Python numbers (bool included) stored as objects are still numbers.
        is_number = values.map(
            lambda v: isinstance(v, (int, float, np.number, np.bool_))).to_numpy(bool)
        if is_number.all():
            return "numeric"
        types = sorted(set(values.map(lambda v: type(v).__name__)))
        first = values.index[~is_number][0]
        raise TypeError(
            f"{where} mixes value types ({', '.join(types)}; e.g. row {first}: "
            f"{column[first]!r}) and cannot be encoded. Convert it to numbers or to strings "
            f"(df[{column.name!r}].astype(str)), or drop it."
        )
    if len(values) and (~np.isnan(numbers(values))).mean() > 0.5:
        return "numeric"
    distinct = values.nunique()
    if distinct > MAX_CATEGORIES or (distinct > MIN_CHECKED_CATEGORIES
                                     and distinct > len(values) / 2):
        raise ValueError(
            f"{where} is text with {distinct} distinct values in {len(values)} rows, too "
            f"many to one-hot encode (limit: {MAX_CATEGORIES} values, and at most half as "
            f"many as rows beyond {MIN_CHECKED_CATEGORIES}); is it an identifier, a date or "
            f"free text? Drop it, convert it to numbers, or declare its kind: "
            f"kinds={{{str(column.name)!r}: 'categorical'}} (fnnlab train --kind "
            f"{column.name}=categorical)."
        )
    return "categorical"
