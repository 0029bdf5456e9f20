"""What an emotion label does to the audio after the LM: a pitch shift, a tempo and a gain that
top the LM's own prosody up to the emotion table's (`tts.data.prosody.EMOTION_PROSODY`, the
table the training corpus was made with).

Why: the LM learns each label's direction but not all of its size, least in voices it never
heard. Measured on koe-proof-v6 with held-out voices (`tts eval`, intensity 1): whisper slowed
speech by 0.5% where the table says 5%, calm lowered the energy by 1 dB where it says 2. A
user who asks for "calm, intensity 0.5" should get half of calm, reliably, whatever the LM
learned. So each model bundle records what its LM does by itself at intensity 1
(`PipelineConfig.lm_prosody`, measured on new voices made from training voices, with training
sentences, by `recipes/calibrate_prosody.py`), and the synthesizer applies the rest:

    shift   = table F0 shift(intensity) - LM F0 shift(intensity)   (semitones, at the decoder)
    tempo   = table tempo(intensity) / LM tempo(intensity)           (the decoder's hop)
    gain_dB = table gain(intensity)  - LM gain(intensity)

All interpolate linearly from neutral at intensity 0, as the table does. Each only ever adds
in the table's own direction: an LM that reaches or overshoots the table gets nothing there
(shift 0, tempo 1, 0 dB), never a pull the other way. How far the LM goes depends on the voice
(v6's angry raised F0 by 2.6 st on the calibration voices and by 0.8 st on the held-out ones),
so a pull-back measured on some voices could reverse the emotion on others; a top-up cannot.
A bundle without a measurement for an emotion applies the table in full.
The shift and the F0 range need a source-filter decoder (`PitchRange`); the F0 range is not
calibrated (`Synthesizer.pitch_range_for`: the LM carries 2-4 x less of it than the table).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tts.errors import ConfigError
from tts.labels import check_emotion, check_intensity

# A measured LM tempo outside this band is a measurement gone wrong, not a style.
MIN_LM_TEMPO, MAX_LM_TEMPO = 0.5, 2.0
MAX_LM_GAIN_DB = 20.0
MAX_LM_SHIFT = 12.0
KEYS = ("f0_shift_st", "tempo", "gain_db")


@dataclass(frozen=True)
class LabelProsody:
    """Applied at and after decoding: F0 shift (semitones), tempo (> 1 faster; multiplies the
    user's `speed`) and gain."""

    tempo: float = 1.0
    gain_db: float = 0.0
    f0_shift_st: float = 0.0

    @property
    def is_identity(self) -> bool:
        return self.tempo == 1.0 and self.gain_db == 0.0 and self.f0_shift_st == 0.0


def check_lm_prosody(measured: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Validate a bundle's `lm_prosody` ({emotion: {"f0_shift_st", "tempo", "gain_db"}})."""
    if not isinstance(measured, dict):
        raise ConfigError(f"lm_prosody must map emotions to measurements, got {measured!r}")
    out: dict[str, dict[str, float]] = {}
    for emotion, values in measured.items():
        name = check_emotion(emotion)
        if not isinstance(values, dict) or set(values) != set(KEYS):
            raise ConfigError(
                f"lm_prosody[{emotion!r}] must hold exactly {', '.join(KEYS)}; got {values!r}"
            )
        shift, tempo, gain = (float(values[k]) for k in KEYS)
        if not (math.isfinite(shift) and abs(shift) <= MAX_LM_SHIFT):
            raise ConfigError(f"lm_prosody[{emotion!r}].f0_shift_st={shift} is not within ±12 st")
        if not (math.isfinite(tempo) and MIN_LM_TEMPO <= tempo <= MAX_LM_TEMPO):
            raise ConfigError(
                f"lm_prosody[{emotion!r}].tempo={tempo} lies outside "
                f"[{MIN_LM_TEMPO}, {MAX_LM_TEMPO}]"
            )
        if not (math.isfinite(gain) and abs(gain) <= MAX_LM_GAIN_DB):
            raise ConfigError(f"lm_prosody[{emotion!r}].gain_db={gain} is not within ±20 dB")
        out[name] = {"f0_shift_st": shift, "tempo": tempo, "gain_db": gain}
    return out


def label_prosody(
    emotion: str | None,
    intensity: float | None,
    lm_prosody: dict[str, dict[str, float]] | None = None,
) -> LabelProsody:
    """The F0 shift, tempo and gain that bring the LM's measured prosody for `emotion` at
    `intensity` (default 1) up to the table's, each in the table's direction only (see the
    module doc). No emotion, or neutral: identity."""
    if emotion is None:
        return LabelProsody()
    from tts.data.prosody import emotion_params  # pyworld: imported only when needed

    emotion = check_emotion(emotion)
    level = 1.0 if intensity is None else check_intensity(intensity)
    target = emotion_params(emotion, level)
    lm = (lm_prosody or {}).get(emotion, {"f0_shift_st": 0.0, "tempo": 1.0, "gain_db": 0.0})
    lm_tempo = max(1.0 + level * (lm["tempo"] - 1.0), 0.25)  # the table's floor, extrapolated
    # Whisper has no F0 to shift (its table shift is 0 and the LM's is measured on none).
    shift = 0.0 if target.unvoiced else target.f0_shift_semitones - level * lm["f0_shift_st"]
    log_tempo = math.log(target.tempo / lm_tempo)
    return LabelProsody(
        tempo=round(math.exp(_top_up(log_tempo, math.log(target.tempo))), 6),
        gain_db=round(_top_up(target.gain_db - level * lm["gain_db"], target.gain_db), 6),
        f0_shift_st=round(_top_up(shift, target.f0_shift_semitones), 6),
    )


def _top_up(rest: float, target: float) -> float:
    """`rest` where it points the way `target` does (away from neutral, 0); else 0."""
    return rest if rest * target > 0 else 0.0


def measured_lm_prosody(shifts: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """`lm_prosody` from an emotion evaluation at intensity 1 with the label prosody off:
    {emotion: {"f0_mean_st", "duration_pct", "energy_db"}} -> {emotion: {"f0_shift_st",
    "tempo", "gain_db"}}. A duration shift of d% per phoneme is a tempo of 1 / (1 + d / 100);
    an F0 shift that could not be measured (no voiced frames: whisper) counts as 0."""
    out = {}
    for emotion, s in shifts.items():
        duration, energy = s.get("duration_pct"), s.get("energy_db")
        if duration is None or energy is None:
            raise ConfigError(f"no duration or energy shift measured for {emotion!r}")
        out[emotion] = {
            "f0_shift_st": round(s.get("f0_mean_st") or 0.0, 3),
            "tempo": round(1.0 / (1.0 + duration / 100.0), 4),
            "gain_db": round(energy, 3),
        }
    return check_lm_prosody(out)
