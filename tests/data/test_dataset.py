"""Tests for fnnlab.data.dataset: the Dataset container."""

import numpy as np
import pytest
import torch

from fnnlab.data import Dataset


def _classification(n: int = 10) -> Dataset:
    X = torch.arange(n * 3, dtype=torch.float32).reshape(n, 3)
    y = torch.arange(n) % 3
    return Dataset(X, y, "classification", ("a", "b", "c"), np.array(["x", "y", "z"]), "toy")


def test_dataset_reports_its_shape_and_classes():
    ds = _classification()
    assert len(ds) == 10 and ds.n_features == 3
    assert ds.n_classes == 3 and ds.n_outputs == 3
    assert ds.classes[ds.y[4]] == "y"


def test_subset_keeps_metadata_and_selects_rows():
    ds = _classification()
    sub = ds.subset([7, 2])
    assert len(sub) == 2 and sub.classes is ds.classes and sub.feature_names == ds.feature_names
    assert torch.equal(sub.X, ds.X[[7, 2]])
    X, y = sub.to_numpy()
    assert X.dtype == np.float32 and y.dtype == np.int64 and y.tolist() == [1, 2]


def test_regression_outputs_and_default_feature_names():
    ds = Dataset(torch.zeros(4, 2), torch.zeros(4, 3), "regression")
    assert ds.n_outputs == 3 and ds.n_classes is None and ds.feature_names == ("x0", "x1")


@pytest.mark.parametrize(
    ("X", "y", "task", "match"),
    [
        (torch.zeros(4, 2, dtype=torch.float64), torch.zeros(4), "regression", "float32"),
        (torch.zeros(4, 2), torch.zeros(3), "regression", "X has 4 rows but y has 3"),
        (torch.zeros(4, 2), torch.zeros(4), "classification", "int64 class codes"),
        (torch.zeros(4, 2), torch.zeros(4), "ranking", "task must be one of"),
    ],
)
def test_dataset_rejects_inconsistent_tensors(X, y, task, match):
    with pytest.raises(ValueError, match=match):
        Dataset(X, y, task, classes=None)


def test_dataset_rejects_numpy_arrays():
    with pytest.raises(TypeError, match="from_arrays"):
        Dataset(np.zeros((2, 2)), np.zeros(2), "regression")


def test_binary_tasks_dataset_has_one_output_per_task():
    y = torch.tensor([[0.0, float("nan")], [1.0, 1.0], [float("nan"), 0.0]])
    ds = Dataset(torch.zeros(3, 2), y, "classification", classes=np.array([0, 1]))
    assert ds.multi_label and ds.n_outputs == 2 and ds.n_classes == 2
    assert ds.subset([0, 2]).multi_label
    with pytest.raises(ValueError, match="float32 0/1 labels"):
        Dataset(torch.zeros(3, 2), y * 2, "classification", classes=np.array([0, 1]))
