"""Fixtures for the data tests; helpers live in datakit.py (this folder is put on sys.path
because pytest's importlib mode keeps test folders off it)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session", autouse=True)
def _quiet() -> None:
    warnings.filterwarnings("ignore", message=".*pkg_resources.*")
