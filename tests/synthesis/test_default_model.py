"""The shipped default model: it loads offline, and what it learned is audible to outside judges.

These tests run the real trained weights in tts/pretrained/default (no random models), so they
check learned behaviour: speech that stops by itself at a plausible length, that Whisper can
read, that sounds like the requested voice, and that follows the emotion label.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from tts.errors import ConfigError
from tts.generate import SamplingConfig
from tts.pretrained import DEFAULT_MODEL_DIR
from tts.synthesizer import Synthesizer
from tts.timing import STAGES


@pytest.fixture(scope="module")
def default_synth(monkeypatch_module) -> Synthesizer:
    return Synthesizer.from_pretrained(device="cpu")


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")  # the default must never reach for the network
    yield mp
    mp.undo()


def test_default_model_is_shipped_small_and_documented() -> None:
    files = {p.relative_to(DEFAULT_MODEL_DIR).as_posix() for p in DEFAULT_MODEL_DIR.rglob("*")}
    assert {"config.json", "model.safetensors", "codec/model.safetensors", "README.md"} <= files
    size = sum(p.stat().st_size for p in DEFAULT_MODEL_DIR.rglob("*") if p.is_file())
    assert 5e6 < size < 60e6  # tens of MB, as float16
    with safe_open(str(DEFAULT_MODEL_DIR / "model.safetensors"), "pt") as f:
        dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}  # noqa: SIM118
    assert "F16" in dtypes
    card = (DEFAULT_MODEL_DIR / "README.md").read_text(encoding="utf-8")
    for heading in (
        "## Training data",
        "## Measured",
        "## Limits",
        "## Intended use",
        "## Licence",
    ):
        assert heading in card
    assert "__" not in card  # every placeholder was filled with a measured figure
    config = json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())
    assert config["kind"] == "codec_lm" and config["pipeline"]["codec"] == "codec"


def test_from_pretrained_without_arguments_loads_it(default_synth: Synthesizer) -> None:
    assert default_synth.lm.num_params() > 5e6
    assert next(default_synth.lm.parameters()).dtype == torch.float32
    assert "default" in default_synth.voices and len(default_synth.voices) > 10


def test_the_shipped_decoder_reads_the_lms_semantic_units(
    default_synth: Synthesizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    codec = default_synth.codec
    assert default_synth.lm.config.n_semantic == 1 and codec.n_units == 500
    assert default_synth.semantic.config.n_clusters == 500
    seen: list = []
    features = codec.model.decoder.features
    monkeypatch.setattr(
        codec.model.decoder, "features", lambda latent, units=None, speaker=None, phonemes=None: (
            seen.append(units) or features(latent, units, speaker, phonemes)
        ),
    )  # fmt: skip
    default_synth.synthesize("Hello there.", language="en", seed=0, watermark=False)
    units = torch.cat([u.flatten() for u in seen])
    # real units (not the "no unit" entry 500), and more than a few different ones
    assert (units < 500).float().mean() > 0.95 and units.unique().numel() > 5


def test_the_shipped_decoder_says_the_phonemes_it_is_told(default_synth: Synthesizer) -> None:
    """v16's decoder also reads the text (`CodecConfig.n_phonemes`). The same codes and units
    of a held-out voice's clip, decoded with the phoneme frames of the sentence it says, are
    heard (by the mel reader) saying it more clearly than decoded with those of another sentence
    placed on the same audio, and the other way round: the text it is told moves what it says."""
    from tts.data.engines import all_voices, synthesize
    from tts.labels import LANGUAGES
    from tts.reader import read_ids

    synth, codec = default_synth, default_synth.codec
    assert codec.reads_phonemes == len(synth.frontend.inventory)
    said, other = "The weather is lovely today.", "My brother plays the piano."
    voice = next(v for v in all_voices() if v.speaker == "espeak-en-us+m3")  # held out
    wav, sr = synthesize(voice, said, "en")
    codes = codec.encode(torch.from_numpy(wav.astype(np.float32))[None], sr)
    units = synth.semantic.units(wav, sr, codes.shape[-1]).clamp(max=codec.n_units)
    codes = torch.cat([units.to(codes)[None, None], codes], dim=1)
    first = codec.decode(codes)[0].numpy()
    chunks = {text: synth.frontend.process(text, "en")[0] for text in (said, other)}
    told = {}
    for text, chunk in chunks.items():
        frames = synth.phoneme_frames(chunk, first, codes.shape[-1])
        assert frames is not None
        told[text] = codec.decode(codes, phonemes=frames)[0].numpy()

    def score(audio: np.ndarray, text: str) -> float:
        target = read_ids(chunks[text].ids, synth.frontend.inventory)
        heard = [synth.reader.log_mel(audio, codec.sample_rate)]
        return synth.reader.score(heard, target, LANGUAGES.index("en"))[0]

    # (CTC loss per phoneme; the codes still say most of it: the text moves it by tenths)
    assert score(told[said], said) < score(first, said) - 0.05  # clearer than untold
    assert score(told[said], said) < score(told[other], said) - 0.05
    assert score(told[other], other) < score(told[said], other) - 0.1


@pytest.mark.parametrize(
    ("language", "text"),
    [("en", "Hello there."), ("ja", "こんにちは。"), ("de", "Guten Morgen."),
     ("ko", "안녕하세요."), ("vi", "Xin chào.")],
)  # fmt: skip
def test_short_sentences_stop_by_themselves(
    default_synth: Synthesizer, language: str, text: str
) -> None:
    audio = default_synth.synthesize(text, language=language, seed=0, watermark=False)
    assert all(s.stopped for s in audio.segments)  # an end-of-speech token, not the cap
    assert 0.3 < audio.duration < 4.0
    rms = float(np.sqrt(np.mean(audio.wav**2)))
    assert np.isfinite(audio.wav).all() and rms > 1e-3


def test_main_job_command_writes_watermarked_speech(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    cmd = [sys.executable, "-m", "tts.cli", "synthesize", "--text", "Hello there."]
    subprocess.run([*cmd, "--language", "en", "--out", str(out)], check=True, timeout=300)
    from tts.audio import load_audio
    from tts.watermark import Watermarker

    wav, sr = load_audio(out)
    assert sr == default_sample_rate() and 0.3 < len(wav) / sr < 4.0
    assert Watermarker().detect(wav, sr) >= 0.5


def one_take(synth: Synthesizer) -> SamplingConfig:
    """The model's sampling with one take: with several, the reader hears each decoded take,
    so two calls that decode differently (another F0 range, tempo or gain) may keep different
    takes; these tests compare what the decoder does to the same LM output."""
    return replace(synth.config.sampling, candidates=1)


def default_sample_rate() -> int:
    return json.loads((DEFAULT_MODEL_DIR / "codec" / "config.json").read_text())["config"][
        "sample_rate"
    ]


def test_sad_speech_gets_the_flatter_intonation_of_its_label(default_synth: Synthesizer) -> None:
    # The shipped codec's source-filter decoder applies the emotion table's F0 range (sad x0.6)
    # to the F0 it predicts: the evaluator's F0 range (WORLD, std of voiced semitones) measures
    # the narrower range in the output itself.
    from tts.eval.evaluate import prosody_features

    assert default_synth.codec.controls_pitch
    text = "The rain kept falling on the empty street."
    kw = dict(language="en", seed=0, sampling=one_take(default_synth))
    spreads = []
    for pitch_range in (None, 1.0):
        audio = default_synth.synthesize(
            text, emotion="sad", pitch_range=pitch_range, watermark=False, **kw
        )
        spreads.append(prosody_features(audio.wav, audio.sample_rate, 1)["f0_range_st"])
    flattened, plain = spreads
    assert flattened < 0.8 * plain


def test_the_label_tops_the_lms_prosody_up_to_the_table(default_synth: Synthesizer) -> None:
    """The shipped bundle records what its LM does per emotion (recipes/calibrate_prosody.py);
    the synthesizer adds the rest at the decoder: the same LM output (same seed) comes out
    shifted, stretched and scaled by exactly what `prosody_for` says."""
    from tts.eval.evaluate import prosody_features

    measured = default_synth.config.lm_prosody
    assert set(measured) == {"happy", "sad", "angry", "surprised", "whisper", "calm"}
    # What the shipped LM (v7, v8) lacks on the calibration voices: mostly surprise's pitch level.
    assert default_synth.prosody_for("surprised", 1.0).f0_shift_st > 1.0
    assert default_synth.prosody_for("angry", 1.0).gain_db > 0.3
    text = "The rain kept falling on the empty street."
    for emotion in ("surprised", "angry"):
        extra = default_synth.prosody_for(emotion, 1.0)
        kw = dict(language="en", emotion=emotion, seed=0, watermark=False, pitch_range=1.0,
                  sampling=one_take(default_synth))  # fmt: skip
        lm_only = default_synth.synthesize(text, label_prosody=False, **kw)
        labelled = default_synth.synthesize(text, **kw)
        assert labelled.segments[0].n_frames == lm_only.segments[0].n_frames  # same LM output
        a, b = (prosody_features(x.wav, x.sample_rate, 40) for x in (lm_only, labelled))
        assert len(labelled.wav) / len(lm_only.wav) == pytest.approx(1 / extra.tempo, rel=0.02)
        assert b["f0_mean_st"] - a["f0_mean_st"] == pytest.approx(extra.f0_shift_st, abs=0.4)
        if extra.f0_shift_st == 0.0:  # (a higher F0 puts fewer harmonics under the envelope)
            assert b["energy_db"] - a["energy_db"] == pytest.approx(extra.gain_db, abs=0.3)


def test_the_strongest_intensity_stops_the_pitch_shift_at_the_decoders_limit(
    default_synth: Synthesizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At MAX_INTENSITY an uncalibrated bundle's label asks surprised for the table's 5 st x 4
    = 20 st; the shift stops at the decoder's +-12 st, as the F0 range stops at its limit,
    and the call speaks instead of failing inside the decoder. Past it, the intensity is
    refused by name."""
    from tts.codecs.source_filter import MAX_PITCH_SHIFT
    from tts.labels import MAX_INTENSITY

    monkeypatch.setattr(default_synth.config, "lm_prosody", {})  # the table in full
    assert default_synth.prosody_for("surprised", MAX_INTENSITY).f0_shift_st == MAX_PITCH_SHIFT
    assert default_synth.prosody_for("surprised", 1.0).f0_shift_st == pytest.approx(5.0)
    assert default_synth.prosody_for("sad", MAX_INTENSITY).f0_shift_st == pytest.approx(-10.0)
    kw = dict(language="en", seed=0, watermark=False, sampling=one_take(default_synth))
    audio = default_synth.synthesize("Really?", emotion="surprised", intensity=4.0, **kw)
    assert audio.duration > 0.2 and np.isfinite(audio.wav).all()
    with pytest.raises(ConfigError, match="intensity"):
        default_synth.synthesize("Really?", emotion="surprised", intensity=4.5, **kw)


def test_speed_is_the_decoders_tempo_with_melody_and_level_kept(
    default_synth: Synthesizer,
) -> None:
    from tts.eval.evaluate import prosody_features

    assert default_synth._tempo_split(0.9) == (0.9, 1.0)  # the decoder, not a phase vocoder
    assert default_synth._tempo_split(0.3) == (1.0, 0.3)  # beyond its range: stretched
    assert default_synth._tempo_split(2.5) == (1.0, 2.5)
    text = "The rain kept falling on the empty street."
    kw = dict(language="en", seed=0, sampling=one_take(default_synth))
    plain = default_synth.synthesize(text, watermark=False, **kw)
    slow = default_synth.synthesize(text, speed=0.9, watermark=False, **kw)
    a, b = (prosody_features(x.wav, x.sample_rate, 40) for x in (plain, slow))
    pause = int(default_synth.sample_rate * default_synth.config.pause_ms / 1000)
    assert (len(slow.wav) - pause) / (len(plain.wav) - pause) == pytest.approx(1 / 0.9, rel=0.01)
    assert b["f0_mean_st"] == pytest.approx(a["f0_mean_st"], abs=0.3)
    assert b["energy_db"] == pytest.approx(a["energy_db"], abs=0.5)


@pytest.mark.parametrize(
    ("voice", "language", "said", "other"),
    [("espeak-en-us+m3", "en", "The weather is lovely today.", "My brother plays the piano."),
     ("openjtalk-mei-a045", "ja", "今日はとても良い天気ですね。", "明日の会議は午後三時からです。")],
)  # fmt: skip
def test_the_shipped_reader_hears_which_sentence_a_held_out_voice_said(
    default_synth: Synthesizer, voice: str, language: str, said: str, other: str
) -> None:
    """The default model keeps the best of several takes by its mel reader; on real speech of
    a voice it never trained on (at the engine's own sample rate), the reader finds the
    sentence said far likelier than another one."""
    from tts.data.engines import all_voices, synthesize
    from tts.labels import LANGUAGES
    from tts.reader import read_ids

    reader = default_synth.reader
    assert reader is not None and reader.config.source == "mel"
    assert default_synth.config.sampling.candidates > 1
    wav, sr = synthesize(next(v for v in all_voices() if v.speaker == voice), said, language)
    heard = [reader.log_mel(wav, sr)]

    def score(text: str) -> float:
        ids = [i for chunk in default_synth.frontend.process(text, language) for i in chunk.ids]
        target = read_ids(ids, default_synth.frontend.inventory)
        return reader.score(heard, target, LANGUAGES.index(language))[0]

    right, wrong = score(said), score(other)  # CTC loss per phoneme (en ~0.4 / 8.3, ja ~1 / 7)
    assert wrong > 2 * right and wrong - right > 2.0


def test_synthesis_reports_the_takes_it_chose_from(default_synth: Synthesizer) -> None:
    start = time.perf_counter()
    audio = default_synth.synthesize("Where is the station?", language="en", seed=0)
    took = time.perf_counter() - start
    takes = default_synth.config.sampling.candidates
    assert all(s.takes == takes and s.reader_score is not None for s in audio.segments)
    # and where its time went: every stage it ran, within the call's own wall-clock time
    assert {"prepare", "lm", "decode", "read", "finish"} <= set(audio.timings) <= set(STAGES)
    assert all(t > 0 for t in audio.timings.values()) and sum(audio.timings.values()) <= took
    assert audio.timings["lm"] == max(audio.timings.values())  # the LM is most of the work


def test_the_voice_chooses_between_takes_the_reader_scores_alike(
    default_synth: Synthesizer,
) -> None:
    """The shipped model lets the voice choose among takes its reader scores alike; the
    reported cosine is that of the kept take, which is the audio returned."""
    sampling = default_synth.config.sampling
    assert sampling.candidates == 3 and sampling.voice_margin == pytest.approx(0.2)
    text = "Where is the station?"
    # every take that stopped competes, so the voice surely chooses here
    wide = replace(sampling, voice_margin=100.0)
    audio = default_synth.synthesize(text, language="en", seed=0, sampling=wide, watermark=False)
    (segment,) = audio.segments
    assert segment.voice_similarity is not None and audio.timings["voice"] > 0
    voice = torch.nn.functional.normalize(default_synth.voices["default"].float(), dim=0)
    heard = default_synth.speaker_encoder.embed(audio.wav, audio.sample_rate)
    # the returned audio is the take that was measured (the loudness step aside)
    assert float(heard @ voice) == pytest.approx(segment.voice_similarity, abs=0.02)
    alone = replace(sampling, voice_margin=0.0)
    plain = default_synth.synthesize(text, language="en", seed=0, sampling=alone, watermark=False)
    assert plain.segments[0].voice_similarity is None and "voice" not in plain.timings
    # the voice's pick is at least as close as the reader's
    heard_plain = default_synth.speaker_encoder.embed(plain.wav, plain.sample_rate)
    assert float(heard @ voice) >= float(heard_plain @ voice) - 0.02


def test_the_shipped_speaker_contrast_pushes_a_new_voice_away_from_the_training_voices(
    default_synth: Synthesizer,
) -> None:
    """Its mean is the training voices' (the stored voices are those voices), and a voice the
    LM never heard is conditioned further from that mean, still closest to itself."""
    from tts.data.engines import all_voices, synthesize

    contrast = default_synth.speaker_contrast
    assert contrast is not None and contrast.strength == 2.0
    cos = torch.nn.functional.cosine_similarity
    stored = torch.stack([v for k, v in default_synth.voices.items() if k != "default"])
    assert float(cos(stored.mean(0), contrast.mean, dim=0)) > 0.99
    voice = next(v for v in all_voices() if v.speaker == "espeak-en-us+m3")  # held out
    wav, sr = synthesize(voice, "The weather is lovely today, so we walked to the park.", "en")
    plain = default_synth.speaker_encoder.embed(wav, sr).float()
    pushed = default_synth.conditioning((wav, sr), "en").speaker[0]
    assert float(cos(pushed, contrast.mean, dim=0)) < float(cos(plain, contrast.mean, dim=0)) - 0.05
    assert float(cos(pushed, plain, dim=0)) > float(cos(pushed[None], stored).max())
