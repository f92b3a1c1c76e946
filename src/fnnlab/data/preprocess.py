"""Feature and target preprocessing, fitted on the training split only.

`Preprocessor` scales numeric feature columns, by default standardizing them, z =
(x - mean_train) / std_train (LeCun et al. 1998, "Efficient BackProp": zero-mean,
unit-variance inputs condition the first layer's Hessian; SELU networks assume it
for their fixed point, Klambauer et al. 2017), or with another scaling of
`fnnlab.data.scaling.SCALINGS` ("robust", "quantile", "none" for heavy-tailed or
pre-scaled features), and one-hot encodes categorical ones.
`TargetScaler` standardizes regression targets the same way, so a network
initialized for unit-scale outputs meets unit-scale targets, and maps its
predictions back to the original units.

Both keep their fitted state as plain numbers and strings (`to_dict` /
`from_dict`, JSON-safe), so a checkpoint can carry them without pickling and
the transform is implemented once, here. The results equal scikit-learn's
``StandardScaler``, ``OneHotEncoder(handle_unknown="ignore")`` and
``SimpleImputer`` (the tests check it), whose conventions they follow.

Note [train-only statistics]
    Means, standard deviations, quantiles, imputation values and category lists
    come from the training rows alone, so nothing about the validation or test
    rows leaks into the features a model is selected or scored on.

Note [constant columns] lives in `fnnlab.data.scaling`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from fnnlab.data.columns import KINDS, Kind, infer_kind, numbers
from fnnlab.data.messages import counts, names
from fnnlab.data.scaling import SCALINGS, Scaling, from_parameters, mean_and_scale

IMPUTE_STRATEGIES: tuple[str, ...] = ("mean", "median", "most_frequent")
# Largest magnitude standardized: the variance sums squares, and n squares of 1e150
# stay below float64's maximum 1.8e308 for any n < 1e8 rows.
MAX_MAGNITUDE = 1e150


class Preprocessor:
    """Scale numeric columns and one-hot encode categorical ones.

    numeric:      z = (x - mean) / std       (``scaling="standard"``; std = 1 for a constant
                                              column, so z = x - mean; Note [constant
                                              columns]), or another `SCALINGS` entry
    categorical:  one 0/1 column per category seen in training, in sorted order; an
                  unseen category encodes as all zeros

    Output columns: the numeric columns first, then the one-hot blocks, each group in
    the order of ``kinds`` (scikit-learn's ``ColumnTransformer`` order).

    Parameters
    ----------
    kinds : mapping of str to {"numeric", "categorical"}, optional
        Encoding of each feature column (`Table.kinds`); inferred from the data
        at `fit` when omitted.
    impute : {"mean", "median", "most_frequent"} or None, default=None
        Fill missing numeric values with this training statistic (categorical
        columns always use the most frequent category; ties go to the smallest
        value, as in scikit-learn's ``SimpleImputer``). None: missing values are an
        error.
    name : str, default="data"
        Data set name for error messages.
    scaling : {"standard", "robust", "quantile", "none"}, default="standard"
        How numeric columns are scaled (`fnnlab.data.scaling`): standardized,
        RealMLP's robust scaling with smooth clipping, quantile-mapped to a normal,
        or left as they are. A name only, not a class: `to_dict` stores the name,
        and `from_dict` looks it up in ``SCALINGS``.

    Attributes
    ----------
    feature_names_out_ : tuple of str
        Names of the output columns (``"color_red"`` for a one-hot column).
    scaling_ : Scaling
        The scaling fitted on the training rows' numeric columns, in input order.
    mean_, scale_ : dict of str to float
        Training mean and standard deviation (population, ddof=0) of each numeric
        column; only with ``scaling="standard"``.
    categories_ : dict of str to tuple of str
        Categories seen in training, sorted, of each categorical column.
    fill_ : dict of str to float or str
        Imputation value of each column; empty when ``impute`` is None.
    """

    def __init__(
        self,
        kinds: Mapping[str, Kind] | None = None,
        impute: str | None = None,
        name: str = "data",
        scaling: str = "standard",
    ) -> None:
        if impute is not None and impute not in IMPUTE_STRATEGIES:
            raise ValueError(
                f"impute must be one of {IMPUTE_STRATEGIES} or None, got {impute!r}."
            )
        self.kinds = None if kinds is None else dict(kinds)
        self.impute = impute
        self.name = name
        self.scaling = SCALINGS.canonical(scaling)

    def __repr__(self) -> str:
        scaling = "" if self.scaling == "standard" else f", scaling={self.scaling!r}"
        return f"Preprocessor(impute={self.impute!r}, name={self.name!r}{scaling})"

    def check(self, X: pd.DataFrame) -> None:
        """Raise if ``X`` lacks a column or holds values the preprocessor cannot take.

        Infinite values and text in a numeric column are always an error; missing
        values are one unless ``impute`` is set. The message names each column with
        its row count.
        """
        kinds = self._kinds(X)
        missing_columns = [c for c in kinds if c not in X.columns]
        if missing_columns:
            raise ValueError(
                f"Data set {self.name!r} lacks feature column(s) {missing_columns}; the "
                f"preprocessor needs all of its {len(kinds)} columns "
                f"({names(list(kinds))}). Add the missing columns."
            )
        infinite, huge, missing, text = {}, {}, {}, {}
        examples: list[str] = []
        for column, kind in kinds.items():
            values = X[column]
            n_missing = int(values.isna().sum())
            if n_missing:
                missing[column] = n_missing
            if kind == "numeric":
                parsed = numbers(values)
                is_text = np.isnan(parsed) & values.notna().to_numpy()
                if is_text.any():
                    text[column] = int(is_text.sum())
                    first = int(np.flatnonzero(is_text)[0])
                    examples.append(f"{values.iloc[first]!r} in row {first} of {column!r}")
                n_infinite = int(np.isinf(parsed).sum())
                if n_infinite:
                    infinite[column] = n_infinite
                n_huge = int((np.abs(parsed[np.isfinite(parsed)]) > MAX_MAGNITUDE).sum())
                if n_huge:
                    huge[column] = n_huge
        if text:
            raise ValueError(
                f"Data set {self.name!r} has non-numeric values in numeric feature column(s) "
                f"{counts(text)} (e.g. {'; '.join(examples[:3])}). Convert them to numbers or "
                f"to missing values (NaN)."
            )
        if infinite:
            raise ValueError(
                f"Data set {self.name!r} has infinite feature values in {counts(infinite)}. "
                f"Replace them (e.g. df.replace([np.inf, -np.inf], np.nan) and pass "
                f"impute='median') or drop those rows."
            )
        if huge:
            raise ValueError(
                f"Data set {self.name!r} has feature values beyond ±{MAX_MAGNITUDE:g} in "
                f"{counts(huge)}; their squares overflow when the column is standardized. "
                f"Rescale those columns (divide by a power of ten, or take a logarithm)."
            )
        if missing and self.impute is None:
            raise ValueError(
                f"Data set {self.name!r} has missing (NaN) feature values in "
                f"{counts(missing)}. Pass impute='mean', 'median' or 'most_frequent', "
                f"or drop those rows."
            )

    def fit(self, X: pd.DataFrame) -> Preprocessor:
        """Learn the statistics and categories from the training rows ``X``.

        Note [train-only statistics]: pass the training rows only.
        """
        kinds = self._kinds(X)
        self.kinds = kinds
        self.check(X)
        if len(X) == 0:
            raise ValueError(f"Data set {self.name!r}: cannot fit the preprocessing on 0 rows.")
        columns = self._coerce(X)
        fill: dict[str, float | str] = {}
        numeric: dict[str, np.ndarray] = {}
        categories: dict[str, tuple[str, ...]] = {}
        for column, kind in kinds.items():
            values = columns[column]
            if self.impute is not None:
                observed = values[~pd.isna(values)]
                if len(observed) == 0:
                    raise ValueError(
                        f"Data set {self.name!r}: feature column {column!r} has no values in "
                        f"the training rows, so there is nothing to impute from. Drop it."
                    )
                strategy = self.impute if kind == "numeric" else "most_frequent"
                fill[column] = _statistic(observed, strategy)
                values = _filled(values, fill[column])
            if kind == "numeric":
                numeric[column] = values
            else:
                categories[column] = tuple(str(c) for c in np.unique(values.astype(str)))
        matrix = (np.column_stack(list(numeric.values())) if numeric
                  else np.zeros((len(X), 0)))
        self._set_fitted(tuple(numeric), SCALINGS.create(self.scaling).fit(matrix), fill,
                         categories)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Return the float32 feature matrix (N, F_out) for the rows ``X``."""
        self._check_fitted()
        self.check(X)
        columns = self._coerce(X)
        fill = self.fill_
        blocks = []
        if self._numeric:
            numeric = np.column_stack([_filled(columns[c], fill.get(c)) for c in self._numeric])
            blocks.append(self.scaling_.transform(numeric))  # (N, n_numeric)
        for column, cats in self.categories_.items():
            codes = pd.Index(cats).get_indexer(
                _filled(columns[column], fill.get(column)))  # -1: unseen category
            onehot = np.zeros((len(X), len(cats)))
            seen = np.flatnonzero(codes >= 0)
            onehot[seen, codes[seen]] = 1.0
            blocks.append(onehot)
        if not blocks:
            return np.zeros((len(X), 0), dtype=np.float32)
        return np.hstack(blocks).astype(np.float32)

    def fit_transform(self, X: pd.DataFrame) -> np.ndarray:
        """`fit` on ``X``, then `transform` it."""
        return self.fit(X).transform(X)

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as JSON-safe plain values (lists, floats, strings, None).

        One record per input column, in input order, a numeric one with its
        scaling's parameters (`Scaling.fields`: ``mean`` and ``scale``; ``center``
        and ``factor`` for "robust"; the list ``quantiles`` for "quantile")::

            {"name": "toy", "impute": None, "columns": [
                {"name": "a", "kind": "numeric", "mean": 3.1, "scale": 9.8, "fill": None},
                {"name": "color", "kind": "categorical", "categories": ["green", "red"],
                 "fill": None}]}

        A ``"scaling"`` key names the scaling unless it is "standard", so the dict
        of a standardizing preprocessor is the one fnnlab wrote before scalings
        could be chosen, and old checkpoints load as "standard".
        ``Preprocessor.from_dict(p.to_dict())`` transforms exactly like ``p``.
        """
        self._check_fitted()
        position = {column: j for j, column in enumerate(self._numeric)}
        records = []
        for column, kind in self.kinds.items():
            record: dict[str, Any] = {"name": column, "kind": kind}
            if kind == "numeric":
                for field, values in self.scaling_.parameters_.items():
                    record[field] = values[position[column]].tolist()
            else:
                record["categories"] = list(self.categories_[column])
            fill = self.fill_.get(column)
            record["fill"] = fill if fill is None or isinstance(fill, str) else float(fill)
            records.append(record)
        state = {"name": self.name, "impute": self.impute, "columns": records}
        if self.scaling != "standard":
            state["scaling"] = self.scaling
        return state

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Preprocessor:
        """Rebuild a fitted `Preprocessor` from `to_dict`'s output.

        Raises
        ------
        ValueError
            On a missing or unknown key, an unknown scaling, or a value of the wrong kind.
        """
        where = "Preprocessor.from_dict"
        optional = {"scaling"} if isinstance(d, Mapping) and "scaling" in d else set()
        _check_keys(d, {"name", "impute", "columns"} | optional, where)
        pre = cls(impute=d["impute"], name=d["name"], scaling=d.get("scaling", "standard"))
        fields = SCALINGS.get(pre.scaling).fields
        kinds: dict[str, Kind] = {}
        fill: dict[str, float | str] = {}
        parameters: dict[str, list[Any]] = {field: [] for field in fields}
        categories: dict[str, tuple[str, ...]] = {}
        for i, record in enumerate(d["columns"]):
            at = f"{where}: columns[{i}]"
            kind = record.get("kind") if isinstance(record, Mapping) else None
            if kind not in KINDS:
                raise ValueError(f"{at} must be a dict with 'kind' in {KINDS}, got {record!r}.")
            own = set(fields) if kind == "numeric" else {"categories"}
            _check_keys(record, {"name", "kind", "fill"} | own, at)
            column = str(record["name"])
            kinds[column] = kind
            if kind == "numeric":
                for field in fields:
                    parameters[field].append(record[field])
            else:
                categories[column] = tuple(str(c) for c in record["categories"])
            if record["fill"] is not None:
                fill[column] = (float if kind == "numeric" else str)(record["fill"])
        if fill and pre.impute is None:
            raise ValueError(f"{where}: columns have fill values but impute is None; the "
                             f"dict was not written by Preprocessor.to_dict.")
        numeric = tuple(c for c, kind in kinds.items() if kind == "numeric")
        try:
            scaling = from_parameters(pre.scaling, parameters, len(numeric))
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        pre.kinds = kinds
        pre._set_fitted(numeric, scaling, fill, categories)
        return pre

    def _set_fitted(self, numeric: tuple[str, ...], scaling: Scaling,
                    fill: dict[str, float | str],
                    categories: dict[str, tuple[str, ...]]) -> None:
        """Store the fitted state (shared by `fit` and `from_dict`)."""
        self._numeric, self.scaling_, self.fill_, self.categories_ = (
            numeric, scaling, fill, categories)
        if self.scaling == "standard":
            self.mean_ = dict(zip(numeric, scaling.parameters_["mean"].tolist(), strict=True))
            self.scale_ = dict(zip(numeric, scaling.parameters_["scale"].tolist(), strict=True))
        self.feature_names_out_ = numeric + tuple(
            f"{column}_{category}" for column, cats in categories.items() for category in cats
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "feature_names_out_"):
            raise ValueError("This Preprocessor is not fitted yet; call fit(X_train) first.")

    def _kinds(self, X: pd.DataFrame) -> dict[str, Kind]:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"Preprocessor expects a pandas DataFrame, got {type(X).__name__}.")
        if self.kinds is not None:
            return self.kinds
        return {str(c): infer_kind(X[c], self.name) for c in X.columns}

    def _coerce(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        # One dtype per kind: float64 numbers, and strings (NaN kept) for categories,
        # so categories never compare 1 with "1" or meet pandas' extension types.
        columns = {}
        for column, kind in self.kinds.items():
            values = X[column]
            if kind == "numeric":
                columns[column] = numbers(values)
            else:
                strings = values.astype(object).map(str, na_action="ignore")
                columns[column] = strings.where(values.notna(), np.nan).to_numpy(object)
        return columns


class TargetScaler:
    """Standardize regression targets and map predictions back to their units.

    ::

        transform:          t = (y - mean) / std     (per target column; std = 1 for a
                                                      constant target, Note [constant columns])
        inverse_transform:  y = mean + std * t

    A network whose last layer starts with unit-scale outputs (LeCun-normal init,
    SELU's fixed point) meets targets of unit scale, so the first squared errors and
    gradients are O(1) whatever the units of y (diabetes targets lie in 25..346 and
    make SGD with lr=0.01 diverge unscaled). The squared (or absolute) error on ``t``
    is the one on ``y`` divided by std² (std), so the minimizer is the same: predict
    ``t`` and map it back. Fit it on the training targets only (Note [train-only
    statistics]).

    Attributes
    ----------
    mean_, scale_ : numpy.ndarray
        Training mean and standard deviation (ddof=0), float64, of shape ``y.shape[1:]``.
    """

    def __repr__(self) -> str:
        if not hasattr(self, "mean_"):
            return "TargetScaler()"
        return f"TargetScaler(mean={self.mean_.tolist()}, scale={self.scale_.tolist()})"

    def fit(self, y: torch.Tensor | np.ndarray) -> TargetScaler:
        """Learn mean and standard deviation of the training targets ``y``, shape (N,) or (N, T)."""
        values = np.asarray(y, dtype=np.float64)
        if values.ndim not in (1, 2) or len(values) == 0 or not np.isfinite(values).all():
            raise ValueError(
                f"TargetScaler.fit needs finite targets of shape (N,) or (N, T) with N > 0, "
                f"got shape {values.shape}"
                f"{'' if np.isfinite(values).all() else ' with NaN or inf values'}."
            )
        stats = [mean_and_scale(column) for column in values.reshape(len(values), -1).T]
        shape = values.shape[1:]
        self.mean_ = np.array([m for m, _ in stats]).reshape(shape)
        self.scale_ = np.array([s for _, s in stats]).reshape(shape)
        return self

    def transform(self, y: torch.Tensor) -> torch.Tensor:
        """Return the standardized targets, float32, same shape as ``y``."""
        mean, scale = self._parameters(y)
        return ((y.double() - mean) / scale).float()

    def inverse_transform(self, t: torch.Tensor) -> torch.Tensor:
        """Map standardized values (predictions) back to the target's units, float32."""
        mean, scale = self._parameters(t)
        return (mean + scale * t.double()).float()

    def to_dict(self) -> dict[str, Any]:
        """``{"mean": ..., "scale": ...}``: floats (one target) or lists (several)."""
        self._parameters(None)
        return {"mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TargetScaler:
        """Rebuild a fitted `TargetScaler` from `to_dict`'s output."""
        _check_keys(d, {"mean", "scale"}, "TargetScaler.from_dict")
        scaler = cls()
        scaler.mean_ = np.asarray(d["mean"], dtype=np.float64)
        scaler.scale_ = np.asarray(d["scale"], dtype=np.float64)
        if (scaler.mean_.shape != scaler.scale_.shape or scaler.mean_.ndim > 1
                or not np.isfinite(scaler.mean_).all() or not (scaler.scale_ > 0).all()):
            raise ValueError(f"TargetScaler.from_dict needs finite means and positive scales of "
                             f"one shape (a float or a list), got {dict(d)!r}.")
        return scaler

    def _parameters(self, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if not hasattr(self, "mean_"):
            raise ValueError("This TargetScaler is not fitted yet; call fit(y_train) first.")
        # (N, 1) predictions of a 1-D target broadcast against its 0-d mean.
        if y is not None and (y.ndim not in (1, 2) or math.prod(y.shape[1:]) != self.mean_.size):
            raise ValueError(
                f"TargetScaler was fitted on {self.mean_.size} target column(s), got values "
                f"of shape {tuple(y.shape)}."
            )
        return torch.from_numpy(self.mean_), torch.from_numpy(self.scale_)


def _statistic(observed: np.ndarray, strategy: str) -> float | str:
    """The imputation value of the non-missing ``observed`` values."""
    if strategy == "mean":
        return float(observed.mean())
    if strategy == "median":
        return float(np.median(observed))
    # Most frequent; np.unique sorts, so a tie goes to the smallest value (SimpleImputer's rule).
    uniques, counts = np.unique(observed, return_counts=True)
    value = uniques[np.argmax(counts)]
    return value if isinstance(value, str) else float(value)


def _filled(values: np.ndarray, fill: float | str | None) -> np.ndarray:
    if fill is None:
        return values
    return np.where(pd.isna(values), np.asarray(fill, dtype=values.dtype), values)


def _check_keys(d: Any, expected: set[str], where: str) -> None:
    if not isinstance(d, Mapping):
        raise TypeError(f"{where} expects a dict, got {type(d).__name__}.")
    unknown, missing = sorted(set(d) - expected), sorted(expected - set(d))
    if unknown or missing:
        raise ValueError(f"{where}: unknown keys {unknown}, missing keys {missing}; expected "
                         f"exactly {sorted(expected)}.")
