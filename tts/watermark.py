"""Imperceptible watermarking of every generated waveform (Resemble's Perth, offline weights).

Generated speech is marked by default so it can be identified as synthetic later
(`tts detect-watermark FILE`). Turning it off is an explicit choice that is logged.
Perth works at 32 kHz; we resample with soxr on the way in and out (its own librosa path
JIT-compiles on first use and costs seconds).
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import warnings

import numpy as np

from tts.audio import check_finite, resample
from tts.errors import AudioInputError

log = logging.getLogger(__name__)

PERTH_RATE = 32_000
MIN_SAMPLES = 2_048 + 1  # Perth's STFT (n_fft 2048) needs more than one window of audio
DETECTION_THRESHOLD = 0.5


class Watermarker:
    """Embeds and detects the Perth implicit watermark. Thread-safe, loads weights lazily."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self._net = None
        self._lock = threading.RLock()  # _model() is called with the lock held

    def _model(self):  # perth has no type hints
        with self._lock:
            if self._net is None:
                with warnings.catch_warnings():  # perth imports the deprecated pkg_resources
                    warnings.simplefilter("ignore")
                    import perth

                with contextlib.redirect_stdout(io.StringIO()):  # it prints a banner
                    self._net = perth.PerthImplicitWatermarker(device=self.device)
            return self._net

    def load(self) -> None:
        """Load the network now rather than at the first `apply`/`detect` (importing Perth and
        its librosa takes about a second; `Synthesizer.warm_up`)."""
        self._model()

    def _to_perth(self, wav: np.ndarray, sample_rate: int) -> np.ndarray:
        wav = np.asarray(wav, dtype=np.float32)
        if wav.ndim != 1:
            raise AudioInputError(f"watermarking needs mono [samples] audio, got {wav.shape}")
        check_finite(wav)
        return resample(wav, sample_rate, PERTH_RATE)

    def apply(self, wav: np.ndarray, sample_rate: int) -> np.ndarray:
        """Return a watermarked copy of `wav` (same length and rate)."""
        x = self._to_perth(wav, sample_rate)
        if len(x) < MIN_SAMPLES:
            # Too short to carry a mark (< 64 ms); pad, mark, cut back.
            x = np.pad(x, (0, MIN_SAMPLES - len(x)))
        with self._lock:
            marked = self._model().apply_watermark(x, sample_rate=PERTH_RATE)
        out = resample(np.asarray(marked, dtype=np.float32), PERTH_RATE, sample_rate)
        out = _fit_length(out, len(wav))
        return np.clip(out, -1.0, 1.0).astype(np.float32)

    def detect(self, wav: np.ndarray, sample_rate: int) -> float:
        """Watermark confidence in [0, 1]; >= 0.5 means the audio carries our mark."""
        x = self._to_perth(wav, sample_rate)
        if len(x) < MIN_SAMPLES:
            raise AudioInputError(
                f"audio is too short to check for a watermark ({len(wav)} samples); "
                f"need at least {MIN_SAMPLES / PERTH_RATE * 1000:.0f} ms"
            )
        with self._lock:
            score = self._model().get_watermark(x, sample_rate=PERTH_RATE, round=False)
        return float(np.clip(np.mean(score), 0.0, 1.0))

    def is_watermarked(self, wav: np.ndarray, sample_rate: int) -> bool:
        return self.detect(wav, sample_rate) >= DETECTION_THRESHOLD


def _fit_length(wav: np.ndarray, n: int) -> np.ndarray:
    if len(wav) >= n:
        return wav[:n]
    return np.pad(wav, (0, n - len(wav)))


_default: Watermarker | None = None


def default_watermarker() -> Watermarker:
    global _default
    if _default is None:
        _default = Watermarker()
    return _default


def maybe_watermark(
    wav: np.ndarray, sample_rate: int, enabled: bool = True, verify: bool = True
) -> np.ndarray:
    """Watermark unless the caller explicitly opted out; opting out is logged every time.

    `verify`: detect the mark afterwards and warn when it did not take (costs about as much
    as marking; a stream skips it where latency matters).
    """
    if not enabled:
        log.warning("watermarking DISABLED by explicit request (watermark=False)")
        return np.asarray(wav, dtype=np.float32)
    marker = default_watermarker()
    marked = marker.apply(wav, sample_rate)
    # Perth hides its mark in the speech spectrum; silence, very short or degenerate audio
    # (e.g. from an undertrained model) may not hold it. Check, and say so instead of
    # silently shipping unmarked audio.
    if verify and len(marked) * PERTH_RATE >= MIN_SAMPLES * sample_rate:
        score = marker.detect(marked, sample_rate)
        if score < DETECTION_THRESHOLD:
            log.warning(
                "the watermark did not take in this audio (detector confidence %.2f): it is "
                "too quiet, too short or not speech-like to carry the mark",
                score,
            )
    return marked
