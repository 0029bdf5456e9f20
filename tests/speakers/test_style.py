"""Style encoder, emotion table, prosody features and build_conditioning."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tts.audio import resample
from tts.conditioning import SPEAKER_DIM, STYLE_DIM, Conditioning
from tts.data.prosody import EMOTION_PROSODY, apply_prosody
from tts.errors import ConfigError, UnsupportedLanguageError
from tts.labels import EMOTIONS, LANGUAGES, UnsupportedEmotionError
from tts.speakers.conditioning import EmotionTable, build_conditioning
from tts.speakers.embedding_cache import EmbeddingCache
from tts.speakers.features import PROSODY_FEATURES, prosody_features
from tts.speakers.reference import SAMPLE_RATE, load_reference
from tts.speakers.style_encoder import GradientReversal, StyleEncoder

from .conftest import emotion_cross_entropy

# ----------------------------------------------------------------------------- prosody


def test_prosody_features_follow_the_controlled_changes(voice_clips):
    wav, sr = voice_clips["en_f2"][1]
    base = resample(wav, sr, SAMPLE_RATE)  # the demo corpus edits at the encoders' rate
    feats = {
        emotion: dict(
            zip(
                PROSODY_FEATURES,
                prosody_features(apply_prosody(base, SAMPLE_RATE, params), SAMPLE_RATE),
                strict=True,
            )
        )
        for emotion, params in EMOTION_PROSODY.items()
    }
    assert (
        feats["happy"]["logf0_mean"] > feats["neutral"]["logf0_mean"] > feats["sad"]["logf0_mean"]
    )
    assert feats["happy"]["logf0_range"] > feats["sad"]["logf0_range"]
    assert feats["surprised"]["logf0_mean"] > feats["happy"]["logf0_mean"]
    assert feats["whisper"]["voiced_fraction"] < 0.2 < feats["neutral"]["voiced_fraction"]
    # Speaking faster packs more syllables into each second.
    assert feats["angry"]["onset_rate"] > feats["sad"]["onset_rate"]
    assert all(np.isfinite(list(f.values())).all() for f in feats.values())


# ----------------------------------------------------------------------------- encoder


def test_style_encoder_learns(trained_style):
    model, history, items, before = trained_style
    first = np.mean([h["emotion"] for h in history[:10]])
    last = np.mean([h["emotion"] for h in history[-10:]])
    assert last < 0.8 * first, (first, last)
    assert np.mean([h["task"] for h in history[-10:]]) < np.mean([h["task"] for h in history[:10]])
    assert all("speaker" in h for h in history)  # the adversary was trained too
    # Whole clips in eval mode: the emotion head reads them better than before training.
    after = emotion_cross_entropy(model, items)
    assert after < 0.85 * before, (before, after)


def test_style_encoder_output_and_round_trip(trained_style, tmp_path):
    model, _, items, _ = trained_style
    style = model.embed(items[0].wav, SAMPLE_RATE)
    assert style.shape == (STYLE_DIM,) and torch.isfinite(style).all()
    batch = model.embed_batch([items[0].wav, items[1].wav], SAMPLE_RATE)
    assert batch.shape == (2, STYLE_DIM)
    model.save(tmp_path / "style")
    loaded = StyleEncoder.load(tmp_path / "style")
    torch.testing.assert_close(loaded.embed(items[0].wav, SAMPLE_RATE), style)
    label, intensity = loaded.predict_emotion(style)
    assert label in EMOTIONS and intensity >= 0


def test_style_embeddings_are_cached(trained_style):
    model, _, items, _ = trained_style
    clip = load_reference(items[2].wav, sr=SAMPLE_RATE)
    cache = EmbeddingCache()
    a = model.embed_reference(clip, cache)
    b = model.embed_reference(clip, cache)
    assert torch.equal(a, b) and (cache.hits, cache.misses) == (1, 1)


def test_gradient_reversal_flips_and_scales_the_gradient():
    x = torch.randn(4, 3, requires_grad=True)
    y = GradientReversal.apply(x, 0.5)
    assert torch.equal(y, x)
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.full((4, 3), -0.5))


# ----------------------------------------------------------------------------- emotion table


@pytest.fixture(scope="module")
def table():
    torch.manual_seed(0)
    return EmotionTable(STYLE_DIM)


@settings(max_examples=40, deadline=None)
@given(emotion=st.sampled_from(EMOTIONS), a=st.floats(0, 3), b=st.floats(0, 3))
def test_emotion_table_is_linear_in_intensity(table, emotion, a, b):
    with torch.no_grad():
        neutral = table.vector("neutral", 1.0)
        zero = table.vector(emotion, 0.0)
        va, vb = table.vector(emotion, a), table.vector(emotion, b)
        full = table.vector(emotion, 1.0)
    torch.testing.assert_close(zero, neutral)  # intensity 0 is neutral for every label
    torch.testing.assert_close(full, table.embedding.weight[EMOTIONS.index(emotion)].detach())
    torch.testing.assert_close(va - neutral, a * (full - neutral), atol=1e-5, rtol=1e-5)
    if abs(a - b) > 1e-4 and emotion != "neutral":  # float32 cannot tell 0 from 1e-20
        # Distance from neutral grows with intensity (exaggeration beyond 1 included).
        assert ((va - neutral).norm() < (vb - neutral).norm()) == (a < b)


def test_emotion_table_rejects_bad_input(table):
    with pytest.raises(UnsupportedEmotionError):
        table.vector("furious", 1.0)
    for bad in (-0.1, math.nan, math.inf):
        with pytest.raises(ValueError, match="intensity"):
            table.vector("happy", bad)


def test_emotion_table_batched_forward_matches_vector(table):
    emotions = torch.arange(len(EMOTIONS))
    intensity = torch.linspace(0, 2, len(EMOTIONS))
    with torch.no_grad():
        batch = table(emotions, intensity)
        for i, e in enumerate(EMOTIONS):
            torch.testing.assert_close(batch[i], table.vector(e, float(intensity[i])))


# ----------------------------------------------------------------------------- conditioning


@pytest.fixture(scope="module")
def clip_a(voice_clips):
    return load_reference(*voice_clips["en_m3"][1])


@pytest.fixture(scope="module")
def clip_b(voice_clips):
    return load_reference(*voice_clips["ja_mei"][1])


def test_voice_from_a_style_from_b(ge2e, trained_style, clip_a, clip_b):
    style_encoder = trained_style[0]
    ab = build_conditioning(ge2e, style_encoder, voice=clip_a, language="en", style=clip_b)
    ba = build_conditioning(ge2e, style_encoder, voice=clip_b, language="ja-JP", style=clip_a)
    assert isinstance(ab, Conditioning) and ab.batch_size == 1
    assert ab.speaker.shape == (1, SPEAKER_DIM) and ab.style.shape == (1, STYLE_DIM)
    assert ab.emotion.shape == ab.intensity.shape == ab.language.shape == (1,)
    torch.testing.assert_close(ab.speaker[0], ge2e.embed(clip_a.wav, SAMPLE_RATE))
    torch.testing.assert_close(ab.style[0], style_encoder.embed(clip_b.wav, SAMPLE_RATE))
    torch.testing.assert_close(ba.speaker[0], ge2e.embed(clip_b.wav, SAMPLE_RATE))
    torch.testing.assert_close(ba.style[0], style_encoder.embed(clip_a.wav, SAMPLE_RATE))
    assert LANGUAGES[int(ab.language)] == "en" and LANGUAGES[int(ba.language)] == "ja"
    # Without labels, emotion and intensity are read from the style clip.
    label, intensity = style_encoder.predict_emotion(ab.style[0])
    assert EMOTIONS[int(ab.emotion)] == label
    assert float(ab.intensity) == pytest.approx(intensity)
    both = Conditioning.cat([ab, ba])
    assert both.speaker.shape == (2, SPEAKER_DIM) and both.style.shape == (2, STYLE_DIM)


def test_voice_from_clip_emotion_from_label(ge2e, trained_style, clip_a, voice_clips):
    style_encoder = trained_style[0]
    wav, sr = voice_clips["en_m3"][1]
    cond = build_conditioning(
        ge2e, style_encoder, voice=wav, sr=sr, language="EN", emotion="Sad", intensity=0.6
    )
    assert EMOTIONS[int(cond.emotion)] == "sad" and float(cond.intensity) == pytest.approx(0.6)
    with torch.no_grad():
        expected = style_encoder.emotion_table.vector("sad", 0.6)
    torch.testing.assert_close(cond.style[0], expected)
    torch.testing.assert_close(cond.speaker[0], ge2e.embed(clip_a.wav, SAMPLE_RATE))
    neutral = build_conditioning(ge2e, style_encoder, voice=clip_a, language="en", intensity=0.0)
    plain = build_conditioning(ge2e, None, voice=clip_a, language="de")
    assert plain.style is None and EMOTIONS[int(plain.emotion)] == "neutral"
    assert float(plain.intensity) == 1.0
    with torch.no_grad():
        torch.testing.assert_close(neutral.style[0], style_encoder.emotion_table.neutral)


def test_build_conditioning_validates(ge2e, trained_style, clip_a, clip_b):
    style_encoder = trained_style[0]
    with pytest.raises(UnsupportedLanguageError):
        build_conditioning(ge2e, style_encoder, voice=clip_a, language="fr")
    with pytest.raises(UnsupportedEmotionError):
        build_conditioning(ge2e, style_encoder, voice=clip_a, language="en", emotion="bored")
    for bad in (-1.0, math.nan, "high"):
        with pytest.raises(ConfigError, match="intensity"):
            build_conditioning(ge2e, style_encoder, voice=clip_a, language="en", intensity=bad)
    with pytest.raises(ConfigError, match="style encoder"):
        build_conditioning(ge2e, None, voice=clip_a, language="en", style=clip_b)
