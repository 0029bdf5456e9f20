"""Helpers of the training tests (this folder is put on sys.path by conftest.py, because
pytest's importlib mode keeps test folders off it)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VOICES = ("espeak-en-us+m3", "espeak-en-us+f2")
TARGET_VOICE = "espeak-en-us+m3"


def load_script(relative: str):  # type: ignore[no-untyped-def]
    key = "_training_test_" + relative.replace("/", "_").removesuffix(".py")
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, REPO / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


def small_model(**extra: object) -> dict:
    """LMConfig overrides that keep CPU steps fast (and synthesis short)."""
    return {"d_model": 64, "n_layer": 2, "n_head": 2, "max_seq_len": 512,
            "max_frames_per_phoneme": 1.0, "max_frames_offset": 10, **extra}  # fmt: skip
