"""Session-scoped synthetic clips and small models shared by the speaker tests.

Everything is synthesised offline (espeak-ng, pyopenjtalk, WORLD) once per session.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from tts.data.engines import synthesize
from tts.speakers.demo_corpus import DEMO_VOICES, SENTENCES, make_emotion_corpus
from tts.speakers.ecapa import EcapaConfig
from tts.speakers.features import MelConfig
from tts.speakers.style_encoder import StyleEncoderConfig

VOICES = {v.speaker: v for v in DEMO_VOICES}
# Clearly different voices: espeak male, espeak female (en and de), pyopenjtalk (ja).
DISTINCT_VOICES = ("en_m3", "en_f2", "de_f3", "ja_mei")


@pytest.fixture(scope="session", autouse=True)
def _quiet_and_single_threaded():
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message=".*pkg_resources.*")


@pytest.fixture(scope="session")
def voice_clips() -> dict[str, list[tuple[np.ndarray, int]]]:
    """Three different sentences per distinct voice, as (wav, sample rate)."""
    clips = {}
    for name in DISTINCT_VOICES:
        voice, language = VOICES[name], VOICES[name].languages[0]
        clips[name] = [synthesize(voice, SENTENCES[language][i], language) for i in range(3)]
    return clips


@pytest.fixture(scope="session")
def speech_16k(voice_clips) -> np.ndarray:
    """About 5 s of espeak speech at 16 kHz, the raw material of the property tests."""
    from tts.audio import resample

    wav, sr = voice_clips["en_m3"][0]
    return resample(wav, sr, 16_000)


@pytest.fixture(scope="session")
def ge2e():
    from tts.speakers.speaker_encoder import GE2EEncoder

    return GE2EEncoder()


@pytest.fixture(scope="session")
def emotion_manifest(tmp_path_factory):
    out = tmp_path_factory.mktemp("emotions")
    voices = (VOICES["en_m3"], VOICES["en_f2"], VOICES["ja_mei"])
    return make_emotion_corpus(out, voices=voices, intensities=(1.0,), sentences_per_voice=1)


def tiny_ecapa_config() -> EcapaConfig:
    return EcapaConfig(
        mel=MelConfig(n_mels=40),
        channels=64,
        scale=4,
        se_channels=16,
        attention_channels=32,
        embedding_dim=256,
    )


def tiny_style_config(n_speakers: int) -> StyleEncoderConfig:
    return StyleEncoderConfig(
        mel=MelConfig(n_mels=40),
        conv_channels=(16, 16, 32, 32),
        gru_size=64,
        n_tokens=6,
        token_dim=64,
        n_heads=2,
        prosody_hidden=32,
        n_speakers=n_speakers,
    )


@pytest.fixture(scope="session")
def trained_style(emotion_manifest):
    """A tiny style encoder trained briefly on the emotional variants, and its history."""
    from tts.data.manifest import read_manifest
    from tts.speakers.style_encoder import StyleEncoder
    from tts.speakers.training import load_utterances, train_style

    items, speakers = load_utterances(read_manifest(emotion_manifest), with_style=True)
    torch.manual_seed(0)
    model = StyleEncoder(tiny_style_config(len(speakers)))
    before = emotion_cross_entropy(model, items)
    history = train_style(model, items, steps=80, batch_size=12, lr=3e-3, seed=0)
    return model, history, items, before


def emotion_cross_entropy(model, items) -> float:
    """Eval-mode emotion loss of the style encoder over whole clips."""
    styles = model.embed_batch([u.wav for u in items], 16_000)
    with torch.no_grad():
        logits = model.emotion_head(styles)
    target = torch.tensor([u.emotion for u in items])
    return float(torch.nn.functional.cross_entropy(logits, target))
