"""Shared fixtures. Tests run on CPU, seeded, with small shapes."""

from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    # Seeded, and one torch thread: the tests use small shapes, where a second thread
    # only adds contention, and bit-identity checks assume a fixed thread count.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def shared_data() -> Path:
    """The real UCI datasets in ../shared/data (skips when the folder is absent)."""
    if not (SHARED_DATA / "MANIFEST.csv").exists():
        pytest.skip(f"shared datasets not found at {SHARED_DATA}")
    return SHARED_DATA
