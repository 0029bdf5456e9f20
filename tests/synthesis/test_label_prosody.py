"""The emotion label's tempo and gain after the LM (tts.label_prosody) and their calibration."""

import json

import numpy as np
import pytest

from tts.data.prosody import EMOTION_PROSODY
from tts.errors import ConfigError
from tts.label_prosody import LabelProsody, check_lm_prosody, label_prosody, measured_lm_prosody
from tts.labels import UnsupportedEmotionError
from tts.synthesizer import PipelineConfig, Synthesizer


def test_without_a_measurement_the_table_applies_in_full():
    assert label_prosody(None, None) == LabelProsody()
    assert label_prosody("neutral", 1.0).is_identity
    whisper = EMOTION_PROSODY["whisper"]
    assert label_prosody("whisper", 1.0) == LabelProsody(whisper.tempo, whisper.gain_db)
    happy = EMOTION_PROSODY["happy"]
    assert label_prosody("happy", 1.0) == LabelProsody(
        happy.tempo, happy.gain_db, happy.f0_shift_semitones
    )
    assert label_prosody("whisper", None) == label_prosody("whisper", 1.0)  # default intensity
    half = label_prosody("calm", 0.5)  # linear in the intensity, like the table
    assert half.tempo == pytest.approx(0.95) and half.gain_db == pytest.approx(-1.0)
    assert half.f0_shift_st == pytest.approx(-0.5)
    with pytest.raises(UnsupportedEmotionError):
        label_prosody("bored", 1.0)
    with pytest.raises(Exception, match="intensity"):
        label_prosody("sad", -1.0)
    with pytest.raises(ConfigError, match="intensity"):
        label_prosody("surprised", 10.0)  # past MAX_INTENSITY: refused, naming it


def test_a_measured_lm_gets_only_what_it_lacks():
    table = EMOTION_PROSODY["sad"]  # -2.5 st, tempo 0.85, -4 dB

    def lm(shift: float, tempo: float, gain: float) -> dict:
        return {"sad": {"f0_shift_st": shift, "tempo": tempo, "gain_db": gain}}

    # An LM that already reaches the table: nothing is added.
    exact = lm(table.f0_shift_semitones, table.tempo, table.gain_db)
    assert label_prosody("sad", 1.0, exact) == LabelProsody(1.0, 0.0, 0.0)
    # One that does half of the gain and of the shift, none of the tempo, gets the rest.
    half = lm(table.f0_shift_semitones / 2, 1.0, table.gain_db / 2)
    assert label_prosody("sad", 1.0, half) == LabelProsody(
        table.tempo, table.gain_db / 2, table.f0_shift_semitones / 2
    )
    # At intensity 0.5 both the target and the LM's part are halved.
    part = label_prosody("sad", 0.5, lm(-1.0, 0.9, -1.0))
    assert part.tempo == pytest.approx((1 - 0.5 * 0.15) / (1 - 0.5 * 0.1))
    assert part.gain_db == pytest.approx(-2.0 + 0.5)
    assert part.f0_shift_st == pytest.approx(-1.25 + 0.5)
    # One that overshoots is left as it is (never pulled the other way); one that went the
    # wrong way gets the table in full; other emotions still get the table.
    assert label_prosody("sad", 1.0, lm(-4.0, 0.7, -6.0)) == LabelProsody(1.0, 0.0, 0.0)
    assert label_prosody("sad", 1.0, lm(1.0, 1.1, 1.0)) == LabelProsody(
        round(table.tempo / 1.1, 6), table.gain_db - 1.0, table.f0_shift_semitones - 1.0
    )
    assert label_prosody("angry", 1.0, lm(-4.0, 0.7, -6.0)) == label_prosody("angry", 1.0)
    # The table's own zeros stay zero (surprised: tempo x1.0; whisper: no F0 shift).
    surprised = {"surprised": {"f0_shift_st": 0.0, "tempo": 1.2, "gain_db": 0.0}}
    assert label_prosody("surprised", 1.0, surprised).tempo == 1.0
    # Whisper has no F0: never shifted, whatever was measured.
    measured = {"whisper": {"f0_shift_st": -1.4, "tempo": 1.0, "gain_db": 0.0}}
    assert label_prosody("whisper", 1.0, measured).f0_shift_st == 0.0


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"bored": {"f0_shift_st": 0.0, "tempo": 1.0, "gain_db": 0.0}}, "emotion"),
        ({"sad": {"tempo": 1.0, "gain_db": 0.0}}, "exactly"),
        ({"sad": {"f0_shift_st": 0.0, "tempo": 3.0, "gain_db": 0.0}}, "tempo"),
        ({"sad": {"f0_shift_st": 0.0, "tempo": float("nan"), "gain_db": 0.0}}, "tempo"),
        ({"sad": {"f0_shift_st": 0.0, "tempo": 1.0, "gain_db": -40.0}}, "gain_db"),
        ({"sad": {"f0_shift_st": 20.0, "tempo": 1.0, "gain_db": 0.0}}, "f0_shift_st"),
        (["sad"], "map emotions"),
    ],
)
def test_bad_measurements_are_typed_errors(bad, match):
    with pytest.raises((ConfigError, UnsupportedEmotionError), match=match):
        check_lm_prosody(bad)
    with pytest.raises((ConfigError, UnsupportedEmotionError), match=match):
        PipelineConfig(lm_prosody=bad)


def test_measured_shifts_become_tempo_and_gain():
    got = measured_lm_prosody(
        {"calm": {"f0_mean_st": -0.5, "duration_pct": 25.0, "energy_db": -1.5},
         "whisper": {"f0_mean_st": None, "duration_pct": 0.0, "energy_db": -3.0}}
    )  # fmt: skip
    # 25% longer = 0.8 x the tempo; no F0 in whisper: no shift measured.
    assert got == {"calm": {"f0_shift_st": -0.5, "tempo": 0.8, "gain_db": -1.5},
                   "whisper": {"f0_shift_st": 0.0, "tempo": 1.0, "gain_db": -3.0}}  # fmt: skip
    with pytest.raises(ConfigError, match="calm"):
        measured_lm_prosody({"calm": {"f0_mean_st": 0.0, "duration_pct": None, "energy_db": -1}})


def test_the_synthesizer_applies_tempo_and_gain_after_the_lm(synth):
    """Same seed, label prosody on and off: the same LM output, then scaled and stretched by
    exactly what `prosody_for` says (the random test codec has no pitch control)."""
    kwargs = dict(reference="default", language="en", emotion="whisper", intensity=1.0,
                  seed=3, watermark=False)  # fmt: skip
    text = "Hello there, how are you?"
    off = synth.synthesize(text, label_prosody=False, **kwargs)
    assert np.max(np.abs(off.wav)) < 0.5  # no overshoot guard below: the gain shows exactly
    try:
        # An LM measured at the table's tempo and half its gain: only a gain is added.
        synth.config.lm_prosody = {"whisper": {"f0_shift_st": 0.0, "tempo": 0.95, "gain_db": -3.0}}
        assert synth.prosody_for("whisper", 1.0) == LabelProsody(1.0, -3.0)
        quieter = synth.synthesize(text, **kwargs)
        np.testing.assert_allclose(quieter.wav, off.wav * 10 ** (-3 / 20), atol=1e-6)
        # One measured at the table's gain and no tempo change: only the stretch is added.
        synth.config.lm_prosody = {"whisper": {"f0_shift_st": 0.0, "tempo": 1.0, "gain_db": -6.0}}
        assert synth.prosody_for("whisper", 1.0) == LabelProsody(0.95, 0.0)
        slower = synth.synthesize(text, **kwargs)
        assert [s.n_frames for s in slower.segments] == [s.n_frames for s in off.segments]
        assert len(slower.wav) / len(off.wav) == pytest.approx(1 / 0.95, abs=0.01)
        streamed = np.concatenate(list(synth.stream(text, **kwargs)))  # streaming too
        assert len(streamed) / len(off.wav) == pytest.approx(1 / 0.95, abs=0.02)
        # A style reference sets the style: no label prosody then; neutral has none.
        assert synth.prosody_for("whisper", 1.0, style_reference="clip.wav").is_identity
        assert synth.prosody_for("neutral", 1.0).is_identity
    finally:
        synth.config.lm_prosody = {}


def test_lm_prosody_survives_a_bundle_round_trip(synth, tmp_path):
    calm = {"f0_shift_st": -0.4, "tempo": 0.97, "gain_db": -1.0}
    synth.config.lm_prosody = {"calm": calm}
    try:
        synth.save(tmp_path / "bundle")
    finally:
        synth.config.lm_prosody = {}
    payload = json.loads((tmp_path / "bundle" / "config.json").read_text())
    assert payload["pipeline"]["lm_prosody"] == {"calm": calm}
    loaded = Synthesizer.from_pretrained(tmp_path / "bundle", device="cpu")
    # The random test codec cannot move F0: no shift from it.
    assert loaded.prosody_for("calm", 1.0) == LabelProsody(round(0.9 / 0.97, 6), -1.0, 0.0)
    payload["pipeline"]["lm_prosody"] = {"calm": dict(calm, tempo=9.0)}
    (tmp_path / "bundle" / "config.json").write_text(json.dumps(payload))
    with pytest.raises(ConfigError, match="tempo"):
        Synthesizer.from_pretrained(tmp_path / "bundle", device="cpu")
