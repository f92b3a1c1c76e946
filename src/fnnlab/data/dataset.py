"""The `Dataset`: a model-ready block of rows (float32 features, encoded targets).

A `Dataset` is what `fnnlab.fit` trains on. It holds numbers only: the
preprocessing that produced them (standardization, one-hot encoding, label
encoding) lives in `fnnlab.data.preprocess` and `fnnlab.data.splits`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

Task = Literal["classification", "regression"]
TASKS: tuple[str, ...] = ("classification", "regression")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Features and targets of one split, as tensors.

    Parameters
    ----------
    X : torch.Tensor
        Features, float32, shape (N, F).
    y : torch.Tensor
        Targets: int64 class codes ``0..K-1``, shape (N,), for classification
        (or, for T binary tasks, float32 0/1 labels of shape (N, T) with NaN where a
        label is missing, and ``classes=[0, 1]``); float32, shape (N,) or (N, T),
        for regression.
    task : {"classification", "regression"}
    feature_names : tuple of str
        One name per column of ``X`` (after one-hot encoding, e.g. ``"color_red"``).
    classes : numpy.ndarray or None
        The original label of each class code (``classes[y[i]]`` is row i's label);
        ``None`` for regression.
    name : str
        The data set's name, used in logs and result tables.
    """

    X: torch.Tensor
    y: torch.Tensor
    task: Task
    feature_names: tuple[str, ...] = field(default=())
    classes: np.ndarray | None = None
    name: str = "data"

    def __post_init__(self) -> None:
        if not isinstance(self.X, torch.Tensor) or not isinstance(self.y, torch.Tensor):
            raise TypeError(
                f"Dataset.X and Dataset.y must be torch tensors, got {type(self.X).__name__} "
                f"and {type(self.y).__name__}. Use fnnlab.data.from_arrays for numpy data."
            )
        if self.task not in TASKS:
            raise ValueError(f"Dataset.task must be one of {TASKS}, got {self.task!r}.")
        if self.X.ndim != 2 or self.X.dtype != torch.float32:
            raise ValueError(
                f"Dataset.X must be a float32 tensor of shape (N, F), got {self.X.dtype} "
                f"of shape {tuple(self.X.shape)}."
            )
        if len(self.y) != len(self.X):
            raise ValueError(
                f"Dataset {self.name!r}: X has {len(self.X)} rows but y has {len(self.y)}."
            )
        names = tuple(self.feature_names) or tuple(f"x{j}" for j in range(self.X.shape[1]))
        if len(names) != self.X.shape[1]:
            raise ValueError(
                f"Dataset {self.name!r}: {len(names)} feature names for "
                f"{self.X.shape[1]} feature columns."
            )
        object.__setattr__(self, "feature_names", names)
        if self.multi_label:
            self._check_tasks()
        elif self.task == "classification":
            if self.y.dtype != torch.int64 or self.y.ndim != 1:
                raise ValueError(
                    f"Dataset {self.name!r}: classification targets must be int64 class codes "
                    f"of shape (N,), got {self.y.dtype} of shape {tuple(self.y.shape)}."
                )
            if self.classes is None:
                raise ValueError(f"Dataset {self.name!r}: classification needs `classes`.")
            classes = np.asarray(self.classes)
            if len(self.y) and (int(self.y.min()) < 0 or int(self.y.max()) >= len(classes)):
                raise ValueError(
                    f"Dataset {self.name!r}: class codes must lie in 0..{len(classes) - 1}, "
                    f"got {int(self.y.min())}..{int(self.y.max())}."
                )
            object.__setattr__(self, "classes", classes)
        else:
            if self.y.dtype != torch.float32 or self.y.ndim not in (1, 2):
                raise ValueError(
                    f"Dataset {self.name!r}: regression targets must be float32 of shape (N,) "
                    f"or (N, T), got {self.y.dtype} of shape {tuple(self.y.shape)}."
                )
            if self.classes is not None:
                raise ValueError(f"Dataset {self.name!r}: regression takes classes=None.")

    def _check_tasks(self) -> None:
        """Several binary tasks: float32 0/1 labels with NaN for missing, classes [0, 1]."""
        labels = self.y[~torch.isnan(self.y)]
        if self.y.dtype != torch.float32 or not bool(((labels == 0) | (labels == 1)).all()):
            raise ValueError(
                f"Dataset {self.name!r}: several classification targets must be float32 0/1 "
                f"labels (NaN where missing), got {self.y.dtype} with values "
                f"{sorted(set(labels.tolist()))[:5]}."
            )
        classes = None if self.classes is None else np.asarray(self.classes)
        if classes is None or classes.tolist() != [0, 1]:
            raise ValueError(f"Dataset {self.name!r}: several binary tasks take classes=[0, 1], "
                             f"got {self.classes!r}.")
        object.__setattr__(self, "classes", classes)

    def __len__(self) -> int:
        return len(self.X)

    @property
    def multi_label(self) -> bool:
        """Several binary target columns (tasks): a classification ``y`` of shape (N, T)."""
        return self.task == "classification" and self.y.ndim == 2

    def __repr__(self) -> str:
        kind = (
            f"n_classes={self.n_classes}" if self.task == "classification"
            else f"n_outputs={self.n_outputs}"
        )
        return (
            f"Dataset(name={self.name!r}, task={self.task!r}, n_rows={len(self)}, "
            f"n_features={self.n_features}, {kind})"
        )

    @property
    def n_features(self) -> int:
        """Number of feature columns F."""
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int | None:
        """Number of classes K (classification), ``None`` for regression."""
        return None if self.classes is None else len(self.classes)

    @property
    def n_outputs(self) -> int:
        """Width of the model's output: K for classification, T for regression or T tasks."""
        if self.task == "classification" and not self.multi_label:
            return len(self.classes)
        return 1 if self.y.ndim == 1 else int(self.y.shape[1])

    def subset(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> Dataset:
        """Return the rows ``indices`` (positions into this Dataset), keeping all metadata."""
        index = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        if index.ndim != 1:
            raise ValueError(f"subset needs a 1-D array of row positions, got shape "
                             f"{tuple(index.shape)}.")
        if len(index) and (int(index.min()) < -len(self) or int(index.max()) >= len(self)):
            raise ValueError(
                f"subset: row positions must lie in 0..{len(self) - 1}, got "
                f"{int(index.min())}..{int(index.max())}."
            )
        return Dataset(self.X[index], self.y[index], self.task, self.feature_names,
                       self.classes, self.name)

    def to_numpy(self) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(X, y)`` as numpy arrays (float32 features; int64 codes or float32)."""
        return self.X.numpy(), self.y.numpy()
