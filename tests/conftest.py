"""Shared fixtures. Tests run on CPU, seeded, with small shapes."""

from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield


@pytest.fixture
def shared_data() -> Path:
    """The real UCI datasets in ../shared/data (skips when the folder is absent)."""
    if not (SHARED_DATA / "MANIFEST.csv").exists():
        pytest.skip(f"shared datasets not found at {SHARED_DATA}")
    return SHARED_DATA
