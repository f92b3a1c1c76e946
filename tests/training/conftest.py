"""Fixtures for the training tests: breast_cancer standardized, a small seeded MLP."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler


@pytest.fixture(scope="session")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    """breast_cancer (569 x 30), standardized features, int64 labels."""
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y.astype(np.int64)


@pytest.fixture
def mlp():
    """Factory of seeded 2-hidden-layer SELU MLPs: ``mlp(in_features=30, out_features=2)``."""

    def make(in_features: int = 30, out_features: int = 2, width: int = 32,
             seed: int = 0) -> torch.nn.Module:
        torch.manual_seed(seed)
        return torch.nn.Sequential(
            torch.nn.Linear(in_features, width), torch.nn.SELU(),
            torch.nn.Linear(width, width), torch.nn.SELU(),
            torch.nn.Linear(width, out_features),
        )

    return make
