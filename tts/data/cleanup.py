"""Clip clean-up for corpus building: trim leading/trailing silence, normalise loudness.

"Loudness" here is the RMS level of the active (non-silent) frames in dBFS, a simple speech
level measure (no K-weighting as in ITU-R BS.1770, which needs a package we do not ship).
"""

from __future__ import annotations

import numpy as np

from tts.audio import resample, to_mono
from tts.errors import AudioInputError

CORPUS_SAMPLE_RATE = 24_000  # what recipes/data/synthetic.py keeps, and references made like it
TARGET_DBFS = -23.0
PEAK_LIMIT = 0.95


def _frame_rms(wav: np.ndarray, frame: int) -> np.ndarray:
    n = len(wav) // frame
    if n == 0:
        return np.sqrt(np.mean(wav**2, keepdims=True) + 1e-20)
    return np.sqrt(np.mean(wav[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-20)


def trim_silence(
    wav: np.ndarray, sample_rate: int, threshold_db: float = -40.0, pad_seconds: float = 0.05
) -> np.ndarray:
    """Cut leading/trailing 10 ms frames quieter than `threshold_db` below the loudest frame."""
    wav = np.asarray(wav, dtype=np.float32)
    frame = max(1, sample_rate // 100)
    rms = _frame_rms(wav, frame)
    active = np.flatnonzero(20 * np.log10(rms / rms.max()) > threshold_db)
    if active.size == 0:
        raise AudioInputError("clip is silent; nothing to keep after trimming")
    pad = int(pad_seconds * sample_rate)
    start = max(0, active[0] * frame - pad)
    end = min(len(wav), (active[-1] + 1) * frame + pad)
    return wav[start:end]


def speech_level_db(wav: np.ndarray, sample_rate: int, gate_db: float = -40.0) -> float:
    """RMS level in dBFS of the frames within `gate_db` of the loudest frame."""
    rms = _frame_rms(np.asarray(wav, dtype=np.float32), max(1, sample_rate // 100))
    active = rms[20 * np.log10(rms / rms.max()) > gate_db]
    return float(20 * np.log10(np.sqrt(np.mean(active**2)) + 1e-12))


def normalize_loudness(
    wav: np.ndarray, sample_rate: int, target_dbfs: float = TARGET_DBFS
) -> np.ndarray:
    """Scale so the active-speech level is `target_dbfs`."""
    gain_db = target_dbfs - speech_level_db(wav, sample_rate)
    return (np.asarray(wav, dtype=np.float32) * 10 ** (gain_db / 20)).astype(np.float32)


def limit_peak(wav: np.ndarray, peak: float = PEAK_LIMIT) -> np.ndarray:
    """Scale down (never up) so |wav| <= peak."""
    top = float(np.max(np.abs(wav))) if len(wav) else 0.0
    return (wav * (peak / top)).astype(np.float32) if top > peak else wav.astype(np.float32)


def clean_clip(wav: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """An engine's output as a corpus keeps it: mono at `target_rate`, leading and trailing
    silence trimmed, active speech at TARGET_DBFS, peaks limited."""
    wav = trim_silence(resample(to_mono(wav), sample_rate, target_rate), target_rate)
    return limit_peak(normalize_loudness(wav, target_rate))
