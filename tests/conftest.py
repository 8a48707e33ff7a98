"""Tests run from the repository root, where the configs' relative data paths point."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _run_from_repository_root():
    previous = os.getcwd()
    os.chdir(ROOT)
    yield
    os.chdir(previous)
