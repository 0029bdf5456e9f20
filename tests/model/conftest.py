"""Fixtures for the codec LM tests; helpers live in lm_testkit.py (importable from here:
pytest's importlib mode keeps test folders off sys.path, so this folder is added once)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from lm_testkit import tiny_config

from tts.model import CodecLM


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def model() -> CodecLM:
    torch.manual_seed(0)
    return CodecLM(tiny_config()).eval()
