import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tts.data.manifest import read_manifest
from tts.data.prosody import apply_emotion
from tts.errors import ConfigError, ManifestError
from tts.eval import evaluate as ev
from tts.eval.report import format_value


@pytest.fixture(scope="module")
def pool(manifest_path):
    return read_manifest(manifest_path)


@pytest.fixture(scope="module")
def encoder():
    from tts.speakers import load_speaker_encoder

    return load_speaker_encoder("resemblyzer")


def test_held_out_entries_and_reference_choice(pool):
    picked = ev.held_out_entries(pool, languages=["ja"], max_per_language=3)
    assert len(picked) == 3 and all(e.extra["split"] == "test" for e in picked)
    # the held-out voices in turn, each in manifest order
    voices = ["pyopenjtalk-mei", "pyopenjtalk-mei-high"]
    assert [e.speaker for e in picked] == [voices[0], voices[1], voices[0]]
    held_out = [e for e in pool if e.extra.get("split") == "test" and e.emotion == "neutral"
                and e.language == "ja"]  # fmt: skip
    assert picked[0] is held_out[0] and picked[2] is [e for e in held_out
                                                      if e.speaker == voices[0]][1]  # fmt: skip
    assert len(ev.held_out_entries(pool, languages=["ja"])) == len(held_out)
    ref = ev.pick_reference(picked[0], pool)
    assert ref.speaker == picked[0].speaker and ref.text != picked[0].text
    with pytest.raises(ManifestError, match="split"):
        ev.held_out_entries(pool, splits=["train"])


def test_held_out_fingerprint_tells_rebuilds_apart(pool, tmp_path):
    """Equal for the same set, different for another sentence list and for a clip whose
    bytes changed (an engine's new version), so two runs are known to be comparable."""
    import dataclasses

    entries = ev.held_out_entries(pool, languages=["ja"], max_per_language=3)
    first = ev.held_out_fingerprint(entries, pool)
    assert first == ev.held_out_fingerprint(list(entries), list(pool))
    assert first["n"] == 3 and len(first["texts"]) == 12 and len(first["audio"]) == 12
    fewer = ev.held_out_fingerprint(entries[:2], pool)
    assert fewer["texts"] != first["texts"] and fewer["audio"] != first["audio"]
    # the same texts, one clip's audio re-rendered: texts match, audio does not
    changed = tmp_path / "changed.wav"
    changed.write_bytes(Path(entries[0].audio).read_bytes() + b"\0")
    swapped = [dataclasses.replace(entries[0], audio=changed), *entries[1:]]
    other = ev.held_out_fingerprint(swapped, pool)
    assert other["texts"] == first["texts"] and other["audio"] != first["audio"]
    report = ev.markdown_report({"config": {"held_out": first}})
    assert first["texts"] in report and first["audio"] in report


def test_cer_is_also_reported_per_held_out_voice(pool):
    """Each language's voices apart: one voice's output may be held back by the codec, the
    other's by the LM, and the language's mean hides which."""

    class Judge:  # scores 0.1, 0.4, 0.3 in turn
        def __init__(self) -> None:
            self.cers = iter([0.1, 0.4, 0.3])

        def score(self, wav, sr, text, language):  # type: ignore[no-untyped-def]
            return "text", next(self.cers)

    entries = ev.held_out_entries(pool, languages=["ja"], max_per_language=3)
    a, b = entries[0].speaker, entries[1].speaker  # a, b, a: the voices in turn
    result = ev.evaluate_intelligibility(None, entries, pool, Judge())
    assert result["per_language"]["ja"]["engine_cer"] == pytest.approx(0.8 / 3)
    by_voice = result["per_voice"]["ja"]
    assert set(by_voice) == {a, b}
    assert by_voice[a]["n"] == 2 and by_voice[a]["engine_cer"] == pytest.approx(0.2)
    assert by_voice[b]["n"] == 1 and by_voice[b]["engine_cer"] == pytest.approx(0.4)
    assert by_voice[a]["model_cer"] is None  # no model given: the engines' audio alone
    report = ev.markdown_report({"cer": result})
    assert f"| ja | {a} | 2 | - | 0.200 | - |" in report
    assert f"| ja | {b} | 1 | - | 0.400 | - |" in report
    # one voice a language: its rows would repeat the language's, so none are written
    single = ev.evaluate_intelligibility(None, entries[:1], pool, Judge())
    assert "Per held-out voice" not in ev.markdown_report({"cer": single})


def test_a_whisper_loop_counts_as_one_miss_in_the_capped_means(pool):
    """A sentence Whisper loops on scores several times its length; the capped means take
    it as 1, and the report gives them only when a sentence went over 1."""

    class Judge:
        def __init__(self, cers: list[float]) -> None:
            self.cers = iter(cers)

        def score(self, wav, sr, text, language):  # type: ignore[no-untyped-def]
            return "text", next(self.cers)

    entries = ev.held_out_entries(pool, languages=["ja"], max_per_language=3)
    looped = ev.evaluate_intelligibility(None, entries, pool, Judge([0.1, 6.2, 0.3]))
    row = looped["per_language"]["ja"]
    assert row["engine_cer"] == pytest.approx(6.6 / 3)
    assert row["engine_cer_capped"] == pytest.approx(1.4 / 3)
    assert row["model_cer"] is None and row["model_cer_capped"] is None
    report = ev.markdown_report({"cer": looped})
    assert "capped at 1" in report and "| ja | - | 0.467 | - |" in report
    clear = ev.evaluate_intelligibility(None, entries, pool, Judge([0.1, 0.6, 0.3]))
    assert clear["per_language"]["ja"]["engine_cer_capped"] == pytest.approx(1.0 / 3)
    assert "capped at 1" not in ev.markdown_report({"cer": clear})


def test_cer_over_several_seeds_scores_every_draw_and_the_engine_once(synth, pool):
    """Each sentence is spoken once per seed (seed, seed + 1, ...): the model's mean is over
    every draw, each seed's mean is kept, and the engine's audio is heard once per sentence."""
    heard: list[str] = []

    class Judge:  # the engine's clips score 0.1; 24 kHz audio (codec's, model's) by its length
        def score(self, wav, sr, text, language):  # type: ignore[no-untyped-def]
            heard.append(text)
            return "text", 0.1 if sr != synth.sample_rate else len(wav) / sr / 10

    entries = ev.held_out_entries(pool, languages=["ja"], max_per_language=2)
    result = ev.evaluate_intelligibility(synth, entries, pool, Judge(), seed=5, n_seeds=3)
    assert result["seeds"] == [5, 6, 7]
    items = result["items"]
    assert [i["seed"] for i in items] == [5, 6, 7, 5, 6, 7]
    # per sentence: its clip, the clip through the codec, and three outputs
    assert len(heard) == 2 * (1 + 1 + 3)
    row = result["per_language"]["ja"]
    assert row["n"] == 2 and row["draws"] == 6 and row["engine_cer"] == pytest.approx(0.1)
    by_seed = row["model_cer_by_seed"]
    assert list(by_seed) == ["5", "6", "7"]
    assert row["model_cer"] == pytest.approx(np.mean([i["model_cer"] for i in items]))
    assert np.mean(list(by_seed.values())) == pytest.approx(row["model_cer"])
    # a draw is the synthesis at its seed
    again = synth.synthesize(entries[0].text, reference=ev.load_entry(ev.pick_reference(entries[0], pool)),
                             language="ja", seed=6)  # fmt: skip
    assert items[1]["model_cer"] == pytest.approx(again.duration / 10)
    report = ev.markdown_report({"cer": result})
    assert (
        "the mean of seeds 5, 6, 7" in report
        and " / ".join(f"{v:.3f}" for v in by_seed.values()) in report
    )
    with pytest.raises(ConfigError, match="n_seeds"):
        ev.evaluate_intelligibility(synth, entries, pool, Judge(), n_seeds=0)


def test_engine_cer_is_low_and_model_cer_is_scored(synth, pool):
    from tts.eval.asr import load_whisper

    entries = ev.held_out_entries(pool, max_per_language=1)
    result = ev.evaluate_intelligibility(synth, entries, pool, load_whisper(), seed=0)
    item = result["items"][0]
    assert item["engine_cer"] < 0.3, item["engine_transcript"]
    assert item["reference"] is not None and item["reference"] != item["audio"]
    assert math.isfinite(item["model_cer"]) and item["model_cer"] >= 0.0
    row = result["per_language"]["ja"]
    assert row["n"] == 1 and row["engine_cer"] == pytest.approx(item["engine_cer"])
    # The engine's clip through the model's codec alone is scored too (the codec's ceiling).
    assert math.isfinite(item["codec_cer"]) and row["codec_cer"] == pytest.approx(item["codec_cer"])
    wav, sr = ev.load_entry(entries[0])
    resynth = ev.codec_resynthesis(synth.codec, wav, sr)
    codec = synth.codec
    assert resynth.ndim == 1 and resynth.dtype == np.float32
    assert abs(len(resynth) / codec.sample_rate - len(wav) / sr) <= 2 / codec.frame_rate
    expected = codec.decode(codec.encode(wav[None].astype(np.float32), sr))[0].numpy()
    np.testing.assert_allclose(resynth, expected, atol=1e-5)
    # this codec reads no units, and the report's codec column says so
    assert result["codec_units"] is False
    assert "| engine audio through the codec |" in ev.markdown_report({"cer": result})
    with_units = ev.markdown_report({"cer": {**result, "codec_units": True}})
    assert "| engine audio through the codec and its units |" in with_units


def test_codec_resynthesis_gives_a_decoder_that_reads_units_the_clips_own(pool) -> None:
    """With the model's semantic tokenizer, the codec column decodes the clip's codes with its
    own units in front, as synthesis puts the LM's: the decoder's best case."""
    import dataclasses

    from tts.codecs.koe import KoeCodec
    from tts.codecs.model import tiny_config
    from tts.eval.cer import reads_units
    from tts.semantic import SemanticConfig, SemanticTokenizer

    torch.manual_seed(0)
    config = dataclasses.replace(tiny_config(), decoder_kind="source_filter", n_units=4)
    codec = KoeCodec.from_config(config)
    with torch.no_grad():  # the unit table starts at zero: make the units change the audio
        codec.model.decoder.unit_embedding.weight.normal_(0.0, 0.5)
    tokenizer = SemanticTokenizer(torch.randn(4, 512), SemanticConfig(n_clusters=4))
    wav, sr = ev.load_entry(pool[0])
    codes = codec.encode(torch.from_numpy(wav.astype(np.float32))[None], sr)
    units = tokenizer.units(wav, sr, codes.shape[-1])
    assert reads_units(codec, tokenizer) and not reads_units(codec, None)
    resynth = ev.codec_resynthesis(codec, wav, sr, semantic=tokenizer)
    expected = codec.decode(torch.cat([units[None, None], codes], dim=1))[0].numpy()
    np.testing.assert_allclose(resynth, expected, atol=1e-5)
    without = ev.codec_resynthesis(codec, wav, sr)
    np.testing.assert_allclose(without, codec.decode(codes)[0].numpy(), atol=1e-5)
    assert np.abs(resynth - without).max() > 1e-3  # the units reached the decoder
    plain = KoeCodec.from_config(tiny_config())  # a decoder without units: the codes alone
    assert not reads_units(plain, tokenizer)
    np.testing.assert_allclose(
        ev.codec_resynthesis(plain, wav, sr, semantic=tokenizer),
        plain.resynthesize(wav.astype(np.float32), sr),
        atol=1e-5,
    )


def test_similarity_baselines_and_cross_lingual(synth, pool, encoder):
    clip = ev.load_entry(pool[0])
    assert ev.clip_similarity(encoder, clip, clip) == pytest.approx(1.0, abs=1e-4)
    result = ev.evaluate_similarity(synth, pool, pool, encoder, seed=0, utterances=2)
    assert {v["speaker"] for v in result["voices"]} == {"pyopenjtalk-mei", "pyopenjtalk-mei-high"}
    for key in ("model", "model_vs_clip", "same_voice", "different_voice"):
        assert -1.0 <= result[key] <= 1.0
    assert result["same_voice"] > 0.7  # two real clips of one voice
    # Each voice is the mean of its (up to 2) utterances, each with a text of that voice.
    assert result["utterances_per_voice"] == 2
    for voice in result["voices"]:
        items = voice["utterances"]
        assert len(items) == 2 and items[0]["text"] != items[1]["text"]
        assert voice["model"] == pytest.approx(np.mean([x["model"] for x in items]))
        for x in items:  # the output against the entry's own clip, not the reference
            entry = next(e for e in pool if e.text == x["text"] and e.speaker == voice["speaker"])
            assert x["reference"] != str(entry.audio)
        assert voice["model_vs_clip"] == pytest.approx(np.mean([x["model_vs_clip"] for x in items]))
        assert voice["same_voice"] == pytest.approx(np.mean([x["same_voice"] for x in items]))
    assert result["model"] == pytest.approx(np.mean([v["model"] for v in result["voices"]]))
    assert "| model vs reference | model vs another clip |" in ev.markdown_report({"sim": result})
    with pytest.raises(ConfigError, match="utterances"):
        ev.evaluate_similarity(synth, pool, pool, encoder, utterances=0)
    cross = result["cross_lingual"]
    assert cross["source"] == "ja" and set(cross["per_language"]) == {"en", "ko", "vi", "de"}


def test_second_judge_scores_the_same_outputs(synth, pool, encoder):
    """Each judge scores one set of outputs: synthesis runs once whatever the number of judges,
    Resemblyzer as a second judge repeats the first's figures, and another encoder's figures
    come under its name, with a table of their own."""
    import torch

    from tts.speakers.ecapa import EcapaConfig, EcapaTdnn
    from tts.speakers.features import MelConfig
    from tts.speakers.speaker_encoder import EcapaEncoder

    calls = []

    class Counting:
        def __init__(self, inner) -> None:
            self.inner = inner

        def synthesize(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(args[0])
            return self.inner.synthesize(*args, **kwargs)

    torch.manual_seed(0)
    ecapa = EcapaEncoder(EcapaTdnn(EcapaConfig(mel=MelConfig(n_mels=40), channels=64, scale=4,
                                               se_channels=16, attention_channels=32)).eval())  # fmt: skip
    judges = {"again": encoder, "ecapa-tiny": ecapa}
    result = ev.evaluate_similarity(
        Counting(synth), pool, pool, encoder, utterances=1, judges=judges
    )
    n_alone = len(calls)
    ev.evaluate_similarity(Counting(synth), pool, pool, encoder, utterances=1)
    assert n_alone == len(calls) - n_alone == 2 + 4  # 2 voices, 4 cross-lingual languages
    again = result["judges"]["again"]
    for key in ("model", "model_vs_clip", "same_voice", "different_voice"):
        assert again[key] == pytest.approx(result[key], abs=1e-6)
        assert -1.0 <= result["judges"]["ecapa-tiny"][key] <= 1.0
    assert again["cross_lingual"]["mean"] == pytest.approx(result["cross_lingual"]["mean"])
    assert set(again["per_voice"]) == {v["speaker"] for v in result["voices"]}
    tiny = result["judges"]["ecapa-tiny"]
    assert tiny["model"] != pytest.approx(result["model"], abs=1e-3)  # another model's view
    report = ev.markdown_report({"sim": result})
    assert "judged by `ecapa-tiny` (`--sim-judge`)" in report
    assert f"| {format_value(tiny['model'])} | {format_value(tiny['model_vs_clip'])} |" in report


def test_committed_judge_never_heard_the_held_out_voices(pool):
    """docs/eval/ecapa-judge, the second similarity judge of `proof_model.sh eval`: trained on
    none of the proof corpus's held-out voices (its config lists the voices it trained on) and
    telling two voices apart on real clips."""
    from tts.speakers import load_speaker_encoder
    from tts.speakers.speaker_encoder import EcapaEncoder

    folder = Path(__file__).parents[2] / "docs" / "eval" / "ecapa-judge"
    held_out = {"openjtalk-mei-a045", "espeak-en-us+m3", "espeak-ko+f4", "espeak-vi+f2",
                "espeak-de+m1", "kokoro-jf_gongitsune"}  # fmt: skip
    config = json.loads((folder / "config.json").read_text())
    assert len(config["speakers"]) == 29 and not held_out & set(config["speakers"])
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics["unseen_voices"]["speakers"]) == held_out
    judge = load_speaker_encoder(folder)
    assert isinstance(judge, EcapaEncoder)
    clips = {e.speaker: [] for e in pool}
    for e in pool:
        clips[e.speaker].append(ev.load_entry(e))
    (a1, a2), (b1, b2) = clips.values()
    same = [ev.clip_similarity(judge, a1, a2), ev.clip_similarity(judge, b1, b2)]
    different = [ev.clip_similarity(judge, a1, b1), ev.clip_similarity(judge, a2, b2)]
    assert min(same) > max(different) + 0.2, (same, different)


@pytest.fixture(scope="module")
def neutral_clip():
    import pyopenjtalk

    wav, sr = pyopenjtalk.tts("今日はとてもいい天気ですね。公園まで散歩に行きましょう。")
    return (wav / 32768.0).astype(np.float32), int(sr)


@pytest.mark.parametrize("emotion", ["happy", "sad", "angry"])
def test_emotion_analysis_on_controlled_prosody(neutral_clip, emotion):
    wav, sr = neutral_clip
    neutral = ev.prosody_features(wav, sr, n_phonemes=40)
    by_intensity = {
        i: ev.prosody_features(apply_emotion(wav, sr, emotion, i)[0], sr, 40)
        for i in (0.0, 0.5, 1.0)
    }
    report = ev.analyse_emotion_shifts(neutral, by_intensity, emotion)
    assert report["monotonic"] and report["correct_direction"], report
    assert abs(report["shifts"]["f0_mean_st"][0]) < 0.1  # intensity 0 is neutral
    # the same clips labelled as the opposite emotion go the wrong way
    opposite = {"happy": "sad", "sad": "happy", "angry": "calm"}[emotion]
    assert not ev.analyse_emotion_shifts(neutral, by_intensity, opposite)["correct_direction"]
    # reversed intensity labels are not monotonic
    reversed_ = {1.0 - i: f for i, f in by_intensity.items()}
    assert not ev.analyse_emotion_shifts(neutral, reversed_, emotion)["monotonic"]


def test_an_emotion_that_loses_the_voice_fails_its_f0_checks():
    # Neutral speech has F0; sad at full intensity came out unvoiced (no F0 measurable):
    # that is a failure of the label, not a check to skip.
    def rate(sec):
        return {"sec_per_phoneme": sec, "articulation_sec_per_phoneme": sec - 0.01}

    neutral = {"f0_mean_st": 13.0, "f0_range_st": 1.0, "energy_db": -25.0, **rate(0.06)}
    half = {"f0_mean_st": 12.0, "f0_range_st": 0.8, "energy_db": -28.0, **rate(0.07)}
    lost = {"f0_mean_st": None, "f0_range_st": None, "energy_db": -31.0, **rate(0.08)}
    report = ev.analyse_emotion_shifts(neutral, {0.0: neutral, 0.5: half, 1.0: lost}, "sad")
    assert report["checks"]["f0_mean_st"]["correct_direction"] is False
    assert report["checks"]["energy_db"]["correct_direction"] is True
    assert not report["correct_direction"] and not report["monotonic"]
    # with F0 kept, the same shifts pass
    kept = dict(lost, f0_mean_st=11.0, f0_range_st=0.6)
    report = ev.analyse_emotion_shifts(neutral, {0.0: neutral, 0.5: half, 1.0: kept}, "sad")
    assert report["correct_direction"] and report["monotonic"], report
    # no F0 in the neutral speech either: nothing to judge the F0 by
    unvoiced = dict(neutral, f0_mean_st=None, f0_range_st=None)
    report = ev.analyse_emotion_shifts(unvoiced, {0.0: unvoiced, 1.0: lost}, "sad")
    assert report["checks"]["f0_mean_st"]["correct_direction"] is None


def test_whisper_has_no_f0_direction():
    d = ev.expected_directions("whisper")
    assert d["f0_mean_st"] == 0 and d["energy_db"] == -1 and d["duration_pct"] == 1
    assert d["articulation_pct"] == 1


def test_a_pause_adds_duration_but_no_articulation_time(neutral_clip):
    wav, sr = neutral_clip
    plain = ev.prosody_features(wav, sr, n_phonemes=40)
    # 0.6 s of silence in the middle of a word (at the loudest 10 ms, inside the speech)
    frames = wav[: wav.size // 160 * 160].reshape(-1, 160)
    cut = int(np.argmax((frames**2).sum(axis=1))) * 160
    paused = np.concatenate([wav[:cut], np.zeros(int(0.6 * sr), np.float32), wav[cut:]])
    longer = ev.prosody_features(paused, sr, n_phonemes=40)
    assert longer["pause_seconds"] - plain["pause_seconds"] == pytest.approx(0.6, abs=0.03)
    assert longer["sec_per_phoneme"] * 40 - plain["sec_per_phoneme"] * 40 == pytest.approx(
        0.6, abs=0.02
    )
    assert longer["articulation_sec_per_phoneme"] == pytest.approx(
        plain["articulation_sec_per_phoneme"], rel=0.02
    )
    # A quiet stretch shorter than PAUSE_S is speech (a stop closure), not a pause.
    gap = int(0.5 * ev.PAUSE_S * sr)
    short = np.concatenate([wav[:cut], np.zeros(gap, np.float32), wav[cut:]])
    assert ev.prosody_features(short, sr, 40)["pause_seconds"] == pytest.approx(
        plain["pause_seconds"], abs=0.01
    )


def test_the_rate_is_judged_without_pauses():
    # Slower articulation at each intensity, but fewer pauses at 0.5: the duration with
    # pauses dips (reported), the articulation time grows (judged).
    def features(sec, articulation, energy):
        return {"f0_mean_st": None, "f0_range_st": None, "energy_db": energy,
                "sec_per_phoneme": sec, "articulation_sec_per_phoneme": articulation}  # fmt: skip

    neutral = features(0.080, 0.060, -25.0)
    whisper = {0.0: neutral, 0.5: features(0.077, 0.061, -28.0), 1.0: features(0.082, 0.063, -31.0)}
    report = ev.analyse_emotion_shifts(neutral, whisper, "whisper")
    assert report["shifts"]["duration_pct"][1] == pytest.approx(-3.75)
    assert report["checks"]["duration_pct"]["monotonic"] is None  # reported, not judged
    assert report["checks"]["articulation_pct"] == {
        "direction": 1, "monotonic": True, "correct_direction": True
    }  # fmt: skip
    assert report["monotonic"] and report["correct_direction"]
    # Articulation that speeds up fails, whatever the pauses do.
    faster = {**whisper, 1.0: features(0.090, 0.058, -31.0)}
    assert not ev.analyse_emotion_shifts(neutral, faster, "whisper")["correct_direction"]


def test_evaluate_emotion_with_model(synth):
    result = ev.evaluate_emotion(synth, "こんにちは。", "ja", None, ["sad"], (0.0, 1.0), seed=1)
    sad = result["emotions"]["sad"]
    assert sad["intensities"] == [0.0, 1.0]
    assert len(sad["shifts"]["energy_db"]) == 2 and all(
        np.isfinite(v) for v in sad["shifts"]["energy_db"]
    )
    assert isinstance(sad["monotonic"], bool)
    assert "| sad |" in ev.markdown_report({"emotion": result})


def test_emotion_is_measured_on_held_out_voices(manifest_path, synth, monkeypatch):

    pool = read_manifest(manifest_path)
    picked = ev.emotion_references(pool, "ja", ["test"], 2)
    assert [e.speaker for e in picked] == ["pyopenjtalk-mei", "pyopenjtalk-mei-high"]
    for entry in picked:  # the longest clip of each voice
        assert entry.duration == max(e.duration for e in pool if e.speaker == entry.speaker)
    assert len(ev.emotion_references(pool, "ja", ["test"], 1)) == 1
    # No held-out speaker in the splits: the first neutral clip of the language, as before.
    assert ev.emotion_references(pool, "ja", ["valid"], 2) == [pool[0]]
    assert ev.emotion_references(pool, "en", ["test"], 2) == []
    with pytest.raises(ConfigError, match="at least one voice"):
        ev.emotion_references(pool, "ja", ["test"], 0)
    # Every condition uses every voice, and an explicit pitch range reaches the synthesizer.
    calls = []
    real = synth.synthesize

    def recording(text, **kwargs):
        calls.append((kwargs["reference"][0].shape, kwargs.get("pitch_range", "unset")))
        return real(text, **{k: v for k, v in kwargs.items() if k != "pitch_range"})

    monkeypatch.setattr(synth, "synthesize", recording)
    result = ev.run_evaluation(
        synth, manifest_path, only=["emotion"], languages=["ja"], emotions=["sad"],
        intensities=(0.0, 1.0), emotion_texts=1, emotion_seeds=1, pitch_range=1.0,
    )  # fmt: skip
    emotion = result["emotion"]
    assert emotion["reference_voices"] == ["pyopenjtalk-mei", "pyopenjtalk-mei-high"]
    assert emotion["voices"] == 2 and emotion["pitch_range"] == 1.0
    assert len(calls) == 3 * 2 and {c[1] for c in calls} == {1.0}
    assert len({c[0] for c in calls}) == 2  # two different reference clips
    report = ev.markdown_report(result)
    assert "mean of 2 utterances" in report and "pitch_range=1.0" in report
    assert "Voices: pyopenjtalk-mei, pyopenjtalk-mei-high." in report


def test_emotion_features_are_averaged_over_texts_and_seeds(synth, monkeypatch):
    """Every condition is the mean of the same texts x seeds; the report says how many."""
    calls = []
    real = synth.synthesize

    def counting(text, **kwargs):
        calls.append((text, kwargs["seed"], kwargs["emotion"], kwargs["intensity"]))
        return real(text, **kwargs)

    monkeypatch.setattr(synth, "synthesize", counting)
    texts = ["こんにちは。", "さようなら。"]
    result = ev.evaluate_emotion(synth, texts, "ja", None, ["sad"], (0.0, 1.0), seed=3, seeds=2)
    assert len(calls) == 3 * 2 * 2  # neutral + 2 intensities, each 2 texts x 2 seeds
    conditions = {(e, i) for _, _, e, i in calls}
    for condition in conditions:
        assert sorted((t, s) for t, s, e, i in calls if (e, i) == condition) == sorted(
            (t, s) for t in texts for s in (3, 4)
        )
    assert result["texts"] == texts and result["seeds"] == 2
    assert "mean of 4 utterances" in ev.markdown_report({"emotion": result})
    a = {"f0_mean_st": 1.0, "energy_db": None, "sec_per_phoneme": 0.1}
    b = {"f0_mean_st": 3.0, "energy_db": None, "sec_per_phoneme": 0.3}
    assert ev.mean_features([a, b]) == {
        "f0_mean_st": 2.0,
        "energy_db": None,
        "sec_per_phoneme": 0.2,
    }


def test_speed_model_and_kokoro(synth):
    from tts.data.engines import engine_available

    result = ev.evaluate_speed(synth, ["こんにちは。"], "ja", None, seed=0)
    assert result["model"]["rtf"] > 0 and result["model"]["first_chunk_s"] > 0
    # the one-shot RTF split by stage: the stages add up to no more than the whole
    stages = result["model"]["stage_rtf"]
    assert stages["lm"] > 0 and stages["decode"] > 0 and stages["finish"] > 0
    assert sum(stages.values()) <= result["model"]["rtf"]
    if engine_available("kokoro"):
        kokoro = result["kokoro"]
        assert kokoro["rtf"] > 0 and kokoro["first_chunk_s"] > 0 and kokoro["audio_seconds"] > 0.3
    report = ev.markdown_report({"speed": result})
    assert "this model (RTF one-shot, first chunk streamed)" in report
    assert f"| token generation (all takes) | {stages['lm']:.3f} |" in report


def test_cli_writes_json_and_markdown(bundle_dir, manifest_path, tmp_path):
    out = tmp_path / "eval"
    argv = ["--model", str(bundle_dir), "--manifest", str(manifest_path), "--out", str(out)]
    argv += ["--only", "cer,sim", "--max-sentences", "1", "--languages", "ja"]
    readme = tmp_path / "README.md"
    readme.write_text(f"# Top\n\n{ev.README_START}\nold table\n{ev.README_END}\n\n## Next\n")
    argv += ["--readme", str(readme), "--sampling", "temperature=0.5,top_k=20"]
    argv += ["--lm-dtype", "int8"]
    from recipes.evaluate import main

    main(argv)
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# Top") and text.endswith("## Next\n")
    assert "| ja | 1 |" in text and "`tts eval --model " in text
    assert "\n#### Intelligibility" in text and "\n### Intelligibility" not in text
    results = json.loads((out / "results.json").read_text())
    assert set(results) >= {"config", "cer", "sim"}
    assert results["config"]["held_out"]["n"] == 1
    assert results["config"]["held_out"]["texts"] in text
    machine = results["config"]["machine"]
    assert machine["cpu"] and machine["torch"].startswith(torch_version())
    assert f"cpu {machine['cpu']}" in text
    assert results["config"]["sampling"]["temperature"] == 0.5
    assert results["config"]["sampling"]["top_k"] == 20
    assert results["config"]["lm_matmul_dtype"] == "int8"
    assert results["cer"]["per_language"]["ja"]["engine_cer"] < 0.3
    table = (out / "results.md").read_text()
    assert "| ja | 1 |" in table and "Voice similarity" in table


def torch_version() -> str:
    import torch

    return torch.__version__


def test_readme_without_markers_is_refused(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no markers here\n")
    with pytest.raises(ConfigError, match="markers"):
        ev.update_readme(readme, "| a |", "tts eval")
    assert readme.read_text() == "# no markers here\n"


def test_bad_options_raise_typed_errors(manifest_path):
    with pytest.raises(ConfigError, match="unknown measurement"):
        ev.run_evaluation(None, manifest_path, only=["mos"])
    with pytest.raises(ConfigError, match="model"):
        ev.run_evaluation(None, manifest_path, only=["speed"])
    with pytest.raises(ConfigError, match="manifest"):
        ev.run_evaluation(None, None, only=["cer"])


def test_speed_is_timed_before_whisper_has_run_in_the_process(manifest_path, synth, monkeypatch):
    """CTranslate2's OpenMP runtime, once run, slows torch's small two-thread operations for
    the rest of the process; speed must be measured before the CER judge loads."""
    import tts.eval.asr as asr

    order = []
    monkeypatch.setattr(ev, "evaluate_speed", lambda *a, **k: order.append("speed") or {})
    monkeypatch.setattr(asr, "load_whisper", lambda *a, **k: order.append("whisper"))
    monkeypatch.setattr(ev, "evaluate_intelligibility", lambda *a, **k: order.append("cer") or {})
    ev.run_evaluation(synth, manifest_path, only=["cer", "speed"], languages=["ja"])
    assert order == ["speed", "whisper", "cer"]


def test_codec_resynthesis_tells_a_decoder_that_reads_the_text_what_it_hears(pool) -> None:
    """A decoder that reads the text decodes the clip again with the phoneme frames heard in
    its first decoding, as synthesis does with its kept take; the report says so."""
    import dataclasses

    from tts.codecs.koe import KoeCodec
    from tts.codecs.model import tiny_config

    torch.manual_seed(0)
    config = dataclasses.replace(tiny_config(), decoder_kind="source_filter", n_phonemes=5)
    codec = KoeCodec.from_config(config)
    with torch.no_grad():
        codec.model.decoder.phoneme_embedding.weight.normal_(0.0, 0.5)
    wav, sr = ev.load_entry(pool[0])
    codes = codec.encode(torch.from_numpy(wav.astype(np.float32))[None], sr)
    first = codec.decode(codes)[0].numpy()
    heard = []

    def text_frames(audio: np.ndarray, n_frames: int) -> torch.Tensor:
        heard.append(audio)
        return torch.arange(2 * n_frames).reshape(1, 2, n_frames) % 5

    resynth = ev.codec_resynthesis(codec, wav, sr, text_frames=text_frames)
    (given,) = heard
    np.testing.assert_allclose(given, first, atol=1e-5)  # it heard the first decoding
    expected = codec.decode(codes, phonemes=text_frames(first, codes.shape[-1]))[0].numpy()
    np.testing.assert_allclose(resynth, expected, atol=1e-5)
    assert np.abs(resynth - first).max() > 1e-3
    # frames it cannot place: the first decoding; a decoder without the text is not asked
    none = ev.codec_resynthesis(codec, wav, sr, text_frames=lambda audio, n: None)
    np.testing.assert_allclose(none, first, atol=1e-5)
    plain = KoeCodec.from_config(tiny_config())
    asked = len(heard)
    ev.codec_resynthesis(plain, wav, sr, text_frames=text_frames)
    assert len(heard) == asked
    report = ev.markdown_report({"cer": {"per_language": {}, "items": [], "codec_units": True,
                                         "codec_text": True}})  # fmt: skip
    assert "| engine audio through the codec and its units, told the text |" in report
