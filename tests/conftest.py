"""Tests run from the repository root, where the configs' relative data paths point."""
import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


# The tests' models are tiny: one thread is as fast, and immune to the order-of-magnitude
# slow-down of spinning OpenMP threads on a busy 2-core machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _run_from_repository_root():
    previous = os.getcwd()
    os.chdir(ROOT)
    yield
    os.chdir(previous)
