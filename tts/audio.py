"""Audio I/O and resampling with soundfile and soxr (never torchaudio).

Arrays are float32 in [-1, 1]. Multi-channel audio is shaped [channels, samples] here, which
is the layout the codecs and encoders want; soundfile's [samples, channels] is transposed on
the way in and out.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from tts.errors import AudioInputError

MIN_SAMPLE_RATE = 4_000
MAX_SAMPLE_RATE = 384_000


@dataclass
class Audio:
    """A mono waveform and its sample rate, as returned by synthesis."""

    wav: np.ndarray  # float32 [samples]
    sample_rate: int
    segments: list = field(default_factory=list)  # per sentence chunk: what was generated
    # seconds per stage of the call that made it (`tts.timing.STAGES`; synthesize only)
    timings: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return len(self.wav) / self.sample_rate

    def save(self, path: str | Path) -> Path:
        save_audio(path, self.wav, self.sample_rate)
        return Path(path)


def check_sample_rate(sr: object) -> int:
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)):
        raise AudioInputError(f"sample rate must be an integer number of Hz, got {sr!r}")
    if not MIN_SAMPLE_RATE <= int(sr) <= MAX_SAMPLE_RATE:
        raise AudioInputError(
            f"sample rate {sr} Hz is outside the supported range "
            f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz"
        )
    return int(sr)


def check_finite(wav: np.ndarray, what: str = "audio") -> None:
    if not np.all(np.isfinite(wav)):
        bad = int(np.size(wav) - np.count_nonzero(np.isfinite(wav)))
        raise AudioInputError(f"{what} contains {bad} NaN/Inf sample(s); clean the signal first")


def to_mono(wav: np.ndarray) -> np.ndarray:
    """[samples] or [channels, samples] -> [samples] by averaging channels."""
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim == 1:
        return wav
    if wav.ndim == 2:
        return wav.mean(axis=0)
    raise AudioInputError(f"audio must be [samples] or [channels, samples], got shape {wav.shape}")


def resample(wav: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample along the last axis with soxr (high quality)."""
    sr_in, sr_out = check_sample_rate(sr_in), check_sample_rate(sr_out)
    wav = np.asarray(wav, dtype=np.float32)
    if sr_in == sr_out or wav.shape[-1] == 0:
        return wav
    if wav.ndim == 1:
        return soxr.resample(wav, sr_in, sr_out, quality="HQ").astype(np.float32)
    flat = wav.reshape(-1, wav.shape[-1])
    out = soxr.resample(flat.T, sr_in, sr_out, quality="HQ").T  # soxr wants [samples, channels]
    return np.ascontiguousarray(out.reshape(*wav.shape[:-1], -1), dtype=np.float32)


def load_audio(source: str | Path | bytes, mono: bool = True) -> tuple[np.ndarray, int]:
    """Read a file (or its bytes) with soundfile: ([samples] or [channels, samples], sr)."""
    if not isinstance(source, (bytes, bytearray)) and not Path(source).is_file():
        raise AudioInputError(f"audio file not found: {source}")
    try:
        if isinstance(source, (bytes, bytearray)):
            data, sr = sf.read(io.BytesIO(source), dtype="float32", always_2d=True)
        else:
            data, sr = sf.read(str(source), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        name = "audio bytes" if isinstance(source, (bytes, bytearray)) else str(source)
        raise AudioInputError(
            f"cannot read {name}: {exc}. Supported: wav, flac, ogg, mp3 (via libsndfile)"
        ) from exc
    wav = data.T  # [channels, samples]
    return (to_mono(wav) if mono else wav), int(sr)


def save_audio(path: str | Path, wav: np.ndarray, sample_rate: int) -> None:
    """Write a [samples] or [channels, samples] float array; format from the file suffix."""
    wav = np.asarray(wav, dtype=np.float32)
    check_finite(wav)
    data = wav if wav.ndim == 1 else wav.T
    sf.write(str(path), np.clip(data, -1.0, 1.0), check_sample_rate(sample_rate))


def encode_audio_bytes(wav: np.ndarray, sample_rate: int, fmt: str = "WAV") -> bytes:
    """Encode to an in-memory file (WAV, FLAC, OGG, MP3 where libsndfile supports it)."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(wav, dtype=np.float32), -1, 1), sample_rate, format=fmt)
    return buf.getvalue()
