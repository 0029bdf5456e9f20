import json
import logging
import shutil
import warnings

import numpy as np
import pytest
import torch

from tts.audio import load_audio
from tts.errors import (
    CheckpointError,
    ConfigError,
    ReferenceAudioError,
    TextError,
    UnsupportedLanguageError,
)
from tts.generate import MaxLengthWarning, SamplingConfig
from tts.labels import UnsupportedEmotionError
from tts.synthesizer import Synthesizer, stream_to_array
from tts.watermark import default_watermarker


def test_shapes_rate_and_segments(synth):
    audio = synth.synthesize(
        "Hello there. How are you today?", reference="default", language="en", seed=1
    )
    assert audio.sample_rate == synth.codec.sample_rate == 24000
    assert audio.wav.dtype == np.float32 and audio.wav.ndim == 1
    assert np.all(np.isfinite(audio.wav)) and np.max(np.abs(audio.wav)) <= 1.0
    assert [s.text for s in audio.segments] == ["Hello there.", "How are you today?"]
    frames = sum(s.n_frames for s in audio.segments)
    hop = synth.codec.samples_per_frame
    # two segments joined by one pause, minus nothing: all frames are in the output
    pause = int(24000 * synth.config.pause_ms / 1000)
    assert len(audio.wav) == frames * hop + pause


def test_reference_as_path_bytes_or_array_gives_the_same_voice(synth, reference_clip, tmp_path):
    from tts.audio import encode_audio_bytes, save_audio

    wav, sr = reference_clip
    save_audio(tmp_path / "ref.flac", wav, sr)
    kwargs = dict(language="ja", seed=3, watermark=False)
    from_file = synth.synthesize("こんにちは。", reference=tmp_path / "ref.flac", **kwargs)
    from_bytes = synth.synthesize(
        "こんにちは。", reference=encode_audio_bytes(wav, sr, "FLAC"), **kwargs
    )
    np.testing.assert_array_equal(from_file.wav, from_bytes.wav)
    from_gradio = synth.synthesize("こんにちは。", reference=(sr, wav), **kwargs)
    from_array = synth.synthesize("こんにちは。", reference=(wav, sr), **kwargs)
    np.testing.assert_array_equal(from_gradio.wav, from_array.wav)
    assert not np.array_equal(
        from_array.wav, synth.synthesize("こんにちは。", reference="default", **kwargs).wav
    )


def test_seed_makes_output_deterministic_and_different_seeds_differ(synth):
    kw = dict(language="de", watermark=False)
    a = synth.synthesize("Guten Morgen.", seed=7, **kw).wav
    b = synth.synthesize("Guten Morgen.", seed=7, **kw).wav
    c = synth.synthesize("Guten Morgen.", seed=8, **kw).wav
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


def test_batched_long_text_equals_unbatched(synth):
    text = " ".join(f"Sentence number {n}." for n in range(1, 6))
    batched = synth.synthesize(text, language="en", seed=11, watermark=False)
    old = synth.config.batch_size
    synth.config.batch_size = 1
    try:
        single = synth.synthesize(text, language="en", seed=11, watermark=False)
    finally:
        synth.config.batch_size = old
    np.testing.assert_array_equal(batched.wav, single.wav)
    assert len(batched.segments) == 5


def test_streaming_concatenates_to_the_one_shot_audio(synth):
    text = "Streaming works. It yields audio early."
    kw = dict(language="en", seed=5, watermark=False)
    one_shot = synth.synthesize(text, **kw).wav
    pieces = list(synth.stream(text, chunk_frames=4, min_chunk_ms=80, **kw))
    assert len(pieces) > 2
    streamed = stream_to_array(pieces)
    assert streamed.shape == one_shot.shape
    np.testing.assert_allclose(streamed, one_shot, atol=1e-4)


def test_classifier_free_guidance_path(synth):
    kw = dict(language="en", seed=2, watermark=False)
    plain = synth.synthesize("Guided speech.", sampling=SamplingConfig(temperature=0), **kw)
    same = synth.synthesize(
        "Guided speech.", sampling=SamplingConfig(temperature=0, cfg_scale=1.0), **kw
    )
    guided = synth.synthesize(
        "Guided speech.", sampling=SamplingConfig(temperature=0, cfg_scale=3.0), **kw
    )
    np.testing.assert_array_equal(plain.wav, same.wav)
    assert guided.wav.shape != plain.wav.shape or not np.array_equal(guided.wav, plain.wav)


def test_fifty_sentences_are_all_generated(synth):
    sentences = [f"This is sentence {n}." for n in range(50)]
    audio = synth.synthesize(" ".join(sentences), language="en", seed=0, watermark=False)
    assert len(audio.segments) == 50
    assert [s.text for s in audio.segments] == [f"This is sentence {w}." for w in _spelled(50)]
    assert all(s.n_frames > 0 for s in audio.segments)
    hop = synth.codec.samples_per_frame
    pause = int(24000 * synth.config.pause_ms / 1000)
    frames = sum(s.n_frames for s in audio.segments)
    assert len(audio.wav) == frames * hop + 49 * pause


def _spelled(n):
    from tts.text import normalize

    return [normalize(str(i), "en") for i in range(n)]


def test_emotion_and_style_change_the_conditioning(synth, reference_clip, other_clip):
    neutral = synth.conditioning("default", "en", "neutral", 1.0)
    happy = synth.conditioning("default", "en", "happy", 1.0)
    half = synth.conditioning("default", "en", "happy", 0.5)
    assert torch.equal(neutral.speaker, happy.speaker)
    assert not torch.allclose(neutral.style, happy.style)
    torch.testing.assert_close(half.style, (neutral.style + happy.style) / 2, atol=1e-5, rtol=0)
    # voice from clip A, style from clip B
    a = synth.conditioning(reference_clip, "ja")
    ab = synth.conditioning(reference_clip, "ja", style_reference=other_clip)
    torch.testing.assert_close(a.speaker, ab.speaker)
    assert not torch.allclose(a.style, ab.style)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(text=""), TextError, "empty"),
        (dict(text="   "), TextError, "empty"),
        (dict(text="Hi.", language="fr"), UnsupportedLanguageError, "ja, en"),
        (dict(text="Hi.", emotion="bored"), UnsupportedEmotionError, "neutral"),
        (dict(text="Hi.", intensity=-1.0), ConfigError, "intensity"),
        (dict(text="Hi.", emotion="happy", intensity=100.0), ConfigError, r"intensity.*\[0, 4\]"),
        (dict(text="Hi.", speed=5.0), ConfigError, "speed"),
        (
            dict(text="Hi.", reference=(np.zeros(48000, np.float32), 16000)),
            ReferenceAudioError,
            "speech",
        ),
        (
            dict(text="Hi.", reference=(np.full(48000, np.nan, np.float32), 16000)),
            ReferenceAudioError,
            "NaN",
        ),
        (dict(text="x" * 100_001), TextError, "100"),
    ],
)
def test_bad_input_gives_typed_errors(synth, kwargs, error, match):
    kwargs.setdefault("language", "en")
    with pytest.raises(error, match=match):
        synth.synthesize(**kwargs)


def test_every_output_path_is_watermarked(synth, tmp_path, caplog):
    marker = default_watermarker()
    audio = synth.synthesize("Watermarked by default.", language="en", seed=4)
    assert marker.detect(audio.wav, audio.sample_rate) > 0.5
    path = synth.synthesize_to_file(tmp_path / "o.wav", "Written to a file.", language="en")
    wav, sr = load_audio(path)
    assert marker.detect(wav, sr) > 0.5
    streamed = stream_to_array(synth.stream("Streamed speech is marked too.", language="en"))
    assert marker.detect(streamed, synth.sample_rate) > 0.5
    with caplog.at_level(logging.WARNING, logger="tts.watermark"):
        clean = synth.synthesize("No mark.", language="en", watermark=False)
    assert "DISABLED" in caplog.text
    assert marker.detect(clean.wav, clean.sample_rate) < 0.5


def test_speed_changes_duration(synth):
    kw = dict(language="en", seed=9, watermark=False)
    normal = synth.synthesize("Speed control.", **kw)
    fast = synth.synthesize("Speed control.", speed=1.5, **kw)
    assert len(fast.wav) == pytest.approx(len(normal.wav) / 1.5, rel=0.02)


def test_time_stretch_keeps_the_loudness_of_speech(reference_clip):
    """librosa's phase vocoder alone loses 3-4 dB on speech; `stretch` puts the level back."""
    import librosa

    from tts.eval.evaluate import prosody_features
    from tts.synthesizer import stretch

    wav, sr = reference_clip
    before = prosody_features(wav, sr, 30)
    for rate in (0.85, 1.1):
        plain = prosody_features(librosa.effects.time_stretch(wav, rate=rate), sr, 30)
        assert plain["energy_db"] < before["energy_db"] - 2.0  # the loss this guards against
        kept = prosody_features(stretch(wav, rate), sr, 30)
        assert kept["energy_db"] == pytest.approx(before["energy_db"], abs=0.5)
        assert kept["sec_per_phoneme"] / before["sec_per_phoneme"] == pytest.approx(
            1 / rate, rel=0.05
        )


def test_frame_cap_is_reported_not_silent(synth):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        audio = synth.synthesize("Capped.", language="en", seed=1, watermark=False)
    capped = [s for s in audio.segments if not s.stopped]
    assert capped, "a random tiny LM is expected to hit its cap"
    assert any(issubclass(w.category, MaxLengthWarning) for w in caught)


def test_bundle_errors(bundle_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(bundle_dir, broken)
    (broken / "inventory.json").unlink()
    with pytest.raises(CheckpointError, match="inventory"):
        Synthesizer.from_pretrained(broken)
    payload = json.loads((bundle_dir / "config.json").read_text())
    del payload["pipeline"]
    (broken / "config.json").write_text(json.dumps(payload))
    with pytest.raises(CheckpointError, match="pipeline"):
        Synthesizer.from_pretrained(broken)
    with pytest.raises(CheckpointError, match="neither a model directory nor a hub id"):
        Synthesizer.from_pretrained(tmp_path / "nope" / "deeper")


def test_hub_ids_resolve_from_the_local_cache_offline(bundle_dir, tmp_path):
    # the layout huggingface_hub's cache uses: models--org--name/{refs/main, snapshots/<rev>/}
    repo = tmp_path / "hub" / "models--koe--tiny-test"
    revision = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(bundle_dir, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    synth = Synthesizer.from_pretrained(
        "koe/tiny-test", cache_dir=tmp_path / "hub", local_files_only=True
    )
    assert synth.sample_rate == 24000
    with pytest.raises(CheckpointError, match="not in the local cache"):
        Synthesizer.from_pretrained(
            "koe/missing", cache_dir=tmp_path / "hub", local_files_only=True
        )


def test_cli_synthesize_and_stream(bundle_dir, tmp_path, capsys):
    from tts.cli import main

    out = tmp_path / "cli.wav"
    args = ["synthesize", "--model", str(bundle_dir), "--language", "ko", "--seed", "3"]
    assert main([*args, "--text", "안녕하세요. 3시에 만나요.", "--out", str(out)]) == 0
    wav, sr = load_audio(out)
    assert sr == 24000 and wav.size > 0
    err = capsys.readouterr().err
    assert "RTF" in err and "seconds by stage: prepare " in err and ", lm " in err
    assert default_watermarker().detect(wav, sr) > 0.5
    text_file = tmp_path / "t.txt"
    text_file.write_text("Xin chào. Bạn khỏe không?", encoding="utf-8")
    streamed = tmp_path / "stream.wav"
    vi = ["--language", "vi", "--text-file", str(text_file), "--out", str(streamed), "--stream"]
    assert main([*args[:3], *vi, "--emotion", "happy", "--intensity", "0.7"]) == 0
    assert "first chunk" in capsys.readouterr().err
    assert load_audio(streamed)[0].size > 0
    assert main([*args, "--text", "", "--out", str(out)]) == 1
    assert "empty" in capsys.readouterr().err


def test_cli_sampling_flags_override_only_what_is_given(bundle_dir, tmp_path, monkeypatch):
    import dataclasses

    from tts.cli import main
    from tts.generate import SamplingConfig

    base = SamplingConfig(temperature=0.8, unit_temperature=0.4, top_k=50, repetition_penalty=1.2)
    seen = []
    real_load = Synthesizer.from_pretrained

    def load(*args, **kwargs):
        synth = real_load(*args, **kwargs)
        synth.config.sampling = dataclasses.replace(base)
        real = synth.synthesize
        synth.synthesize = lambda text, **kw: seen.append(kw["sampling"]) or real(text, **kw)
        return synth

    monkeypatch.setattr(Synthesizer, "from_pretrained", staticmethod(load))
    args = ["synthesize", "--model", str(bundle_dir), "--text", "Hi.", "--out", str(tmp_path / "a.wav")]  # fmt: skip
    assert main(args) == 0
    assert seen[-1] is None  # nothing given: the model's own settings
    assert main([*args, "--unit-temperature", "0.1", "--top-p", "0.9"]) == 0
    assert seen[-1] == dataclasses.replace(base, unit_temperature=0.1, top_p=0.9)
    assert main([*args, "--speaker-guidance", "1.5"]) == 0
    assert seen[-1] == dataclasses.replace(base, speaker_guidance=1.5)
    assert main([*args, "--candidates", "3", "--voice-margin", "0.2"]) == 0
    assert seen[-1] == dataclasses.replace(base, candidates=3, voice_margin=0.2)
    assert main([*args, "--voice-margin", "-0.5"]) == 1
    assert main([*args, "--unit-temperature", "-1"]) == 1  # a clear config error, not a crash


def test_cli_lm_dtype_reaches_the_loaded_lm(bundle_dir, tmp_path, monkeypatch):
    """`tts synthesize --lm-dtype int8` loads the model with int8 products; without the
    flag the bundle's own choice stands."""
    from tts.cli import main
    from tts.model import Linear

    loaded = []
    real_load = Synthesizer.from_pretrained

    def load(*args, **kwargs):
        loaded.append(real_load(*args, **kwargs))
        return loaded[-1]

    monkeypatch.setattr(Synthesizer, "from_pretrained", staticmethod(load))
    args = ["synthesize", "--model", str(bundle_dir), "--text", "Hi.", "--out", str(tmp_path / "a.wav")]  # fmt: skip
    assert main([*args, "--lm-dtype", "int8"]) == 0
    assert main(args) == 0
    dtypes = [{m.matmul_dtype for m in s.lm.modules() if isinstance(m, Linear)} for s in loaded]
    assert dtypes == [{torch.int8}, {None}]
    assert (tmp_path / "a.wav").stat().st_size > 1000


def test_cli_can_turn_the_label_prosody_off(bundle_dir, tmp_path, monkeypatch):
    from tts.cli import main

    seen = []
    real_load = Synthesizer.from_pretrained

    def load(*args, **kwargs):
        synth = real_load(*args, **kwargs)
        real = synth.synthesize
        synth.synthesize = lambda text, **kw: seen.append(kw["label_prosody"]) or real(text, **kw)
        return synth

    monkeypatch.setattr(Synthesizer, "from_pretrained", staticmethod(load))
    args = ["synthesize", "--model", str(bundle_dir), "--text", "Hi.", "--emotion", "sad",
            "--out", str(tmp_path / "a.wav")]  # fmt: skip
    assert main(args) == 0 and main([*args, "--no-label-prosody"]) == 0
    assert seen == [True, False]


def test_thread_setting_holds_while_synthesizing_and_is_restored(bundle_dir, monkeypatch, tmp_path):
    """`threads` (or the bundle's cpu_threads) applies while the pipeline works, including
    between a stream's pieces, and the caller's torch setting is back whenever it has control."""
    import json as _json

    from tts.threads import torch_threads

    caller = torch.get_num_threads()
    wanted = 1 if caller > 1 else 2
    synth = Synthesizer.from_pretrained(bundle_dir, device="cpu", threads=wanted)
    assert synth.threads == wanted
    seen = []
    decode = synth.codec.decode

    def recording(codes):
        seen.append(torch.get_num_threads())
        return decode(codes)

    monkeypatch.setattr(synth.codec, "decode", recording)
    synth.synthesize("Good morning. See you soon.", language="en", seed=0, watermark=False)
    assert seen and set(seen) == {wanted} and torch.get_num_threads() == caller
    seen.clear()
    for _ in synth.stream("Good morning.", language="en", seed=0, watermark=False):
        assert torch.get_num_threads() == caller  # the consumer runs with its own setting
    assert set(seen) == {wanted} and torch.get_num_threads() == caller
    # A bundle's cpu_threads is the CPU default; an explicit value wins; it is checked.
    assert Synthesizer.from_pretrained(bundle_dir, device="cpu").threads is None
    copy = shutil.copytree(bundle_dir, tmp_path / "b")
    payload = _json.loads((copy / "config.json").read_text())
    payload["pipeline"]["cpu_threads"] = wanted
    (copy / "config.json").write_text(_json.dumps(payload))
    assert Synthesizer.from_pretrained(copy, device="cpu").threads == wanted
    assert Synthesizer.from_pretrained(copy, device="cpu", threads=caller).threads == caller
    with pytest.raises(ConfigError, match="threads"):
        Synthesizer.from_pretrained(bundle_dir, device="cpu", threads=0)
    with torch_threads(None):
        assert torch.get_num_threads() == caller


def test_pitch_range_needs_a_source_filter_codec(synth):
    # The random bundle's codec has an istft decoder: emotions are left to the LM there, and
    # an explicit range other than 1 is refused with the reason.
    assert synth.pitch_range_for("sad", 1.0) == 1.0
    with pytest.raises(ConfigError, match="source-filter"):
        synth.synthesize("Hi.", language="en", pitch_range=1.5)
    kw = dict(language="en", seed=4, watermark=False)
    np.testing.assert_array_equal(
        synth.synthesize("Hi.", pitch_range=1.0, **kw).wav, synth.synthesize("Hi.", **kw).wav
    )


def test_pitch_range_defaults_to_the_emotion_table_and_reaches_the_decoder():
    import dataclasses

    from tts.codecs.koe import KoeCodec
    from tts.synthesizer import random_synthesizer

    sf = random_synthesizer()
    sf.codec = KoeCodec.from_config(
        dataclasses.replace(sf.codec.config, decoder_kind="source_filter")
    )
    assert sf.pitch_range_for() == sf.pitch_range_for("neutral") == 1.0
    assert sf.pitch_range_for("sad") == pytest.approx(0.6)
    assert sf.pitch_range_for("sad", 0.5) == pytest.approx(0.8)  # linear in the intensity
    assert sf.pitch_range_for("surprised", 1.0) == pytest.approx(1.8)
    assert sf.pitch_range_for("surprised", 4.0) == 3.0  # exaggeration stops at the limit
    assert sf.pitch_range_for("sad", style_reference="clip.wav") == 1.0  # the clip sets style
    assert sf.pitch_range_for("sad", pitch_range=2.0) == 2.0  # explicit wins
    with pytest.raises(ConfigError, match="pitch range"):
        sf.synthesize("Hi.", language="en", pitch_range=float("inf"))
    kw = dict(language="en", emotion="sad", seed=3, watermark=False)
    table = sf.synthesize("Slow and low.", **kw).wav
    plain = sf.synthesize("Slow and low.", pitch_range=1.0, **kw).wav
    assert table.shape == plain.shape and not np.allclose(table, plain)
    streamed = stream_to_array(list(sf.stream("Slow and low.", **kw)))
    assert streamed.shape == table.shape


def test_the_synthesizer_filters_a_reference_voice_and_streams_the_same(reference_clip) -> None:
    import dataclasses

    from tts.speakers import load_reference
    from tts.speakers.timbre import TimbreConfig
    from tts.synthesizer import random_synthesizer

    base = random_synthesizer(style_encoder=False, seed=4)
    config = dataclasses.replace(base.config, timbre=TimbreConfig())
    synth = Synthesizer(base.lm, base.codec, base.frontend, base.speaker_encoder, None,
                        base.voices, config)  # fmt: skip
    kw = dict(language="ja", seed=3, watermark=False)
    text = "今日はいい天気です。散歩に行きましょう。"
    wav, sr = reference_clip
    plain = base.synthesize(text, reference=(wav, sr), **kw).wav
    filtered = synth.synthesize(text, reference=(wav, sr), **kw).wav
    made = synth.timbre_filter(load_reference((wav, sr)))
    assert made is synth.timbre_filter(load_reference((wav, sr)))  # computed once per clip
    assert np.max(np.abs(made.gain_db)) > 0.5  # a random codec colours a voice
    expected = made.apply(plain)
    expected /= max(1.0, float(np.max(np.abs(expected))))  # never clip (as synthesis does)
    np.testing.assert_allclose(filtered, expected, atol=1e-6)
    pieces = list(synth.stream(text, reference=(wav, sr), chunk_frames=4, min_chunk_ms=80, **kw))
    np.testing.assert_allclose(stream_to_array(pieces), filtered, atol=1e-4)
    # a stored voice has no clip to compare: no filter
    np.testing.assert_array_equal(synth.synthesize(text, **kw).wav, base.synthesize(text, **kw).wav)


def test_speaker_contrast_moves_cloned_voices_only_and_travels_with_the_bundle(
    reference_clip, other_clip, tmp_path
):
    from tts.speakers.contrast import SpeakerContrast
    from tts.synthesizer import random_synthesizer

    synth = random_synthesizer(style_encoder=False)
    plain = synth.conditioning(reference_clip, "ja").speaker
    other = synth.conditioning(other_clip, "ja").speaker
    mean = torch.nn.functional.normalize(plain + other, dim=-1)[0]  # "training voices"
    synth.speaker_contrast = SpeakerContrast(mean, strength=2.0)
    pushed = synth.conditioning(reference_clip, "ja").speaker
    torch.testing.assert_close(pushed, synth.speaker_contrast.apply(plain))
    cos = torch.nn.functional.cosine_similarity
    assert float(cos(pushed, mean[None])) < float(cos(plain, mean[None])) - 0.01
    # further from the other voice too, closer to this one than to it
    assert float(cos(pushed, other)) < float(cos(plain, other))
    assert float(cos(pushed, plain)) > float(cos(pushed, other))
    # a voice the bundle came with is one the LM was trained on: left as it is; a voice stored
    # later (the server's registered voices) is a cloned one
    assert torch.equal(synth.conditioning("default", "ja").speaker[0], synth.voices["default"])
    synth.voices["cloned"] = plain[0]
    torch.testing.assert_close(synth.conditioning("cloned", "ja").speaker, pushed)
    del synth.voices["cloned"]
    # per call: another strength, or none
    assert torch.equal(synth.conditioning(reference_clip, "ja", speaker_contrast=0).speaker, plain)
    torch.testing.assert_close(
        synth.conditioning(reference_clip, "ja", speaker_contrast=1.0).speaker,
        SpeakerContrast(mean, strength=1.0).apply(plain),
    )
    text = "今日は。"
    a = synth.synthesize(text, reference=reference_clip, language="ja", seed=3, watermark=False)
    b = synth.synthesize(text, reference=reference_clip, language="ja", seed=3, watermark=False,
                         speaker_contrast=0)  # fmt: skip
    contrast, synth.speaker_contrast = synth.speaker_contrast, None
    c = synth.synthesize(text, reference=reference_clip, language="ja", seed=3, watermark=False)
    synth.speaker_contrast = contrast
    assert np.array_equal(b.wav, c.wav) and not np.array_equal(a.wav, b.wav)
    # strength 0 turns it off
    synth.set_speaker_contrast(0)
    assert torch.equal(synth.conditioning(reference_clip, "ja").speaker, plain)
    synth.set_speaker_contrast(2)
    torch.testing.assert_close(synth.conditioning(reference_clip, "ja").speaker, pushed)
    with pytest.raises(ConfigError, match="strength must be finite"):
        synth.set_speaker_contrast(float("nan"))

    bundle = synth.save(tmp_path / "bundle")
    assert json.loads((bundle / "config.json").read_text())["pipeline"]["speaker_contrast"] == (
        "speaker_contrast"
    )
    loaded = Synthesizer.from_pretrained(bundle, device="cpu")
    assert loaded.speaker_contrast.strength == 2.0
    torch.testing.assert_close(loaded.conditioning(reference_clip, "ja").speaker, pushed)
    # a bundle without one conditions on the clip as it is
    synth.speaker_contrast = None
    plain_bundle = synth.save(tmp_path / "plain")
    assert Synthesizer.from_pretrained(plain_bundle, device="cpu").speaker_contrast is None
    assert not (plain_bundle / "speaker_contrast").exists()
    # a mean of another encoder's size is refused when the pipeline is built
    with pytest.raises(CheckpointError, match="speaker contrast's mean has 192 values"):
        Synthesizer(
            loaded.lm, loaded.codec, loaded.frontend, loaded.speaker_encoder,
            speaker_contrast=SpeakerContrast(torch.rand(192)),
        )  # fmt: skip


def test_cli_sets_the_speaker_contrast_strength(bundle_dir, tmp_path, monkeypatch, reference_clip):
    from tts.audio import save_audio
    from tts.cli import main
    from tts.speakers.contrast import SpeakerContrast

    seen = []
    real_load = Synthesizer.from_pretrained
    mean = torch.rand(256)

    def load(*args, **kwargs):
        synth = real_load(*args, **kwargs)
        if with_contrast:
            synth.speaker_contrast = SpeakerContrast(mean, strength=2.0)
        real = synth.synthesize
        synth.synthesize = lambda text, **kw: (
            seen.append(kw["speaker_contrast"]) or real(text, **kw)
        )
        return synth

    monkeypatch.setattr(Synthesizer, "from_pretrained", staticmethod(load))
    wav, sr = reference_clip
    save_audio(tmp_path / "ref.wav", wav, sr)
    args = ["synthesize", "--model", str(bundle_dir), "--text", "Hi.", "--reference",
            str(tmp_path / "ref.wav"), "--out", str(tmp_path / "a.wav")]  # fmt: skip
    with_contrast = True
    assert main(args) == 0 and main([*args, "--speaker-contrast", "0.5"]) == 0
    assert main([*args, "--speaker-contrast", "0"]) == 0
    assert seen == [None, 0.5, 0.0]  # None: the model's own strength
    assert main([*args, "--speaker-contrast", "-1"]) == 1  # a clear config error
    with_contrast = False  # a model without one: 0 is fine, anything else is an error
    assert main([*args, "--speaker-contrast", "0"]) == 0
    assert main([*args, "--speaker-contrast", "1"]) == 1
    assert seen == [None, 0.5, 0.0, -1.0, 0.0, 1.0]


@pytest.mark.parametrize("name, dtypes", [("bfloat16", {torch.bfloat16}), ("int8", {torch.int8})])
def test_bundle_can_ask_its_lm_to_multiply_in_another_dtype(bundle_dir, tmp_path, name, dtypes):
    """`lm_matmul_dtype` in a bundle's config.json reaches every linear layer of its LM; the
    synthesis still runs and returns audio; a dtype it cannot use is refused on loading."""
    import json as _json

    from tts.model import Linear

    copy = shutil.copytree(bundle_dir, tmp_path / "b")
    payload = _json.loads((copy / "config.json").read_text())
    payload["pipeline"]["lm_matmul_dtype"] = name
    (copy / "config.json").write_text(_json.dumps(payload))
    synth = Synthesizer.from_pretrained(copy, device="cpu")
    assert {m.matmul_dtype for m in synth.lm.modules() if isinstance(m, Linear)} == dtypes
    audio = synth.synthesize("Good morning.", language="en", seed=0, watermark=False)
    assert audio.wav.dtype == np.float32 and len(audio.wav) > 0 and np.isfinite(audio.wav).all()
    plain = Synthesizer.from_pretrained(bundle_dir, device="cpu")
    assert {m.matmul_dtype for m in plain.lm.modules() if isinstance(m, Linear)} == {None}
    payload["pipeline"]["lm_matmul_dtype"] = "int4"
    (copy / "config.json").write_text(_json.dumps(payload))
    with pytest.raises(ConfigError, match="lm_matmul_dtype"):
        Synthesizer.from_pretrained(copy, device="cpu")


def test_from_pretrained_can_override_the_bundles_lm_dtype(bundle_dir):
    """`from_pretrained(lm_matmul_dtype=...)` (CLI `--lm-dtype`) replaces the bundle's choice
    for this pipeline only: its config says so (and a saved copy would), the bundle on disk
    is untouched, and a name it cannot use is refused."""
    from tts.model import Linear

    synth = Synthesizer.from_pretrained(bundle_dir, device="cpu", lm_matmul_dtype="int8")
    assert synth.config.lm_matmul_dtype == "int8"
    assert {m.matmul_dtype for m in synth.lm.modules() if isinstance(m, Linear)} == {torch.int8}
    audio = synth.synthesize("Good morning.", language="en", seed=0, watermark=False)
    assert len(audio.wav) > 0 and np.isfinite(audio.wav).all()
    plain = Synthesizer.from_pretrained(bundle_dir, device="cpu")
    assert plain.config.lm_matmul_dtype is None
    with pytest.raises(ConfigError, match="lm_matmul_dtype"):
        Synthesizer.from_pretrained(bundle_dir, device="cpu", lm_matmul_dtype="float16")


def test_warm_up_loads_the_watermark_and_speaks_each_language_once(
    synth, reference_clip, monkeypatch
):
    """`warm_up` (what `tts serve` / `tts demo` run before listening) loads the watermark's
    network of a fresh process and speaks one short sentence in each language asked, in the
    voice asked; a language it does not know is refused before anything loads."""
    from tts import watermark

    monkeypatch.setattr(watermark, "_default", None)  # as in a fresh process
    spoken = []
    real = synth.synthesize

    def recording(text, **kwargs):
        spoken.append((kwargs["language"], text, kwargs["reference"] is None))
        return real(text, **kwargs)

    monkeypatch.setattr(synth, "synthesize", recording)
    with pytest.raises(UnsupportedLanguageError):
        synth.warm_up(["ja", "fr"])
    assert spoken == [] and watermark._default is None
    assert synth.warm_up(["ja", "de"]) > 0
    assert watermark._default is not None and watermark._default._net is not None
    assert spoken == [("ja", "こんにちは。", True), ("de", "Hallo.", True)]
    spoken.clear()
    synth.warm_up(["en"], reference=reference_clip)
    assert spoken == [("en", "Hello.", False)]


def test_warm_up_of_a_model_without_a_voice_warms_the_front_ends_only(synth, monkeypatch):
    import copy

    voiceless = copy.copy(synth)
    voiceless.voices = {}

    def refuse(*args, **kwargs):
        raise AssertionError("warm_up spoke without a voice")

    monkeypatch.setattr(voiceless, "synthesize", refuse)
    processed = []
    real = synth.frontend.process
    monkeypatch.setattr(
        synth.frontend, "process", lambda text, lang: processed.append(lang) or real(text, lang)
    )
    voiceless.warm_up(["ko", "vi"])
    assert processed == ["ko", "vi"]


def test_cli_help_states_the_pipelines_own_limits():
    """`tts synthesize --help` gives the speed and intensity ranges the pipeline enforces."""
    from tts.cli import build_parser
    from tts.labels import MAX_INTENSITY
    from tts.synthesizer import MAX_SPEED, MIN_SPEED

    synthesize = build_parser()._subparsers._group_actions[0].choices["synthesize"]
    helps = {a.dest: a.help for a in synthesize._actions}
    assert helps["speed"].startswith(f"{MIN_SPEED}..{MAX_SPEED}")
    assert f"up to {MAX_INTENSITY:g}" in helps["intensity"]
