"""Short synthetic speech clips for the codec tests (pyopenjtalk and espeak-ng, offline)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch


@dataclass
class Clip:
    path: Path
    wav: np.ndarray  # float32 mono
    sr: int
    text: str
    language: str


def make_clips(folder: Path) -> list[Clip]:
    import pyopenjtalk

    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    text = "今日はとても良い天気ですね。"
    wav, sr = pyopenjtalk.tts(text)  # float64 at 48 kHz on the int16 scale
    wav = (wav / 32768.0).astype(np.float32)
    sf.write(folder / "ja.wav", wav, sr)
    clips.append(Clip(folder / "ja.wav", wav, int(sr), text, "ja"))
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    for lang, voice, text in [
        ("en", "en-us", "The quick brown fox jumps over the lazy dog."),
        ("de", "de", "Guten Morgen, wie geht es dir heute?"),
    ]:
        path = folder / f"{lang}.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True
        )
        wav, sr = sf.read(path, dtype="float32")
        clips.append(Clip(path, wav, int(sr), text, lang))
    return clips


@pytest.fixture(scope="session")
def speech_clips(tmp_path_factory: pytest.TempPathFactory) -> list[Clip]:
    return make_clips(tmp_path_factory.mktemp("speech"))


@pytest.fixture(autouse=True)
def _few_threads() -> None:
    # The test machine is shared; one thread keeps timings predictable and runs deterministic.
    torch.set_num_threads(1)
