"""Helpers for the data tests: tiny generated wavs and loading recipes by path.

The recipes folder is not a package on sys.path under `--import-mode=importlib` (and putting
the repository root there could shadow the standard library's `codecs`), so recipes are loaded
from their files.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]


def load_recipe(name: str):  # type: ignore[no-untyped-def]
    """Import recipes/data/<name>.py as a module."""
    key = f"_recipes_data_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, REPO / "recipes" / "data" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


def write_tone(
    path: Path, seconds: float = 0.25, sample_rate: int = 16_000, freq: float = 220.0
) -> Path:
    """A short sine (with a little deterministic noise) as a 16-bit file; format from suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    rng = np.random.default_rng(int(freq))
    wav = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(len(t))
    sf.write(str(path), wav.astype(np.float32), sample_rate, subtype="PCM_16")
    return path
