"""Emotions change prosody in the labelled direction, and intensity interpolates."""

from __future__ import annotations

import numpy as np
import pytest

from tts.audio import resample
from tts.data.cleanup import normalize_loudness, speech_level_db, trim_silence
from tts.data.prosody import EMOTION_PROSODY, ProsodyParams, apply_emotion, emotion_params
from tts.errors import AudioInputError

pyworld = pytest.importorskip("pyworld")
pyopenjtalk = pytest.importorskip("pyopenjtalk")
SR = 24_000


@pytest.fixture(scope="module")
def neutral() -> np.ndarray:
    wav, sr = pyopenjtalk.tts("今日はとても良い天気ですね。散歩に行きましょう。")
    wav = resample((np.asarray(wav) / 32768.0).astype(np.float32), sr, SR)
    return normalize_loudness(trim_silence(wav, SR), SR)


def f0_stats(wav: np.ndarray) -> tuple[float, float, float]:
    """(median F0 Hz, spread of log-F0 as 90-10 percentile range, voiced fraction)."""
    x = wav.astype(np.float64)
    f0, t = pyworld.dio(x, SR, frame_period=5.0)
    f0 = pyworld.stonemask(x, f0, t, SR)
    voiced = f0[f0 > 0]
    if voiced.size < 5:
        return 0.0, 0.0, float((f0 > 0).mean())
    log = np.log(voiced)
    return (
        float(np.median(voiced)),
        float(np.percentile(log, 90) - np.percentile(log, 10)),
        float((f0 > 0).mean()),
    )


def test_table_scaling() -> None:
    assert EMOTION_PROSODY["happy"].scaled(0.0) == ProsodyParams()
    half = emotion_params("sad", 0.5)
    assert half.f0_shift_semitones == pytest.approx(-1.25) and half.tempo == pytest.approx(0.925)
    assert emotion_params("whisper").unvoiced == 1.0
    with pytest.raises(AudioInputError):
        emotion_params("happy", -1.0)
    with pytest.raises(ValueError):
        emotion_params("bored")


def test_emotions_move_f0_tempo_and_energy_in_labelled_direction(neutral: np.ndarray) -> None:
    base_f0, base_range, _ = f0_stats(neutral)
    base_level = speech_level_db(neutral, SR)
    out = {
        e: apply_emotion(neutral, SR, e, 1.0)[0]
        for e in ("happy", "sad", "angry", "surprised", "calm")
    }
    stats = {e: f0_stats(w) for e, w in out.items()}
    assert stats["happy"][0] > base_f0 * 1.1  # +3 semitones is about +19 %
    assert stats["sad"][0] < base_f0 * 0.92
    assert stats["surprised"][0] > stats["happy"][0]
    assert stats["calm"][0] < base_f0
    assert stats["surprised"][1] > base_range and stats["sad"][1] < base_range  # range
    assert len(out["happy"]) < len(neutral) < len(out["sad"])  # tempo
    assert speech_level_db(out["angry"], SR) > base_level + 2  # energy
    assert speech_level_db(out["sad"], SR) < base_level - 2


def test_intensity_interpolates(neutral: np.ndarray) -> None:
    f0 = [f0_stats(apply_emotion(neutral, SR, "happy", i)[0])[0] for i in (0.0, 0.5, 1.0)]
    assert f0[0] < f0[1] < f0[2]
    low = [f0_stats(apply_emotion(neutral, SR, "sad", i)[0])[0] for i in (0.0, 0.5, 1.0)]
    assert low[0] > low[1] > low[2]


def test_whisper_is_unvoiced_and_deterministic(neutral: np.ndarray) -> None:
    whisper, params = apply_emotion(neutral, SR, "whisper", 1.0)
    assert params.unvoiced == 1.0
    assert f0_stats(whisper)[2] < 0.1 < f0_stats(neutral)[2]
    again, _ = apply_emotion(neutral, SR, "whisper", 1.0)
    assert np.array_equal(whisper, again)
    assert np.all(np.isfinite(whisper))


def test_short_input_is_rejected() -> None:
    with pytest.raises(AudioInputError):
        apply_emotion(np.zeros(100, np.float32), SR, "happy")
