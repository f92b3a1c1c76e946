"""Turn what users pass to ``fit`` and ``predict`` into tensors, with clear errors.

``fit`` accepts a :class:`fnnlab.data.Dataset` (anything with ``X`` and ``y``
attributes) or a pair ``(X, y)`` of arrays, tensors, DataFrames or Series. Features
become float32 (N, F); integer targets stay integer (class codes), floating targets
become float32. A floating target matrix (N, T) may hold NaN: missing labels of
several binary tasks, which only the bernoulli likelihood accepts (it masks them;
``fnnlab.training.checks`` says so for the others).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from fnnlab.data.labels import labelled_rows

__all__ = ["as_features", "as_xy"]


def _to_tensor(value: Any, what: str) -> Tensor:
    if isinstance(value, Tensor):
        return value.detach()
    if hasattr(value, "to_numpy"):  # pandas DataFrame / Series
        value = value.to_numpy()
    try:
        array = np.asarray(value)
    except Exception as error:  # ragged lists and the like
        raise TypeError(f"{what} must be array-like, got {type(value).__name__}: {error}") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number)
                                     or array.dtype == bool):
        raise TypeError(
            f"{what} must be numeric, got dtype {array.dtype}. Encode text columns first "
            f"(fnnlab.data.from_frame one-hot encodes them)."
        )
    return torch.from_numpy(np.ascontiguousarray(array))


def as_features(X: Any, what: str = "X") -> Tensor:
    """``X`` as a float32 tensor of shape (N, F); a 1-D input is one feature."""
    X = getattr(X, "X", X)
    x = _to_tensor(X, what)
    if x.dim() == 1:
        x = x[:, None]
    if x.dim() != 2:
        raise ValueError(f"{what} must have shape (n_samples, n_features), got {tuple(x.shape)}.")
    x = x.float()
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).any(0).nonzero().flatten().tolist()
        raise ValueError(
            f"{what} contains NaN or inf in feature column(s) {bad[:10]}. Impute or drop "
            f"them (fnnlab.data does this with an imputation strategy)."
        )
    return x


def _labelled(x: Tensor, y: Tensor, what: str) -> tuple[Tensor, Tensor]:
    """The rows of ``(x, y)`` with at least one observed label in ``y`` (N, T)."""
    keep = labelled_rows((~torch.isnan(y)).cpu().numpy(),
                         [f"y[:, {j}]" for j in range(y.shape[1])], what, stacklevel=4)
    if keep.all():
        return x, y
    rows = torch.from_numpy(keep)
    return x[rows.to(x.device)], y[rows.to(y.device)]


def as_xy(data: Any, what: str = "train") -> tuple[Tensor, Tensor, int | None]:
    """Return ``(X, y, n_classes)`` for a Dataset or an ``(X, y)`` pair.

    ``n_classes`` is the dataset's ``n_classes`` when it has one, else ``max(y) + 1``
    for integer targets and None for floating ones. For training data
    (``what="train"``) the rows of a target matrix that have no observed label (all
    NaN) are dropped with a warning, and a column without any is an error
    (:func:`fnnlab.data.labelled_rows`); other rows stay as they are (the loss and
    the metrics skip missing labels).
    """
    if hasattr(data, "X") and hasattr(data, "y"):
        X, y = data.X, data.y
        n_classes = getattr(data, "n_classes", None)
    elif isinstance(data, tuple | list) and len(data) == 2:
        X, y = data
        n_classes = None
    else:
        raise TypeError(
            f"{what} must be a fnnlab.data.Dataset or a pair (X, y), got {type(data).__name__}."
        )
    x = as_features(X, f"{what} X")
    t = _to_tensor(y, f"{what} y")
    if t.dim() == 2 and t.shape[1] == 1 and not t.dtype.is_floating_point:
        t = t[:, 0]
    if t.dim() not in (1, 2):
        raise ValueError(f"{what} y must have shape (N,) or (N, T), got {tuple(t.shape)}.")
    if len(t) != len(x):
        raise ValueError(
            f"{what} X has {len(x)} rows but y has {len(t)}. Pass targets for every row."
        )
    if len(x) == 0:
        raise ValueError(f"{what} is empty (0 rows).")
    if t.dtype.is_floating_point:
        t = t.float()
        # NaN in a target matrix marks a missing label (checked against the likelihood).
        bad = torch.isinf(t) if t.dim() == 2 else ~torch.isfinite(t)
        if bad.any():
            raise ValueError(f"{what} y contains {int(bad.sum())} NaN/inf values.")
        if what == "train" and t.dim() == 2 and bool(torch.isnan(t).any()):
            x, t = _labelled(x, t, what)
    else:
        t = t.long()
        if (t < 0).any():
            raise ValueError(f"{what} y holds negative class codes; classes must be 0..K-1.")
        if n_classes is None and t.dim() == 1:
            n_classes = int(t.max()) + 1
    return x, t, (int(n_classes) if n_classes else None)
