"""3. Emotion control: per emotion and intensity, the shift of F0 mean/range (semitones), energy
(dB), duration per phoneme and articulation time per phoneme (%, pauses left out) against
neutral, same text, voice and seed; whether the shifts grow monotonically with intensity in
the direction `EMOTION_PROSODY` sets (the rate is judged on the articulation time: `JUDGED`).
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from tts.errors import AudioInputError, ConfigError
from tts.labels import EMOTIONS, check_emotion

DEFAULT_INTENSITIES = (0.0, 0.5, 1.0)

# Tolerances below which a shift counts as "no change" (measurement noise of pyworld/RMS).
TOLERANCE = {
    "f0_mean_st": 0.1,
    "f0_range_st": 0.05,
    "energy_db": 0.2,
    "duration_pct": 1.0,
    "articulation_pct": 1.0,
}
# The quantities an emotion is judged by. The speaking rate is judged on the articulation time
# (speech without its pauses), not on the duration with pauses: whether the LM pauses at a
# comma, for 0.3-1 s, is a draw per utterance, and those few draws decide the mean. Measured
# on v11's whisper (18 utterances per condition): the per-utterance shift of the duration has
# a standard deviation of 7.5%, the articulation time's 3-4%; neutral paused 0.38 s per
# utterance, whisper at 0.5 0.21 s, which made whisper's duration 3.6% shorter while its
# articulation was 1.5% slower. The label's own tempo stretches speech and pauses alike, so
# the articulation time shows it as well. The duration with pauses is still reported.
JUDGED = ("f0_mean_st", "f0_range_st", "energy_db", "articulation_pct")
# A pause: at least PAUSE_S of frames PAUSE_DB or more below the loudest frame, inside the
# speech (between its first and last active frame).
PAUSE_S, PAUSE_DB = 0.15, 35.0


def prosody_features(wav: np.ndarray, sr: int, n_phonemes: int) -> dict[str, float | None]:
    """F0 mean and range (semitones re 100 Hz; median and std of voiced frames), energy (mean
    power of the active frames, dB), seconds of speech per phoneme (first to last active
    frame), the seconds of pause inside it (`PAUSE_S`, `PAUSE_DB`) and the seconds of speech
    without them per phoneme (the articulation time)."""
    import librosa

    from tts.data.prosody import world_f0

    x = np.asarray(wav, dtype=np.float64)
    if x.ndim != 1 or x.size < sr // 20 or not np.all(np.isfinite(x)):
        raise AudioInputError(f"need at least 50 ms of finite mono audio, got shape {x.shape}")
    if n_phonemes < 1:
        raise ConfigError(f"n_phonemes must be >= 1, got {n_phonemes}")
    f0 = world_f0(x, sr, 5.0)[0]
    voiced = f0[f0 > 0]
    semitones = 12.0 * np.log2(voiced / 100.0) if voiced.size >= 5 else None
    frame, hop = int(0.025 * sr), int(0.010 * sr)
    rms = librosa.feature.rms(y=x, frame_length=frame, hop_length=hop)[0]
    power_db = 20.0 * np.log10(np.maximum(rms, 1e-8))
    active = power_db > power_db.max() - 40.0  # speech frames; relative, so gain-invariant
    energy_db = 10.0 * np.log10(np.mean(10.0 ** (power_db[active] / 10.0)))
    idx = np.flatnonzero(active)
    speech_seconds = (idx[-1] - idx[0] + 1) * hop / sr
    pause_seconds = _pause_frames(power_db[idx[0] : idx[-1] + 1], PAUSE_S * sr / hop) * hop / sr
    return {
        "f0_mean_st": float(np.median(semitones)) if semitones is not None else None,
        "f0_range_st": float(np.std(semitones)) if semitones is not None else None,
        "energy_db": float(energy_db),
        "sec_per_phoneme": float(speech_seconds / n_phonemes),
        "pause_seconds": float(pause_seconds),
        "articulation_sec_per_phoneme": float((speech_seconds - pause_seconds) / n_phonemes),
    }


def _pause_frames(power_db: np.ndarray, min_frames: float) -> int:
    """How many frames lie in runs of at least `min_frames` quiet frames (`PAUSE_DB` below the
    loudest)."""
    quiet = np.concatenate([[False], power_db < power_db.max() - PAUSE_DB, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    lengths = edges[1::2] - edges[0::2]  # run starts and ends alternate
    return int(lengths[lengths >= min_frames].sum())


def expected_directions(emotion: str) -> dict[str, int]:
    """+1 / -1 / 0 per measured quantity, as `EMOTION_PROSODY` sets it for `emotion`."""
    from tts.data.prosody import EMOTION_PROSODY

    p = EMOTION_PROSODY[check_emotion(emotion)]
    voiced = p.unvoiced == 0.0  # whisper: there is no F0 to measure

    def sign(v: float) -> int:
        return int(np.sign(round(v, 9)))

    return {
        "f0_mean_st": sign(p.f0_shift_semitones) if voiced else 0,
        "f0_range_st": sign(p.f0_range - 1.0) if voiced else 0,
        "energy_db": sign(p.gain_db),
        "duration_pct": -sign(p.tempo - 1.0),  # faster tempo: less time per phoneme
        "articulation_pct": -sign(p.tempo - 1.0),
    }


def _shift(features: dict[str, Any], neutral: dict[str, Any], key: str) -> float | None:
    if key in ("duration_pct", "articulation_pct"):
        name = "sec_per_phoneme" if key == "duration_pct" else "articulation_sec_per_phoneme"
        return 100.0 * (features[name] / neutral[name] - 1.0)
    a, b = features[key], neutral[key]
    return None if a is None or b is None else float(a - b)


def analyse_emotion_shifts(
    neutral: dict[str, Any], by_intensity: dict[float, dict[str, Any]], emotion: str
) -> dict[str, Any]:
    """Shifts versus neutral per intensity; per judged quantity (`JUDGED`) whether they are
    monotonic in intensity and end in the labelled direction (within `TOLERANCE`).

    `neutral` and the values of `by_intensity` are `prosody_features` dicts.
    """
    directions = expected_directions(emotion)
    intensities = sorted(by_intensity)
    shifts = {
        key: [_shift(by_intensity[i], neutral, key) for i in intensities] for key in directions
    }
    checks: dict[str, dict[str, Any]] = {}
    for key, direction in directions.items():
        values = shifts[key]
        # Not judged, no direction set, or nothing to judge against:
        if key not in JUDGED or direction == 0 or neutral.get(key, 0.0) is None:
            checks[key] = {"direction": direction, "monotonic": None, "correct_direction": None}
            continue
        if any(v is None for v in values):
            # Measurable in neutral speech but gone here (no voiced frames where the label
            # keeps a voice): the label broke the speech, which is a failure, not a pass.
            checks[key] = {"direction": direction, "monotonic": False, "correct_direction": False}
            continue
        tol = TOLERANCE[key]
        steps = [direction * (b - a) for a, b in itertools.pairwise(values)]
        checks[key] = {
            "direction": direction,
            "monotonic": bool(all(s >= -tol for s in steps)),
            "correct_direction": bool(direction * values[-1] > tol),
        }
    judged = [c for c in checks.values() if c["monotonic"] is not None]
    return {
        "emotion": emotion,
        "intensities": intensities,
        "shifts": shifts,
        "checks": checks,
        "monotonic": bool(judged) and all(c["monotonic"] for c in judged),
        "correct_direction": bool(judged) and all(c["correct_direction"] for c in judged),
    }


def mean_features(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per quantity, the mean over the samples that have it (None where none has)."""
    out: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples if s[key] is not None]
        out[key] = float(np.mean(values)) if values else None
    return out


def evaluate_emotion(
    synth: Any,
    text: str | Sequence[str],
    language: str,
    reference: tuple[np.ndarray, int] | None = None,
    emotions: Sequence[str] | None = None,
    intensities: Sequence[float] = DEFAULT_INTENSITIES,
    seed: int = 0,
    seeds: int = 1,
    references: Sequence[tuple[np.ndarray, int]] | None = None,
    pitch_range: float | None = None,
    label_prosody: bool = True,
) -> dict[str, Any]:
    """Synthesize each text neutral and per emotion x intensity (same voices; seeds seed ..
    seed + seeds - 1) and analyse the mean features of every condition.

    `references` (several voices) replaces `reference` when given; every condition uses each
    of them. `pitch_range` is passed to the synthesizer (None: its default, the emotion's), as
    is `label_prosody` (False: the LM alone, without the label's decoder range, tempo and gain).

    One sampled utterance per condition is a noisy judge: its length and melody vary from seed
    to seed as much as a mild emotion moves them. Every condition uses the same texts and seeds,
    so differences between conditions come from the emotion and intensity.
    """
    emotions = [check_emotion(e) for e in (emotions or [e for e in EMOTIONS if e != "neutral"])]
    texts = [text] if isinstance(text, str) else list(text)
    if not texts or seeds < 1:
        raise ConfigError("emotion evaluation needs at least one text and one seed")
    voices = list(references) if references else [reference]
    n_phonemes = [sum(len(c.ids) for c in synth.frontend.process(t, language)) for t in texts]
    extra: dict[str, Any] = {} if pitch_range is None else {"pitch_range": pitch_range}
    if not label_prosody:
        extra["label_prosody"] = False

    def features(emotion: str, intensity: float) -> dict[str, Any]:
        samples = []
        for t, n in zip(texts, n_phonemes, strict=True):
            for voice in voices:
                for s in range(seed, seed + seeds):
                    out = synth.synthesize(
                        t, reference=voice, language=language, emotion=emotion,
                        intensity=intensity, seed=s, watermark=False, **extra,
                    )  # fmt: skip
                    samples.append(prosody_features(out.wav, out.sample_rate, n))
        return mean_features(samples)

    # No watermark here: its noise would blur the prosody measurements. Silence the warning
    # the synthesizer logs for every watermark-free call.
    watermark_log = logging.getLogger("tts.watermark")
    level = watermark_log.level
    watermark_log.setLevel(logging.ERROR)
    try:
        neutral = features("neutral", 0.0)
        jobs = [(e, float(i)) for e in emotions for i in intensities]
        measured: dict[str, dict[float, dict[str, Any]]] = defaultdict(dict)
        for emotion, intensity in tqdm(jobs, desc="emotion", leave=False):
            measured[emotion][intensity] = features(emotion, intensity)
    finally:
        watermark_log.setLevel(level)
    per_emotion = {}
    for emotion in emotions:
        per_emotion[emotion] = analyse_emotion_shifts(neutral, measured[emotion], emotion)
    return {
        "texts": texts,
        "seeds": seeds,
        "voices": len(voices),
        "pitch_range": pitch_range,
        "label_prosody": label_prosody,
        "language": language,
        "neutral": neutral,
        "emotions": per_emotion,
    }
