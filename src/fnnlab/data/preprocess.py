"""Feature preprocessing, fitted on the training split only.

Numeric columns are standardized, z = (x - mean_train) / std_train (LeCun et
al. 1998, "Efficient BackProp": zero-mean, unit-variance inputs condition the
first layer's Hessian; SELU networks assume it for their fixed point, Klambauer
et al. 2017). Categorical columns are one-hot encoded. Both are scikit-learn
transformers inside one `ColumnTransformer`; `Preprocessor` adds the checks
and error messages fnnlab promises.

Note [train-only statistics]
    Means, standard deviations, imputation values and category lists come from
    the training rows alone, so nothing about the validation or test rows leaks
    into the features a model is selected or scored on.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from fnnlab.data.table import Kind, _column_kind

IMPUTE_STRATEGIES: tuple[str, ...] = ("mean", "median", "most_frequent")


class Preprocessor:
    """Standardize numeric columns and one-hot encode categorical ones.

    numeric:      z = (x - mean) / std       (std = 1 for a constant column, so z = 0)
    categorical:  one 0/1 column per category seen in training; an unseen
                  category encodes as all zeros (``handle_unknown="ignore"``)

    Parameters
    ----------
    kinds : mapping of str to {"numeric", "categorical"}, optional
        Encoding of each feature column (`Table.kinds`); inferred from the data
        at `fit` when omitted.
    impute : {"mean", "median", "most_frequent"} or None, default=None
        Fill missing numeric values with this training statistic (categorical
        columns always use the most frequent category). None: missing values
        are an error.
    name : str, default="data"
        Data set name for error messages.

    Attributes
    ----------
    feature_names_out_ : tuple of str
        Names of the output columns (``"color_red"`` for a one-hot column).
    transformer_ : sklearn.compose.ColumnTransformer
        The fitted scikit-learn transformer.
    """

    def __init__(
        self,
        kinds: Mapping[str, Kind] | None = None,
        impute: str | None = None,
        name: str = "data",
    ) -> None:
        if impute is not None and impute not in IMPUTE_STRATEGIES:
            raise ValueError(
                f"impute must be one of {IMPUTE_STRATEGIES} or None, got {impute!r}."
            )
        self.kinds = None if kinds is None else dict(kinds)
        self.impute = impute
        self.name = name

    def __repr__(self) -> str:
        return f"Preprocessor(impute={self.impute!r}, name={self.name!r})"

    def check(self, X: pd.DataFrame) -> None:
        """Raise if ``X`` lacks a column or holds values the preprocessor cannot take.

        Infinite values are always an error; missing values are one unless
        ``impute`` is set. The message names each column with its row count.
        """
        kinds = self._kinds(X)
        missing_columns = [c for c in kinds if c not in X.columns]
        if missing_columns:
            raise ValueError(f"Data set {self.name!r} lacks feature columns {missing_columns}.")
        infinite, missing = {}, {}
        for column, kind in kinds.items():
            values = X[column]
            n_missing = int(values.isna().sum())
            if n_missing:
                missing[column] = n_missing
            if kind == "numeric":
                numbers = pd.to_numeric(values).to_numpy(dtype=np.float64, na_value=np.nan)
                n_infinite = int(np.isinf(numbers).sum())
                if n_infinite:
                    infinite[column] = n_infinite
        if infinite:
            raise ValueError(
                f"Data set {self.name!r} has infinite feature values in {_counts(infinite)}. "
                f"Replace them (e.g. df.replace([np.inf, -np.inf], np.nan) and pass "
                f"impute='median') or drop those rows."
            )
        if missing and self.impute is None:
            raise ValueError(
                f"Data set {self.name!r} has missing (NaN) feature values in "
                f"{_counts(missing)}. Pass impute='mean', 'median' or 'most_frequent', "
                f"or drop those rows."
            )

    def fit(self, X: pd.DataFrame) -> Preprocessor:
        """Learn the statistics and categories from the training rows ``X``."""
        kinds = self._kinds(X)
        self.kinds = kinds
        self.check(X)
        numeric = [c for c, k in kinds.items() if k == "numeric"]
        categorical = [c for c, k in kinds.items() if k == "categorical"]
        scale = StandardScaler()
        onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        if self.impute is not None:
            scale = Pipeline([("impute", SimpleImputer(strategy=self.impute)), ("scale", scale)])
            onehot = Pipeline([
                ("impute", SimpleImputer(strategy="most_frequent")), ("onehot", onehot),
            ])
        parts = [("numeric", scale, numeric), ("categorical", onehot, categorical)]
        self.transformer_ = ColumnTransformer(
            [part for part in parts if part[2]],
            sparse_threshold=0.0,
            verbose_feature_names_out=False,
        )
        self.transformer_.fit(self._coerce(X))
        self.feature_names_out_ = tuple(str(n) for n in self.transformer_.get_feature_names_out())
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Return the float32 feature matrix (N, F_out) for the rows ``X``."""
        if not hasattr(self, "transformer_"):
            raise ValueError("This Preprocessor is not fitted yet; call fit(X_train) first.")
        self.check(X)
        return np.asarray(self.transformer_.transform(self._coerce(X)), dtype=np.float32)

    def fit_transform(self, X: pd.DataFrame) -> np.ndarray:
        """`fit` on ``X``, then `transform` it."""
        return self.fit(X).transform(X)

    def _kinds(self, X: pd.DataFrame) -> dict[str, Kind]:
        if self.kinds is not None:
            return self.kinds
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"Preprocessor expects a pandas DataFrame, got {type(X).__name__}.")
        return {str(c): _column_kind(X[c], self.name) for c in X.columns}

    def _coerce(self, X: pd.DataFrame) -> pd.DataFrame:
        # One dtype per kind: float64 numbers, and strings (NaN kept) for categories,
        # so the encoder never compares 1 with "1" or sees pandas' extension types.
        columns = {}
        for column, kind in self.kinds.items():
            values = X[column]
            if kind == "numeric":
                columns[column] = pd.to_numeric(values).to_numpy(np.float64, na_value=np.nan)
            else:
                strings = values.astype(object).map(str, na_action="ignore")
                columns[column] = strings.where(values.notna(), np.nan).to_numpy(object)
        return pd.DataFrame(columns, index=X.index)


def _counts(counts: dict[str, int], limit: int = 10) -> str:
    items = [f"{column!r} ({n} row{'s' if n != 1 else ''})" for column, n in counts.items()]
    more = f", ... ({len(items)} columns in all)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
