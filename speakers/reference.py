"""Reference clips: turn whatever audio a user gives us into a clean, bounded voice sample.

`load_reference` accepts a file path, file bytes, a numpy array or a torch tensor and returns a
`ReferenceClip`: mono float32 at 16 kHz (the rate the encoders want) plus the same window at
24 kHz (the codec rate, for acoustic prompts). Processing, in order:

1. read / validate (typed `ReferenceAudioError` for anything unusable), mix to mono;
2. resample to 16 kHz and 24 kHz with soxr, both from the original signal;
3. remove DC (subtract the mean) and scale to a fixed level, so detection ignores gain;
4. find speech with silero-vad and keep the 3-10 s window holding the most speech, cut at VAD
   segment edges, so long recordings are cropped rather than rejected (5 s is the design point;
   more speech, up to 10 s, only helps the encoders);
5. normalise loudness to -23 LUFS (ITU-R BS.1770 via pyloudnorm, measured on the kept window),
   with the gain lowered if needed so the peak stays at or below -0.1 dBFS (no hard clipping).

Clipped input is still usable, so it is reported as a `ReferenceAudioWarning` (and in
`clip.warnings`) instead of an error.

The same clip is usually given again and again (a voice reading many sentences, a server
voice), so the last few processed clips are remembered by the sha256 of their decoded samples:
a repeat skips steps 2-5 (tens of milliseconds on CPU, which is most of the reference's share
of streaming latency) and gets fresh copies of the arrays and the same warnings.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from tts.audio import check_sample_rate, load_audio, resample
from tts.errors import AudioInputError, ReferenceAudioError
from tts.speakers.vad import VAD_SAMPLE_RATE, speech_segments

SAMPLE_RATE = VAD_SAMPLE_RATE  # encoders' input rate
CODEC_SAMPLE_RATE = 24_000
MIN_SPEECH_SECONDS = 2.0  # below this no encoder gives a stable embedding
MIN_WINDOW_SECONDS = 3.0
MAX_WINDOW_SECONDS = 10.0
MAX_INPUT_SECONDS = 60.0  # only the first minute is searched for speech
TARGET_LUFS = -23.0
PEAK_CEILING = 10 ** (-0.1 / 20)  # -0.1 dBFS
CLIP_LEVEL = 0.999
CLIP_FRACTION = 1e-3  # more than 0.1% of samples at full scale counts as clipped
MAX_CHANNELS = 16
REMEMBERED_CLIPS = 16  # processed clips kept by input hash (each ~1.6 MB at 10 s)
_processed: OrderedDict[str, ReferenceClip] = OrderedDict()
_processed_lock = threading.Lock()  # the server loads references from several threads


class ReferenceAudioWarning(UserWarning):
    """A reference clip is usable but degraded (clipped, very short, truncated)."""


@dataclass
class ReferenceClip:
    wav: np.ndarray  # float32 [samples], mono, at `sample_rate`
    sample_rate: int
    wav_24k: np.ndarray  # the same window at the codec rate
    speech_seconds: float  # seconds of detected speech inside the window
    content_hash: str  # sha256 of the processed 16 kHz samples
    source: str = "<array>"
    warnings: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.wav) / self.sample_rate


def _as_array(source: object, sr: int | None) -> tuple[np.ndarray, int, str]:
    """Read or convert the input to a float32 [channels, samples] array and its rate."""
    if isinstance(source, tuple) and len(source) == 2:
        # (array, sr) as in soundfile/librosa, or (sr, array) as Gradio's audio component gives
        first, second = source
        audio, rate = (second, first) if isinstance(first, (int, np.integer)) else source
        if sr is not None and int(rate) != int(sr):
            raise ReferenceAudioError(f"the clip says {rate} Hz but sr={sr} was passed")
        source, sr = audio, rate
    if isinstance(source, (str, Path, bytes, bytearray)):
        name = "<bytes>" if isinstance(source, (bytes, bytearray)) else str(source)
        if isinstance(source, (str, Path)) and not Path(source).is_file():
            raise ReferenceAudioError(f"reference audio file not found: {source}")
        try:
            wav, file_sr = load_audio(source, mono=False)
        except AudioInputError as exc:
            raise ReferenceAudioError(f"unreadable reference audio: {exc}") from exc
        return wav, file_sr, name
    if isinstance(source, torch.Tensor):
        source = source.detach().to("cpu", torch.float32).numpy()
    if not isinstance(source, np.ndarray):
        raise ReferenceAudioError(
            f"reference must be a file path, bytes, numpy array or torch tensor, "
            f"got {type(source).__name__}"
        )
    if sr is None:
        raise ReferenceAudioError("a reference given as an array needs its sample rate: sr=...")
    if np.issubdtype(source.dtype, np.integer):  # PCM: scale to [-1, 1]
        source = source.astype(np.float32) / float(np.iinfo(source.dtype).max)
    elif not np.issubdtype(source.dtype, np.floating):
        raise ReferenceAudioError(f"reference samples must be real numbers, got {source.dtype}")
    wav = np.asarray(source, dtype=np.float32)
    if wav.ndim == 1:
        wav = wav[None, :]
    if wav.ndim != 2:
        raise ReferenceAudioError(
            f"reference must be [samples] or [channels, samples], got shape {tuple(wav.shape)}"
        )
    if wav.shape[0] > MAX_CHANNELS:
        raise ReferenceAudioError(
            f"reference has shape {tuple(wav.shape)}: {wav.shape[0]} channels is implausible; "
            "pass [channels, samples] (transpose a soundfile-style [samples, channels] array)"
        )
    return wav, sr, "<array>"


def _best_window(segments: list[tuple[int, int]], max_len: int) -> tuple[int, int, int]:
    """The run of consecutive segments spanning <= max_len with the most speech.

    Returns (start, end, speech_samples). Ties go to the earliest window.
    """
    best = (0, 0, -1)
    for i in range(len(segments)):
        speech, j = 0, i
        while j < len(segments) and segments[j][1] - segments[i][0] <= max_len:
            speech += segments[j][1] - segments[j][0]
            j += 1
        if j == i:  # a single over-long segment: cut it (VAD splits long runs, so rare)
            start = segments[i][0]
            window = (start, start + max_len, max_len)
        else:
            window = (segments[i][0], segments[j - 1][1], speech)
        if window[2] > best[2]:
            best = window
    return best


def _widen(start: int, end: int, total: int, min_len: int) -> tuple[int, int]:
    """Grow [start, end) symmetrically inside [0, total) to at least min_len samples."""
    need = min_len - (end - start)
    if need <= 0:
        return start, end
    start = max(0, start - need // 2)
    end = min(total, start + min_len)
    start = max(0, end - min_len)
    return start, end


def _normalise_loudness(wav: np.ndarray, sr: int) -> float:
    """Gain that brings `wav` to TARGET_LUFS, limited so the peak stays below the ceiling."""
    import pyloudnorm

    loudness = pyloudnorm.Meter(sr).integrated_loudness(wav.astype(np.float64))
    if not np.isfinite(loudness):  # fully gated (only near-silence): fall back to RMS
        rms = float(np.sqrt(np.mean(wav.astype(np.float64) ** 2)))
        loudness = 20 * np.log10(max(rms, 1e-9))
    gain = 10 ** ((TARGET_LUFS - loudness) / 20)
    peak = float(np.max(np.abs(wav))) if wav.size else 0.0
    if peak * gain > PEAK_CEILING:
        gain = PEAK_CEILING / peak
    return float(gain)


def load_reference(source: object, sr: int | None = None) -> ReferenceClip:
    """Load and clean a reference clip (see the module docstring for the steps).

    `source` is a path, file bytes, a [samples] / [channels, samples] array or tensor (then `sr`
    is required; for files it is ignored), or an existing `ReferenceClip` (returned as is).
    """
    if isinstance(source, ReferenceClip):
        return source
    wav, sr_in, name = _as_array(source, sr)
    key = hashlib.sha256(
        f"{wav.shape}|{sr_in}|".encode() + np.ascontiguousarray(wav).tobytes()
    ).hexdigest()
    with _processed_lock:
        known = _processed.get(key)
        if known is not None:
            _processed.move_to_end(key)
    if known is not None:
        for message in known.warnings:
            warnings.warn(f"reference {name}: {message}", ReferenceAudioWarning, stacklevel=2)
        return _copy(known, source=name)
    clip = _process(wav, sr_in, name)
    with _processed_lock:
        _processed[key] = clip
        while len(_processed) > REMEMBERED_CLIPS:
            _processed.popitem(last=False)
    return _copy(clip, source=name)


def _copy(clip: ReferenceClip, source: str) -> ReferenceClip:
    """A remembered clip with its own arrays and warning list, named after this input."""
    return replace(
        clip, wav=clip.wav.copy(), wav_24k=clip.wav_24k.copy(), source=source,
        warnings=list(clip.warnings),
    )  # fmt: skip


def _process(wav: np.ndarray, sr_in: int, name: str) -> ReferenceClip:
    """Steps 1-5 of the module docstring on a decoded [channels, samples] array."""
    try:
        sr_in = check_sample_rate(sr_in)
    except AudioInputError as exc:
        raise ReferenceAudioError(f"reference {name}: {exc}") from exc
    if wav.size == 0:
        raise ReferenceAudioError(f"reference {name} is empty (no samples)")
    if not np.all(np.isfinite(wav)):
        bad = int(wav.size - np.count_nonzero(np.isfinite(wav)))
        raise ReferenceAudioError(f"reference {name} contains {bad} NaN/Inf sample(s)")
    mono = wav.mean(axis=0)
    found: list[str] = []

    seconds = len(mono) / sr_in
    if seconds < MIN_SPEECH_SECONDS:
        raise ReferenceAudioError(
            f"reference {name} is only {seconds:.2f} s long; at least {MIN_SPEECH_SECONDS:.0f} s "
            "of speech is needed (5 s or more works best)"
        )
    if seconds > MAX_INPUT_SECONDS:
        mono = mono[: int(MAX_INPUT_SECONDS * sr_in)]
        found.append(f"only the first {MAX_INPUT_SECONDS:.0f} s of {seconds:.0f} s were searched")

    clipped = int(np.count_nonzero(np.abs(mono) >= CLIP_LEVEL))
    if clipped >= max(10, CLIP_FRACTION * len(mono)):
        found.append(
            f"{clipped} samples ({100 * clipped / len(mono):.2f}%) are at full scale: the clip "
            "is clipped, which distorts the voice; record at a lower level if you can"
        )

    wav16 = resample(mono, sr_in, SAMPLE_RATE)
    wav24 = resample(mono, sr_in, CODEC_SAMPLE_RATE)
    wav16 = wav16 - wav16.mean()
    wav24 = wav24 - wav24.mean()
    # Bring the level to a fixed range first so that speech detection does not depend on the
    # recording gain (a quiet recording would otherwise lose its softest syllables). The 99.9th
    # percentile ignores isolated clicks. Loudness is set properly at the end.
    level = float(np.percentile(np.abs(wav16), 99.9))
    if level > 1e-6:
        wav16, wav24 = wav16 * (0.5 / level), wav24 * (0.5 / level)

    # Split runs of speech longer than the window a little below it, so padding fits too.
    segments = speech_segments(wav16, max_segment_seconds=MAX_WINDOW_SECONDS - 0.5)
    speech_total = sum(e - s for s, e in segments) / SAMPLE_RATE
    if not segments:
        raise ReferenceAudioError(
            f"no speech found in reference {name}: it is silence or noise. "
            "Give a recording of one person talking"
        )
    if speech_total < MIN_SPEECH_SECONDS:
        raise ReferenceAudioError(
            f"reference {name} has only {speech_total:.2f} s of speech; at least "
            f"{MIN_SPEECH_SECONDS:.0f} s is needed (5 s or more works best)"
        )

    start, end, speech = _best_window(segments, int(MAX_WINDOW_SECONDS * SAMPLE_RATE))
    start, end = _widen(start, end, len(wav16), int(MIN_WINDOW_SECONDS * SAMPLE_RATE))
    window16 = wav16[start:end]
    ratio = CODEC_SAMPLE_RATE / SAMPLE_RATE
    window24 = wav24[round(start * ratio) : round(end * ratio)]
    short = int(MIN_WINDOW_SECONDS * SAMPLE_RATE) - len(window16)
    if short > 0:  # the whole input is under 3 s: pad with digital silence on both sides
        window16 = np.pad(window16, (short // 2, short - short // 2))
        short24 = int(MIN_WINDOW_SECONDS * CODEC_SAMPLE_RATE) - len(window24)
        window24 = np.pad(window24, (max(short24, 0) // 2, max(short24, 0) - max(short24, 0) // 2))
    speech_seconds = min(speech, len(window16)) / SAMPLE_RATE
    if speech_seconds < MIN_WINDOW_SECONDS:
        found.append(
            f"only {speech_seconds:.1f} s of speech; 5 s or more gives a more faithful voice"
        )

    gain = _normalise_loudness(window16, SAMPLE_RATE)
    window16 = np.ascontiguousarray(window16 * gain, dtype=np.float32)
    window24 = np.ascontiguousarray(window24 * gain, dtype=np.float32)
    digest = hashlib.sha256(b"ref16k:" + window16.tobytes()).hexdigest()

    for message in found:
        warnings.warn(f"reference {name}: {message}", ReferenceAudioWarning, stacklevel=3)
    return ReferenceClip(
        wav=window16,
        sample_rate=SAMPLE_RATE,
        wav_24k=window24,
        speech_seconds=speech_seconds,
        content_hash=digest,
        source=name,
        warnings=found,
    )
