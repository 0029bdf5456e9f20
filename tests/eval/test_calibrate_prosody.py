"""recipes/calibrate_prosody.py: it recovers what an LM does for each emotion, from audio."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tts.audio import Audio, load_audio
from tts.data.manifest import read_manifest, write_manifest
from tts.errors import ConfigError
from tts.synthesizer import Synthesizer

REPO = Path(__file__).resolve().parents[2]
# What the fake "LM" below does for each emotion: time per phoneme x factor, a gain, an F0 shift.
SLOWER = {"sad": 1.25, "calm": 1.1, "angry": 0.9}
GAIN_DB = {"sad": -3.0, "calm": -1.0, "whisper": -5.0, "angry": 2.0}
# (WORLD's resynthesis at another F0 also changes the energy: shifted ones keep their level.)
SHIFT_ST = {"happy": 1.0, "surprised": -1.5}


def load_recipe():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "_test_calibrate_prosody", REPO / "recipes/calibrate_prosody.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


class KnownProsody:
    """Speaks each text (its clip in the manifest) with a known F0 shift (WORLD, the corpus's
    own prosody edit) or tempo (the synthesizer's level-keeping stretch) and gain per emotion."""

    def __init__(self, frontend, pool) -> None:  # type: ignore[no-untyped-def]
        self.frontend = frontend
        self.clips = {e.text: e.audio for e in pool}
        self.calls: list[dict] = []

    def synthesize(self, text, **kwargs):  # type: ignore[no-untyped-def]
        from tts.data.prosody import ProsodyParams, apply_prosody
        from tts.synthesizer import stretch

        self.calls.append(kwargs)
        wav, sr = load_audio(self.clips[text])
        emotion = kwargs["emotion"]
        if emotion in SHIFT_ST:
            wav = apply_prosody(wav, sr, ProsodyParams(f0_shift_semitones=SHIFT_ST[emotion]))
        if emotion in SLOWER:
            wav = stretch(wav, 1 / SLOWER[emotion])
        wav = wav * 10 ** (GAIN_DB.get(emotion, 0.0) / 20) if emotion != "neutral" else wav
        return Audio(np.asarray(wav, dtype=np.float32), sr)


@pytest.fixture(scope="module")
def train_manifest(manifest_path, tmp_path_factory):
    """The eval clips (two voices, two sentences each) as a training split."""
    entries = read_manifest(manifest_path)
    for e in entries:
        e.extra["split"] = "train"
    return write_manifest(tmp_path_factory.mktemp("train") / "manifest.jsonl", entries)


def test_calibration_recovers_the_lms_tempo_and_gain(synth, train_manifest, bundle_dir, tmp_path):
    recipe = load_recipe()
    pool = read_manifest(train_manifest)
    fake = KnownProsody(synth.frontend, pool)
    measured = recipe.calibrate(fake, pool, ["ja"], texts=2, voices=2)
    assert all(c["label_prosody"] is False for c in fake.calls)  # the LM alone is measured
    assert {c["intensity"] for c in fake.calls} == {0.0, 1.0}
    assert len(fake.calls) == 7 * 2 * 2  # neutral + 6 emotions, 2 texts x 2 voices
    for emotion, m in measured.items():
        if emotion not in SLOWER:  # (the phase vocoder moves WORLD's F0 by a few tenths)
            assert m["f0_shift_st"] == pytest.approx(SHIFT_ST.get(emotion, 0.0), abs=0.2), emotion
        assert m["tempo"] == pytest.approx(1 / SLOWER.get(emotion, 1.0), abs=0.03), emotion
        if emotion not in SHIFT_ST:
            assert m["gain_db"] == pytest.approx(GAIN_DB.get(emotion, 0.0), abs=0.3), emotion
    # Stored in a bundle, the synthesizer adds only the rest of the table.
    bundle = tmp_path / "bundle"
    import shutil

    shutil.copytree(bundle_dir, bundle)
    recipe.write_into_bundle(bundle, measured)
    loaded = Synthesizer.from_pretrained(bundle, device="cpu")
    assert loaded.config.lm_prosody == measured
    sad = loaded.prosody_for("sad", 1.0)  # table: tempo 0.85, -4 dB; the LM gave 0.8, -3 dB
    assert sad.tempo == 1.0  # the LM is slower than the table already: nothing added
    assert sad.gain_db == pytest.approx(-4.0 - measured["sad"]["gain_db"], abs=1e-4)
    assert json.loads((bundle / "config.json").read_text())["pipeline"]["lm_prosody"] == measured


def test_calibration_needs_training_clips(synth, manifest_path):
    recipe = load_recipe()
    # The eval manifest holds test-split clips only: nothing to calibrate on.
    with pytest.raises(ConfigError, match="training-split"):
        pool = read_manifest(manifest_path)
        recipe.calibrate(KnownProsody(synth.frontend, pool), pool, ["ja"])
    with pytest.raises(ConfigError, match="not a model bundle"):
        path = Path(manifest_path).parent / "lm"
        path.mkdir(exist_ok=True)
        (path / "config.json").write_text(json.dumps({"kind": "codec_lm"}))
        recipe.write_into_bundle(path, {})


def test_calibration_voices_are_new_voices_from_several_engines(train_manifest):
    from tts.data.manifest import ManifestEntry
    from tts.data.prosody import world_f0

    recipe = load_recipe()
    pool = read_manifest(train_manifest)
    wav, sr = load_audio(pool[0].audio)
    higher = recipe.new_voice(wav, sr, 3.0)
    f0 = [np.median(f[f > 0]) for f in (world_f0(wav, sr)[0], world_f0(higher, sr)[0])]
    assert 12 * np.log2(f0[1] / f0[0]) == pytest.approx(3.0, abs=0.3)
    assert len(higher) == pytest.approx(len(wav) / 2 ** (3 / 12), rel=0.01)
    assert recipe.new_voice(wav, sr, 0.0) is wav
    # Engines in turn: one voice of each before a second of any.
    fake = [ManifestEntry(audio=pool[0].audio, text="x", language="ja", speaker=name,
                          duration=1.0, extra={"split": "train"})
            for name in ("a-1", "a-2", "a-3", "b-1", "c-1")]  # fmt: skip
    assert [e.speaker for e in recipe.training_voices(fake, "ja", 4)] == [
        "a-1",
        "b-1",
        "c-1",
        "a-2",
    ]
    assert recipe.training_voices(fake, "en", 4) == []
