"""Fixtures for the serving tests: a tiny random bundle (as in tests/synthesis), a running
server on a free loopback port, and a speech clip to upload."""

import warnings

import numpy as np
import pytest

from tts.audio import encode_audio_bytes
from tts.server import BackgroundServer, ServerConfig, create_app


def speech_clip(text: str, half_tone: float = 0.0) -> tuple[np.ndarray, int]:
    import pyopenjtalk

    wav, sr = pyopenjtalk.tts(text, half_tone=half_tone)
    return (wav / 32768.0).astype(np.float32), int(sr)


@pytest.fixture(scope="session")
def clip_wav_bytes() -> bytes:
    wav, sr = speech_clip("今日はとてもいい天気ですね。公園まで散歩に行きましょうか。")
    return encode_audio_bytes(wav, sr, "WAV")


@pytest.fixture(scope="session")
def clip_path(tmp_path_factory, clip_wav_bytes):
    path = tmp_path_factory.mktemp("clips") / "reference.wav"
    path.write_bytes(clip_wav_bytes)
    return path


@pytest.fixture(scope="session")
def server(synth, tmp_path_factory):
    """The app on 127.0.0.1 at a free port, shared by the tests of the session."""
    app = create_app(synth, tmp_path_factory.mktemp("data"), ServerConfig(max_queue=4))
    with BackgroundServer(app) as running:
        yield running


@pytest.fixture(autouse=True)
def _quiet_caps():
    # every chunk of a random LM reaches its frame cap; that warning is tested elsewhere
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*reached its cap.*")
        yield
