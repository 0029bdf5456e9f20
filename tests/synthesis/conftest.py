"""A tiny random pipeline bundle shared by the synthesis tests (built once per session)."""

import warnings

import numpy as np
import pytest


def _speech(text: str, half_tone: float = 0.0) -> tuple[np.ndarray, int]:
    import pyopenjtalk

    wav, sr = pyopenjtalk.tts(text, half_tone=half_tone)
    return (wav / 32768.0).astype(np.float32), int(sr)


@pytest.fixture(scope="session")
def reference_clip():
    return _speech("今日はとてもいい天気ですね。公園まで散歩に行きましょうか。")


@pytest.fixture(scope="session")
def other_clip():
    return _speech("明日の会議は午後三時から始まります。資料を準備してください。", 4.0)


@pytest.fixture(autouse=True)
def _quiet_caps():
    # every chunk of a random LM reaches its frame cap; that warning is tested on its own
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*reached its cap.*")
        yield
