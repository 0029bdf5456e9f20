"""Speaker encoders: GE2E (pretrained) separation and fidelity, ECAPA training and I/O."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tts.data.manifest import read_manifest
from tts.errors import AudioInputError, CheckpointError
from tts.speakers.ecapa import AAMSoftmax, EcapaTdnn
from tts.speakers.reference import SAMPLE_RATE, load_reference
from tts.speakers.speaker_encoder import (
    EcapaEncoder,
    GE2EEncoder,
    load_speaker_encoder,
    save_ecapa,
)
from tts.speakers.training import (
    SpeakerClip,
    load_utterances,
    read_speaker_corpus,
    separation,
    train_ecapa,
)

from .conftest import DISTINCT_VOICES, tiny_ecapa_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "recipes"))
import train_speaker_encoder


@pytest.fixture(scope="module")
def reference_clips(voice_clips):
    return {
        name: [load_reference(w, sr=sr) for w, sr in clips] for name, clips in voice_clips.items()
    }


def test_ge2e_separates_same_from_different_voices(ge2e, reference_clips):
    wavs, labels = [], []
    for i, name in enumerate(DISTINCT_VOICES):
        wavs += [c.wav for c in reference_clips[name]]
        labels += [i] * len(reference_clips[name])
    emb = ge2e.embed_batch(wavs, SAMPLE_RATE)
    assert emb.shape == (len(wavs), 256)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(len(wavs)))
    stats = separation(emb, labels)
    assert stats["same"] > stats["different"] + 0.2, stats
    assert stats["eer"] < 0.15, stats


def test_ge2e_matches_resemblyzer_reference_implementation(ge2e, reference_clips):
    from resemblyzer import VoiceEncoder

    wav = reference_clips["en_f2"][0].wav
    reference = VoiceEncoder(device="cpu", verbose=False).embed_utterance(wav)
    ours = ge2e.embed(wav, SAMPLE_RATE).numpy()
    assert float(np.dot(reference, ours)) > 0.9999


def test_ge2e_batch_equals_single_and_resamples(ge2e, voice_clips):
    wavs = [w for w, _ in voice_clips["ja_mei"][:2]]  # 48 kHz, different lengths
    sr = voice_clips["ja_mei"][0][1]
    batch = ge2e.embed_batch(wavs, sr)
    for i, w in enumerate(wavs):
        torch.testing.assert_close(batch[i], ge2e.embed(w, sr), atol=1e-5, rtol=0)
    assert ge2e.dim == 256 and batch.dtype == torch.float32


@pytest.mark.parametrize(
    "bad", [np.zeros(0, np.float32), np.full(16_000, np.nan, np.float32), np.zeros((2, 2, 9))]
)
def test_encoder_rejects_bad_input(ge2e, bad):
    with pytest.raises(AudioInputError):
        ge2e.embed(bad, SAMPLE_RATE)


def test_aam_margin_penalises_the_target_class():
    torch.manual_seed(0)
    emb, labels = torch.randn(8, 16), torch.arange(8) % 4
    with_margin = AAMSoftmax(16, 4, margin=0.3)
    without = AAMSoftmax(16, 4, margin=0.0)
    without.weight.data.copy_(with_margin.weight.data)
    assert with_margin(emb, labels)[0] > without(emb, labels)[0]


@pytest.fixture(scope="module")
def speaker_corpus(tmp_path_factory):
    from tts.speakers.demo_corpus import DEMO_VOICES, make_speaker_corpus

    out = tmp_path_factory.mktemp("speakers")
    make_speaker_corpus(out, voices=DEMO_VOICES, clips_per_speaker=3)
    return out


def test_ecapa_trains_and_round_trips(speaker_corpus, tmp_path):
    clips = read_speaker_corpus(speaker_corpus)  # folder-per-speaker form
    assert all(isinstance(c, SpeakerClip) for c in clips)
    # The canonical manifest written next to the folders lists the same clips and speakers.
    manifest = read_manifest(speaker_corpus / "manifest.jsonl", check_audio=True)
    assert read_speaker_corpus(speaker_corpus / "manifest.jsonl") == manifest
    assert sorted((e.audio, e.speaker) for e in manifest) == sorted(
        (c.audio.resolve(), c.speaker) for c in clips
    )
    assert {e.language for e in manifest} == {"en", "de", "ja"} and all(e.text for e in manifest)
    items, speakers = load_utterances(clips)
    assert len(speakers) == 6 and len(items) == 18
    torch.manual_seed(0)
    model = EcapaTdnn(tiny_ecapa_config())
    losses = train_ecapa(model, items, len(speakers), steps=40, batch_size=12, lr=3e-3)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5]), losses

    save_ecapa(model, tmp_path / "ecapa", speakers=speakers)
    loaded = load_speaker_encoder(tmp_path / "ecapa")
    assert isinstance(loaded, EcapaEncoder) and loaded.dim == 256
    original = EcapaEncoder(model)
    wavs = [items[0].wav, items[5].wav[: 3 * SAMPLE_RATE], items[11].wav]
    batch = loaded.embed_batch(wavs, SAMPLE_RATE)
    torch.testing.assert_close(batch, original.embed_batch(wavs, SAMPLE_RATE))
    assert loaded.identity == original.identity
    # A padded batch embeds each clip exactly as it would alone (masked convs and pooling).
    for i, w in enumerate(wavs):
        torch.testing.assert_close(batch[i], loaded.embed(w, SAMPLE_RATE), atol=1e-5, rtol=0)
    torch.testing.assert_close(batch.norm(dim=1), torch.ones(3))


def test_factory_defaults_to_resemblyzer_and_rejects_other_checkpoints(tmp_path):
    assert isinstance(load_speaker_encoder("resemblyzer"), GE2EEncoder)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_speaker_encoder(tmp_path / "nowhere")
    from tts.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "other", {"w": torch.zeros(2)}, "codec", {})
    with pytest.raises(CheckpointError, match="not a speaker encoder"):
        load_speaker_encoder(tmp_path / "other")


def test_judge_recipe_never_trains_on_held_out_voices(speaker_corpus, tmp_path):
    """A judge of held-out voices: --splits keeps the training voices' clips only, and
    --unseen-splits reports how well it tells apart the voices it never heard."""
    import dataclasses
    import json

    from tts.data.manifest import write_manifest
    from tts.errors import ManifestError

    entries = read_manifest(speaker_corpus / "manifest.jsonl")
    voices = sorted({e.speaker for e in entries})
    held_out = set(voices[-2:])
    split = [
        dataclasses.replace(
            e, extra={**e.extra, "split": "test" if e.speaker in held_out else "train"}
        )
        for e in entries
    ]
    manifest = write_manifest(tmp_path / "manifest.jsonl", split)

    kept = train_speaker_encoder.select_clips(split, ["train"], max_per_speaker=2)
    # the first two clips of each training voice, in corpus order
    first_two = [
        c for i, c in enumerate(split)
        if c.speaker not in held_out and [x.speaker for x in split[:i]].count(c.speaker) < 2
    ]  # fmt: skip
    assert kept == first_two and len(kept) == 2 * (len(voices) - len(held_out))
    with pytest.raises(ManifestError, match="no clips in the splits"):
        train_speaker_encoder.select_clips(split, ["valid"])
    with pytest.raises(ManifestError, match="needs a JSONL manifest"):
        train_speaker_encoder.select_clips(read_speaker_corpus(speaker_corpus), ["train"])

    tiny = ["mel.n_mels=40", "channels=64", "scale=4", "se_channels=16", "attention_channels=32"]
    out = tmp_path / "judge"
    args = [str(manifest), "--out", str(out), "--splits", "train", "--unseen-splits", "test",
            "--float16"]  # fmt: skip
    assert (
        train_speaker_encoder.main([*args, "--steps", "3", "--batch-size", "6", "--set", *tiny])
        == 0
    )
    config = json.loads((out / "config.json").read_text())
    assert sorted(config["speakers"]) == sorted(set(voices) - held_out)
    metrics = json.loads((out / "metrics.json").read_text())
    unseen = metrics["unseen_voices"]
    assert sorted(unseen["speakers"]) == sorted(held_out) and unseen["clips"] == 6
    for judge in ("ecapa", "resemblyzer"):
        assert 0.0 <= unseen[judge]["eer"] <= 1.0
        assert unseen[judge]["same"] <= 1.0 and unseen[judge]["different"] <= 1.0
    # scored by voice: Resemblyzer tells the two held-out voices (en_m3, ja_mei) apart
    assert unseen["resemblyzer"]["same"] > unseen["resemblyzer"]["different"] + 0.1, unseen
    from safetensors.torch import load_file

    weights = load_file(str(out / "model.safetensors"))
    assert weights["front.conv.weight"].dtype == torch.float16  # parameters halved ...
    assert weights["front.norm.running_mean"].dtype == torch.float32  # (buffers kept)
    judge = load_speaker_encoder(out)  # ... and loaded back as float32
    assert isinstance(judge, EcapaEncoder)
    assert all(p.dtype == torch.float32 for p in judge.model.parameters())
