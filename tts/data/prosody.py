"""Emotions as controlled prosody changes of a neutral utterance, done with WORLD (pyworld).

The synthetic corpus has no real emotional recordings, so an emotion is a documented, measurable
transformation of neutral speech. One table, `EMOTION_PROSODY`, defines the full-strength
(intensity 1.0) setting per emotion:

| emotion   | F0 shift | F0 range | tempo | energy | spectral tilt | breathiness | voicing     |
|-----------|----------|----------|-------|--------|---------------|-------------|-------------|
| neutral   |   0 st   |  x1.00   | x1.00 |  0 dB  |   0 dB/oct    |    0.00     | voiced      |
| happy     |  +3 st   |  x1.40   | x1.10 | +2 dB  |  +1.5 dB/oct  |    0.00     | voiced      |
| sad       | -2.5 st  |  x0.60   | x0.85 | -4 dB  |  -2 dB/oct    |    0.15     | voiced      |
| angry     | +1.5 st  |  x1.50   | x1.12 | +4 dB  |  +3 dB/oct    |    0.00     | voiced      |
| surprised |  +5 st   |  x1.80   | x1.00 | +2 dB  |  +1 dB/oct    |    0.00     | voiced      |
| calm      |  -1 st   |  x0.75   | x0.90 | -2 dB  |  -1 dB/oct    |    0.05     | voiced      |
| whisper   |   0 st   |  x1.00   | x0.95 | -6 dB  |  +1 dB/oct    |    1.00     | unvoiced    |

- F0 shift moves the median F0 (semitones); F0 range scales each voiced frame's log-F0 distance
  from the median (wider or flatter intonation).
- Tempo > 1 is faster (frames are resampled in time, pitch unchanged).
- Energy is a gain applied after the corpus builder has loudness-normalised the neutral source,
  so louder/softer survives normalisation.
- Spectral tilt is a gain in dB per octave above 500 Hz (positive: brighter, "tenser" voice).
- Breathiness mixes the aperiodicity towards 1 (noisier excitation).
- Whisper replaces F0 by aperiodic (noise) excitation: at full intensity every frame is
  unvoiced; below 1 it is breathy voice (aperiodicity mixed towards 1 by the intensity).

Intensity interpolates linearly from neutral (0) to the full setting (1); values > 1
extrapolate (exaggerate). `ProsodyParams.as_dict()` is what the corpus records in
`extra["prosody"]`.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np

from tts.errors import AudioInputError
from tts.labels import check_emotion

with warnings.catch_warnings():  # pyworld imports pkg_resources, which warns on import
    warnings.simplefilter("ignore")
    import pyworld

FRAME_PERIOD_MS = 5.0
TILT_PIVOT_HZ = 500.0
MAX_TILT_OCTAVES = 4.0  # the tilt stops growing 4 octaves above the pivot (8 kHz)


@dataclass(frozen=True)
class ProsodyParams:
    f0_shift_semitones: float = 0.0
    f0_range: float = 1.0
    tempo: float = 1.0
    gain_db: float = 0.0
    tilt_db_per_octave: float = 0.0
    breathiness: float = 0.0
    unvoiced: float = 0.0  # 1.0 = whisper (no F0 at all)

    def scaled(self, intensity: float) -> ProsodyParams:
        """Linear interpolation from neutral (intensity 0) to this setting (1)."""
        if not np.isfinite(intensity) or intensity < 0:
            raise AudioInputError(
                f"emotion intensity must be a finite number >= 0, got {intensity}"
            )
        neutral = ProsodyParams()
        mix = {
            name: getattr(neutral, name) + intensity * (value - getattr(neutral, name))
            for name, value in asdict(self).items()
        }
        # Ratios must stay positive and mixing weights in [0, 1] when extrapolating.
        mix["f0_range"] = max(mix["f0_range"], 0.05)
        mix["tempo"] = max(mix["tempo"], 0.25)
        mix["breathiness"] = float(np.clip(mix["breathiness"], 0.0, 1.0))
        mix["unvoiced"] = float(np.clip(mix["unvoiced"], 0.0, 1.0))
        return ProsodyParams(**{k: round(float(v), 6) for k, v in mix.items()})

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


EMOTION_PROSODY: dict[str, ProsodyParams] = {
    "neutral": ProsodyParams(),
    "happy": ProsodyParams(3.0, 1.4, 1.10, 2.0, 1.5, 0.0),
    "sad": ProsodyParams(-2.5, 0.6, 0.85, -4.0, -2.0, 0.15),
    "angry": ProsodyParams(1.5, 1.5, 1.12, 4.0, 3.0, 0.0),
    "surprised": ProsodyParams(5.0, 1.8, 1.0, 2.0, 1.0, 0.0),
    "calm": ProsodyParams(-1.0, 0.75, 0.90, -2.0, -1.0, 0.05),
    "whisper": ProsodyParams(0.0, 1.0, 0.95, -6.0, 1.0, 1.0, unvoiced=1.0),
}


def emotion_params(emotion: str, intensity: float = 1.0) -> ProsodyParams:
    """The prosody setting for `emotion` at `intensity` (0 = neutral, 1 = table value)."""
    return EMOTION_PROSODY[check_emotion(emotion)].scaled(float(intensity))


def world_f0(
    wav: np.ndarray, sample_rate: int, frame_period_ms: float = FRAME_PERIOD_MS
) -> tuple[np.ndarray, np.ndarray]:
    """WORLD's F0 track (DIO refined by StoneMask): (F0 in Hz, 0 where unvoiced; frame times s)."""
    x = np.asarray(wav, dtype=np.float64)
    f0, times = pyworld.dio(x, sample_rate, frame_period=frame_period_ms)
    return pyworld.stonemask(x, f0, times, sample_rate), times


def _stretch(frames: np.ndarray, n_out: int) -> np.ndarray:
    """Linear interpolation of [T, ...] frames to n_out frames along time."""
    n_in = frames.shape[0]
    pos = np.linspace(0.0, n_in - 1, n_out)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    w = (pos - lo).reshape(-1, *([1] * (frames.ndim - 1)))
    return frames[lo] * (1.0 - w) + frames[hi] * w


def apply_prosody(wav: np.ndarray, sample_rate: int, params: ProsodyParams) -> np.ndarray:
    """Analyse `wav` with WORLD, change F0/tempo/spectrum/excitation, resynthesise.

    Returns float32 audio at the same sample rate. Deterministic (WORLD's noise generator is
    re-seeded on every synthesis call).
    """
    x = np.asarray(wav, dtype=np.float64)
    if x.ndim != 1 or len(x) < sample_rate // 20:
        raise AudioInputError(f"need at least 50 ms of mono audio, got shape {x.shape}")
    if params == ProsodyParams():
        return x.astype(np.float32)
    f0, times = world_f0(x, sample_rate)
    sp = pyworld.cheaptrick(x, f0, times, sample_rate)
    ap = pyworld.d4c(x, f0, times, sample_rate)

    # Pitch: shift the median and scale the excursions around it, in the log domain.
    voiced = f0 > 0
    if voiced.any():
        log_f0 = np.log(np.where(voiced, f0, 1.0))
        median = np.median(log_f0[voiced])
        shifted = (
            median
            + params.f0_shift_semitones * np.log(2) / 12
            + params.f0_range * (log_f0 - median)
        )
        f0 = np.where(voiced, np.exp(np.clip(shifted, np.log(40.0), np.log(1100.0))), 0.0)

    # Tempo: resample the frame sequence (voicing decided on the stretched, interpolated F0).
    if params.tempo != 1.0:
        n_out = max(2, round(len(f0) / params.tempo))
        voicing = _stretch(voiced.astype(np.float64), n_out) >= 0.5
        # Interpolate a continuous contour (unvoiced gaps bridged) so that frames at
        # voicing boundaries do not get an F0 half-way to zero.
        index = np.arange(len(f0))
        contour = np.interp(index, index[voiced], f0[voiced]) if voiced.any() else f0
        f0 = np.where(voicing, _stretch(contour, n_out), 0.0)
        sp = _stretch(sp, n_out)
        ap = _stretch(ap, n_out)

    # Spectral tilt (power spectrum, so dB/10).
    if params.tilt_db_per_octave:
        freqs = np.linspace(0, sample_rate / 2, sp.shape[1])
        octaves = np.clip(np.log2(np.maximum(freqs, 1.0) / TILT_PIVOT_HZ), 0, MAX_TILT_OCTAVES)
        sp = sp * 10 ** (params.tilt_db_per_octave * octaves / 10)[None, :]

    # Breathiness and whisper: more aperiodic excitation; full whisper drops F0 entirely.
    noise_mix = max(params.breathiness, params.unvoiced)
    if noise_mix > 0:
        ap = ap + noise_mix * (1.0 - ap)
    if params.unvoiced >= 1.0:
        f0 = np.zeros_like(f0)

    y = pyworld.synthesize(
        np.ascontiguousarray(f0),
        np.ascontiguousarray(sp),
        np.ascontiguousarray(np.clip(ap, 0.0, 1.0)),
        sample_rate,
        FRAME_PERIOD_MS,
    )
    y = y * 10 ** (params.gain_db / 20)
    return np.nan_to_num(y).astype(np.float32)


def apply_emotion(
    wav: np.ndarray, sample_rate: int, emotion: str, intensity: float = 1.0
) -> tuple[np.ndarray, ProsodyParams]:
    """`apply_prosody` with the table setting for `emotion` at `intensity`."""
    params = emotion_params(emotion, intensity)
    return apply_prosody(wav, sample_rate, params), params
