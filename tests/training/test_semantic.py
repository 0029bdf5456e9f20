"""Semantic units (tts.semantic): k-means, pooling to codec frames, Whisper features, shard
sidecars, an LM that predicts them first, and its bundle."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tts.audio import load_audio, resample
from tts.data.shards import ShardDataset, add_semantic_units, read_index, semantic_name
from tts.errors import AudioInputError, CheckpointError, ConfigError, ManifestError
from tts.model import CodecLM
from tts.semantic import (
    SemanticConfig,
    SemanticTokenizer,
    WhisperEncoder,
    fit_kmeans,
    pool_states,
)
from tts.synthesizer import Synthesizer, stream_to_array
from tts.trainer import TrainConfig, add_semantic_streams, train


def test_kmeans_finds_well_separated_clusters() -> None:
    gen = torch.Generator().manual_seed(0)
    centres = torch.nn.functional.normalize(torch.randn(4, 16, generator=gen), dim=-1)
    labels = torch.arange(4).repeat_interleave(150)
    points = centres[labels] + 0.03 * torch.randn(600, 16, generator=gen)
    tokenizer = SemanticTokenizer(fit_kmeans(points, 4, seed=1), SemanticConfig(4, feature_dim=16))
    ids = tokenizer.assign(points)
    # every true cluster gets one id, and the four ids differ
    per_cluster = [set(ids[labels == k].tolist()) for k in range(4)]
    assert all(len(s) == 1 for s in per_cluster)
    assert len(set.union(*per_cluster)) == 4
    with pytest.raises(ConfigError, match="at least 8"):
        fit_kmeans(points[:5], 8)


def test_pooling_averages_encoder_frames_and_fits_the_codec_length() -> None:
    states = torch.arange(16, dtype=torch.float32).reshape(8, 2)  # 8 frames of 2 dims
    pooled = pool_states(states, 2, 5)
    assert pooled.shape == (5, 2)
    assert torch.equal(pooled[:4], states.reshape(4, 2, 2).mean(1))
    assert torch.equal(pooled[4], pooled[3])  # padded with the last frame
    assert torch.equal(pool_states(states, 2, 3), pooled[:3])  # trimmed
    assert pool_states(states[:1], 2, 2).shape == (2, 2)  # shorter than one pool


def test_config_and_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="frame rate"):
        SemanticConfig(frame_rate=24.0)  # 50 Hz is not a multiple
    with pytest.raises(ConfigError, match="n_clusters"):
        SemanticConfig(n_clusters=1)
    with pytest.raises(ConfigError, match="encoder"):
        SemanticConfig(encoder="hubert-base")
    with pytest.raises(ConfigError, match="centroids have shape"):
        SemanticTokenizer(torch.zeros(3, 512), SemanticConfig(n_clusters=4))
    tokenizer = SemanticTokenizer(torch.randn(4, 512), SemanticConfig(n_clusters=4))
    tokenizer.save(tmp_path / "t")
    again = SemanticTokenizer.load(tmp_path / "t")
    frames = torch.randn(20, 512)
    assert torch.equal(again.assign(frames), tokenizer.assign(frames))
    assert SemanticConfig(frame_rate=12.5).pool == 4


def test_whisper_states_follow_speech_at_50_hz(clips, encoder: WhisperEncoder) -> None:
    wav, sr = clips[0]
    states = encoder.states(wav, sr)
    seconds = wav.size / sr
    assert states.shape[1] == 512
    assert abs(states.shape[0] - 50 * seconds) <= 2
    assert torch.equal(states, encoder.states(wav, sr))  # deterministic
    # speech and silence give different states; a longer-than-30 s input is encoded in pieces
    silence = encoder.states(np.zeros(sr, dtype=np.float32), sr).mean(0)
    speech = states.mean(0)
    assert torch.nn.functional.cosine_similarity(silence, speech, dim=0) < 0.95
    long = np.tile(wav, int(35 / seconds) + 1)
    assert abs(encoder.states(long, sr).shape[0] - 50 * long.size / sr) <= 4
    with pytest.raises(AudioInputError, match="empty"):
        encoder.states(np.zeros(0, dtype=np.float32), sr)
    with pytest.raises(AudioInputError):
        encoder.states(np.full(sr, np.nan, dtype=np.float32), sr)


def test_units_change_with_the_speech(clips, tokenizer: SemanticTokenizer) -> None:
    wav, sr = clips[0]
    n_frames = round(wav.size / sr * 25)
    units = tokenizer.units(wav, sr, n_frames)
    assert units.shape == (n_frames,) and units.dtype == torch.long
    assert int(units.max()) < 8 and len(set(units.tolist())) >= 3
    # a run of the same unit rarely lasts the whole clip: speech moves between units
    assert (units[1:] != units[:-1]).sum() >= 3


def test_shard_sidecars_put_units_in_front_of_the_codes(
    tokens: Path, tokenizer: SemanticTokenizer, tmp_path: Path
) -> None:
    root = tmp_path / "tokens"
    shutil.copytree(tokens, root)
    with pytest.raises(ConfigError, match="no semantic units"):
        ShardDataset(root, semantic=True)
    tokenizer.save(tmp_path / "units")
    settings = add_semantic_units(root, tokenizer, str(tmp_path / "units"), progress=False)
    assert settings["done"] and settings["n_clusters"] == 8
    plain, with_units = ShardDataset(root), ShardDataset(root, semantic=True)
    for i in (0, len(plain) - 1):
        item, both = plain[i], with_units[i]
        assert torch.equal(both.codes[1:], item.codes)
        wav, sr = load_audio(
            json.loads(_meta(root, 0 if i == 0 else -1)["audio"])[0 if i == 0 else -1]
        )
        assert torch.equal(both.codes[0], tokenizer.units(wav, sr, item.codes.shape[1]))
    # rerunning resumes (finished sidecars are kept); another tokenizer is refused
    stamp = (root / semantic_name(0)).stat().st_mtime_ns
    add_semantic_units(root, tokenizer, str(tmp_path / "units"), progress=False)
    assert (root / semantic_name(0)).stat().st_mtime_ns == stamp
    other = SemanticTokenizer(tokenizer.centroids[:4].clone(), SemanticConfig(n_clusters=4))
    with pytest.raises(ConfigError, match="another tokenizer"):
        add_semantic_units(root, other, "elsewhere", progress=False)
    with pytest.raises(ConfigError, match="do not fit"):
        big = SemanticTokenizer(torch.randn(32, 512), SemanticConfig(n_clusters=32))
        add_semantic_units(tokens, big, "big", progress=False)


def _meta(root: Path, shard: int) -> dict:
    from safetensors import safe_open

    files = read_index(root)["shards"]
    with safe_open(str(root / files[shard]["file"]), framework="pt") as f:
        return f.metadata()


def test_adding_semantic_streams_keeps_the_trained_codebooks() -> None:
    from tts.model import LMConfig

    base_config = LMConfig.preset("tiny", vocab_size=40, codebook_size=16, n_codebooks=2)
    base = CodecLM(base_config)
    grown = CodecLM(LMConfig.preset("tiny", vocab_size=40, codebook_size=16, n_codebooks=3,
                                    n_semantic=1))  # fmt: skip
    state = add_semantic_streams(base.state_dict(), base_config, grown)
    grown.load_state_dict(state)
    assert torch.equal(grown.code_emb[1].weight, base.code_emb[0].weight)
    assert torch.equal(grown.heads[2].weight, base.heads[1].weight)
    assert torch.equal(grown.blocks[0].attn.qkv.weight, base.blocks[0].attn.qkv.weight)
    fresh = CodecLM(grown.config).state_dict()
    assert fresh["code_emb.0.weight"].shape == state["code_emb.0.weight"].shape
    with pytest.raises(ConfigError, match="n_semantic"):
        LMConfig.preset("tiny", n_codebooks=2, n_semantic=2)


def test_lm_with_units_trains_exports_and_speaks(
    base_run: dict, tokens: Path, tokenizer: SemanticTokenizer, tmp_path: Path
) -> None:
    """Continue the base run's LM with a unit stream in front: the unit stream is learnt,
    the bundle carries the tokenizer, and synthesis decodes only the codec's codebooks."""
    root = tmp_path / "tokens"
    shutil.copytree(tokens, root)
    tokenizer.save(tmp_path / "units")
    add_semantic_units(root, tokenizer, str((tmp_path / "units").resolve()), progress=False)
    k = read_index(root)["codec"]["n_codebooks"]
    cfg = TrainConfig(
        data=str(root), init_from=base_run["bundle"], model={"n_semantic": 1, "n_codebooks": k + 1},
        max_frames=400, max_steps=30, lr=3e-3, warmup_steps=2, log_every=1, eval_every=30,
        ckpt_every=30, seed=4, codebook_weights=(2.0,) + (1.0,) * k,
    )  # fmt: skip
    result = train(cfg, tmp_path / "run", progress=False)
    rows = result["history"]
    assert result["model"].config.n_semantic == 1
    # the unit stream starts near chance (log 16: fresh head) and is learnt
    assert rows[-1]["loss_cb0"] < 0.8 * rows[0]["loss_cb0"]
    synth = Synthesizer.from_pretrained(tmp_path / "run" / "bundle", device="cpu")
    assert synth.semantic is not None and synth.semantic.config.n_clusters == 8
    assert (tmp_path / "run" / "bundle" / "semantic" / "model.safetensors").is_file()
    audio = synth.synthesize("Good morning to you.", language="en", seed=3, watermark=False)
    frames = sum(s.n_frames for s in audio.segments)
    assert audio.wav.size == frames * synth.codec.samples_per_frame
    streamed = stream_to_array(
        synth.stream("Good morning to you.", language="en", seed=3, watermark=False)
    )
    np.testing.assert_allclose(streamed, audio.wav, atol=1e-4)
    with pytest.raises(ConfigError, match="codebook_weights"):
        train(TrainConfig(data=str(root), init_from=str(tmp_path / "run" / "bundle"),
                          codebook_weights=(1.0, 1.0), max_steps=1), tmp_path / "w",
              progress=False)  # fmt: skip
    with pytest.raises(ConfigError, match="no semantic units"):
        train(TrainConfig(data=str(tokens), init_from=str(tmp_path / "run" / "bundle"),
                          max_steps=1), tmp_path / "bad", progress=False)  # fmt: skip


def test_recipe_fits_from_a_manifest_then_labels_shards(
    corpus: Path, tokens: Path, tmp_path: Path
) -> None:
    from trainkit import load_script

    recipe = load_script("recipes/semantic_units.py")
    target = tmp_path / "units"
    args = ["--tokenizer", str(target), "--clusters", "8", "--fit-utterances", "12",
            "--threads", "1", "--no-progress"]  # fmt: skip
    assert recipe.main(["--fit-manifest", str(corpus), *args]) == {"tokenizer": str(target)}
    fitted = SemanticTokenizer.load(target)
    assert fitted.config.n_clusters == 8
    root = tmp_path / "tokens"
    shutil.copytree(tokens, root)
    settings = recipe.main(["--shards", str(root), *args])  # reuses the fitted tokenizer
    assert settings["source"] == str(target.resolve()) and settings["done"]
    item = ShardDataset(root, semantic=True)[0]
    assert int(item.codes[0].max()) < 8
    assert torch.equal(SemanticTokenizer.load(target).centroids, fitted.centroids)
    with pytest.raises(SystemExit):
        recipe.main(args)  # neither --shards nor --fit-manifest


def _trained_decoder(out: Path, codec_dir: Path, table: str):  # type: ignore[no-untyped-def]
    """The codec a decoder run left in `out`: only its decoder moved, `table` (a new decoder
    tensor that started at zero) among what trained."""
    from tts.codecs import load_codec

    codec, before = load_codec(out), load_codec(codec_dir)
    after = codec.model.state_dict()
    for name, value in before.model.state_dict().items():
        if not name.startswith("decoder."):
            assert torch.equal(after[name], value), name
    assert after[table].abs().sum() > 0
    return codec


def _record(codec, what: str) -> list:  # type: ignore[no-untyped-def]
    """Every `what` ("units" or "speaker") the codec's decoder is given from now on."""
    seen: list = []
    features = codec.model.decoder.features

    def record(latent, units=None, speaker=None, phonemes=None):  # type: ignore[no-untyped-def]
        seen.append({"units": units, "speaker": speaker}[what])
        return features(latent, units, speaker, phonemes)

    codec.model.decoder.features = record  # type: ignore[method-assign]
    return seen


def test_a_decoder_that_reads_units_trains_from_shards_and_synthesis_feeds_it(
    base_run: dict, tokens: Path, codec_dir: Path, tokenizer: SemanticTokenizer, tmp_path: Path
) -> None:
    """recipes/train_codec.py with units_from: crops of the shards' audio with their codes and
    units train a decoder (the encoder stays as it was), and a synthesizer whose LM predicts
    units hands them to that decoder."""
    from trainkit import decoder_args, load_script, shards_with_units, unit_lm

    from tts.codecs.data import ShardCrops

    root = shards_with_units(tokens, tokenizer, tmp_path)
    # crops: the audio, codes and units of the same frames
    crops = ShardCrops(root, 24_000, 960, crop_frames=6, splits=None, seed=1)
    for index in (0, 5):
        wav, codes, units = crops[index]
        k, start = crops.locate(index)
        item = crops.items[k]
        audio, sr = load_audio(crops.items.audio_path(k))
        expected = resample(audio, sr, 24_000)[start * 960 : (start + 6) * 960]
        np.testing.assert_array_equal(wav.numpy()[: len(expected)], expected)
        assert torch.equal(codes, item.codes[1:, start : start + 6])
        assert torch.equal(units, item.codes[0, start : start + 6])
    with pytest.raises(ManifestError, match="has 100000 frames"):
        ShardCrops(root, 24_000, 960, crop_frames=100_000)

    recipe = load_script("recipes/train_codec.py")
    args = decoder_args(root, codec_dir, tmp_path / "dec")
    with pytest.raises(ConfigError, match="model.n_units=8"):
        recipe.main([*args, "max_steps=1"])
    with pytest.raises(ConfigError, match="train_encoder=false"):
        recipe.main([*args, "model.n_units=8", "train_encoder=true", "max_steps=1"])
    with pytest.raises(ConfigError, match="no semantic units"):
        recipe.main([*args[:-1], f"units_from={tokens}", "model.n_units=8", "max_steps=1"])
    run = recipe.main([*args, "model.n_units=8", "unit_drop=0.25", "max_steps=12"])
    assert run["step"] == 12
    codec = _trained_decoder(tmp_path / "dec", codec_dir, "decoder.unit_embedding.weight")
    assert codec.n_units == 8
    frames = ShardDataset(root, semantic=True)[0].codes[None]
    assert (codec.decode(frames) - codec.decode(frames[:, 1:])).abs().max() > 0

    # an LM with a unit stream in front, and a synthesizer around it and the decoder above
    k = read_index(root)["codec"]["n_codebooks"]
    plain = unit_lm(base_run, root, tmp_path)
    parts = (plain.lm, codec, plain.frontend, plain.speaker_encoder, None, plain.voices)
    synth = Synthesizer(*parts, plain.config, plain.semantic)
    seen = _record(codec, "units")
    audio = synth.synthesize("Good morning to you.", language="en", seed=3, watermark=False)
    assert audio.wav.size and seen and all(u is not None for u in seen)
    assert all(int(u.max()) <= 8 for u in seen)  # 8 = "no unit" for any unit beyond the table
    lm_frames = torch.randint(0, 16, (k + 1, 5))
    lm_frames[0, 0] = 15  # beyond the tokenizer's 8 units
    fed = synth._codec_codes(lm_frames)
    assert fed.shape == (k + 1, 5) and fed[0, 0] == 8 and torch.equal(fed[1:], lm_frames[1:])
    other = SemanticTokenizer(tokenizer.centroids[:4].clone(), SemanticConfig(n_clusters=4))
    with pytest.raises(CheckpointError, match="reads 8 semantic units"):
        Synthesizer(*parts, plain.config, other)


def test_a_decoder_that_reads_the_speaker_trains_from_shards_and_synthesis_feeds_it(
    base_run: dict, tokens: Path, codec_dir: Path, tokenizer: SemanticTokenizer, tmp_path: Path
) -> None:
    """recipes/train_codec.py with model.speaker_dim: each crop comes with the embedding of
    another utterance of its voice, the decoder's speaker FiLM trains, and a synthesizer hands
    the decoder the reference clip's embedding (or, asked to, the LM's contrasted one)."""
    from trainkit import decoder_args, load_script, shards_with_units, unit_lm

    from tts.codecs import load_codec
    from tts.codecs.data import ShardCrops
    from tts.speakers.contrast import SpeakerContrast
    from tts.synthesizer import PipelineConfig

    root = shards_with_units(tokens, tokenizer, tmp_path)
    crops = ShardCrops(root, 24_000, 960, crop_frames=6, splits=None, seed=1, speakers=True)
    embeddings = ShardDataset(root).speaker_embeddings()
    assert embeddings.shape == (len(crops.items), 256)
    without = ShardCrops(root, 24_000, 960, crop_frames=6, splits=None, seed=1)
    for index in range(8):
        *crop, speaker = crops[index]
        assert len(crop) == 3  # the same audio, codes and units as without speakers
        for part, same in zip(crop, without[index], strict=True):
            assert torch.equal(part, same)
        k, _ = crops.locate(index)
        other = crops.other_utterance(index)
        assert other != k and crops.voices[other] == crops.voices[k]
        assert torch.equal(speaker, embeddings[other])

    recipe = load_script("recipes/train_codec.py")
    args = [*decoder_args(root, codec_dir, tmp_path / "dec"), "model.n_units=8"]
    with pytest.raises(ConfigError, match="model.speaker_dim=256"):
        recipe.main([*args, "model.speaker_dim=8", "max_steps=1"])
    with pytest.raises(ConfigError, match="speaker_dim > 0 needs units_from"):
        recipe.main(["--out", str(tmp_path / "x"), "--data", str(tmp_path),
                     "model.speaker_dim=256", "max_steps=1"])  # fmt: skip
    run = recipe.main([*args, "model.speaker_dim=256", "speaker_drop=0.25", "max_steps=12"])
    assert run["step"] == 12
    codec = _trained_decoder(tmp_path / "dec", codec_dir, "decoder.speaker_film.weight")
    assert codec.reads_speaker == 256
    frames = ShardDataset(root, semantic=True)[0].codes[None]
    assert (codec.decode(frames, speaker=embeddings[0]) - codec.decode(frames)).abs().max() > 0

    # train_only: the FiLM alone trains on top of that decoder; every other weight is kept
    film_args = [*decoder_args(root, tmp_path / "dec", tmp_path / "film"), "model.n_units=8",
                 "model.speaker_dim=256"]  # fmt: skip
    for bad in ("decoder.nope", "decoder.speaker_film,encoder.nope", " , "):
        with pytest.raises(ConfigError, match="train_only"):
            recipe.main([*film_args, f"train_only={bad}", "max_steps=1"])
    with pytest.raises(ConfigError, match="model.speaker_dim"):  # no FiLM in this model
        recipe.main([*film_args[:-1], "train_only=decoder.speaker_film", "max_steps=1"])
    recipe.main([*film_args, "train_only=decoder.speaker_film", "max_steps=4"])
    before = codec.model.state_dict()
    after = load_codec(tmp_path / "film").model.state_dict()
    assert set(after) == set(before)
    for name, value in before.items():
        moved = not torch.equal(after[name], value)
        assert moved == (name == "decoder.speaker_film.weight"), name

    # a synthesizer around a unit-predicting LM (as in the units test) and this decoder
    plain = unit_lm(base_run, root, tmp_path)
    parts = (plain.lm, codec, plain.frontend, plain.speaker_encoder, None, plain.voices)
    mean = torch.nn.functional.normalize(embeddings.mean(0), dim=0)
    contrast = SpeakerContrast(mean, strength=2.0)
    seen = _record(codec, "speaker")
    wav, sr = load_audio(json.loads(_meta(root, 0)["audio"])[0])
    clip_embedding = plain.conditioning((wav, sr), "en").speaker[0]  # no contrast: as made
    for choice, expected in (
        ("reference", clip_embedding),
        ("conditioning", contrast.apply(clip_embedding[None])[0]),
    ):
        config = dataclasses.replace(plain.config, decoder_speaker=choice)
        synth = Synthesizer(*parts, config, plain.semantic, speaker_contrast=contrast)
        seen.clear()
        audio = synth.synthesize(
            "Good morning.", reference=(wav, sr), language="en", seed=3, watermark=False
        )
        assert audio.wav.size and seen
        for speaker in seen:
            torch.testing.assert_close(speaker.reshape(-1), expected.reshape(-1).float())
        seen.clear()
        streamed = list(synth.stream("Good morning.", reference=(wav, sr), language="en",
                                     seed=3, watermark=False))  # fmt: skip
        assert streamed and seen
        torch.testing.assert_close(seen[-1].reshape(-1), expected.reshape(-1).float())
        # what `tts eval` decodes the engines' clips with, for the codec-alone column
        torch.testing.assert_close(synth.decoder_speaker((wav, sr), "en"), expected.float())
    # a stored voice: its own embedding
    synth = Synthesizer(*parts, plain.config, plain.semantic)
    name = next(iter(plain.voices))
    seen.clear()
    synth.synthesize("Good morning.", reference=name, language="en", seed=3, watermark=False)
    torch.testing.assert_close(seen[0].reshape(-1), plain.voices[name].reshape(-1).float())
    torch.testing.assert_close(synth.decoder_speaker(None, "en"), seen[0].reshape(-1))
    assert plain.decoder_speaker((wav, sr), "en") is None  # its codec reads no speaker
    with pytest.raises(ConfigError, match="decoder_speaker"):
        PipelineConfig(decoder_speaker="clip")
