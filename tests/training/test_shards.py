"""Tokenisation into shards: round trip against direct computation, resume, skips, sampler."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from tts.audio import load_audio
from tts.codecs import load_codec
from tts.data.manifest import read_manifest, write_manifest
from tts.data.shards import (
    FrameBucketSampler,
    ShardDataset,
    collate_lm,
    phoneme_ids,
    read_index,
    read_indexes,
    shard_name,
    tokenize_manifest,
)
from tts.errors import ConfigError
from tts.labels import EMOTIONS, LANGUAGES
from tts.text import SymbolInventory, TextFrontend


def shard_contents(path: Path) -> tuple[dict, dict]:
    with safe_open(str(path), framework="pt") as f:
        tensors = {k: f.get_tensor(k).tolist() for k in f.keys()}  # noqa: SIM118
        return tensors, f.metadata()


def test_shards_hold_exactly_what_direct_encoding_gives(
    corpus: Path, codec_dir: Path, tokens: Path, speaker_encoder
) -> None:  # type: ignore[no-untyped-def]
    index = read_index(tokens)
    entries = read_manifest(corpus)
    assert index["count"] == len(entries) == 20 and index["skipped"] == {}
    assert len(index["shards"]) == 3 and index["splits"] == {"train": 16, "valid": 4}
    assert index["codec"]["dtype"] == "int16" and index["codec"]["frame_rate"] == 25
    assert SymbolInventory.from_dict(index["inventory"]) == SymbolInventory.default()

    dataset = ShardDataset(tokens)
    codec = load_codec(codec_dir)
    frontend = TextFrontend()
    assert len(dataset) == len(entries)
    assert dataset.splits() == [e.extra.get("split", "train") for e in entries]
    for k in (0, 7, 8, 19):  # first and last items of shards
        item, entry = dataset[k], entries[k]
        wav, sr = load_audio(entry.audio)
        direct = codec.encode(torch.from_numpy(wav)[None], sr)[0]
        assert torch.equal(item.codes, direct)
        assert item.phonemes.tolist() == phoneme_ids(frontend, entry.text, entry.language)
        torch.testing.assert_close(item.speaker, speaker_encoder.embed(wav, sr), atol=1e-6, rtol=0)
        assert item.style is None
        assert item.speaker_id == entry.speaker and item.line == k + 1
        assert item.split == entry.extra["split"] and item.duration == pytest.approx(entry.duration)
        assert EMOTIONS[item.emotion] == entry.emotion and LANGUAGES[item.language] == "en"
    assert dataset.frames[0] == dataset[0].codes.shape[1]
    assert len(ShardDataset(tokens, ["valid"])) == 4


def test_tokenize_resumes_and_refuses_other_settings(
    corpus: Path, codec_dir: Path, tokens: Path, speaker_encoder, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    codec = load_codec(codec_dir)
    out = tmp_path / "tok"
    out.mkdir()
    # a finished shard from an "earlier run": it must be kept, not re-encoded
    (out / "tokenize.json").write_text((tokens / "tokenize.json").read_text())
    (out / shard_name(0)).write_bytes((tokens / shard_name(0)).read_bytes())
    calls = []
    original = codec.encode
    codec.encode = lambda wav, sr: calls.append(1) or original(wav, sr)  # type: ignore[method-assign]
    index = tokenize_manifest(
        corpus, out, codec, str(codec_dir), speaker_encoder, shard_size=8, progress=False
    )
    assert len(calls) == 12  # shards 1 and 2 only
    assert index["count"] == 20
    for number in range(3):  # same tensors and metadata as one uninterrupted run
        assert shard_contents(out / shard_name(number)) == shard_contents(
            tokens / shard_name(number)
        )
    with pytest.raises(ConfigError, match="different settings.*shard_size"):
        tokenize_manifest(corpus, out, codec, str(codec_dir), speaker_encoder, shard_size=4)


def test_long_and_unreadable_utterances_are_skipped_and_counted(
    corpus: Path, codec_dir: Path, speaker_encoder, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    entries = read_manifest(corpus)[:4]
    lengths = [len(phoneme_ids(TextFrontend(), e.text, "en")) for e in entries]
    limit = sorted(lengths)[1]  # two or three utterances are longer than this
    manifest = write_manifest(tmp_path / "m.jsonl", entries)
    index = tokenize_manifest(
        manifest, tmp_path / "tok", load_codec(codec_dir), str(codec_dir), speaker_encoder,
        max_symbols=limit, progress=False,
    )  # fmt: skip
    too_long = sum(n > limit for n in lengths)
    assert index["skipped"] == {"too_many_symbols": too_long}
    assert index["count"] == 4 - too_long and len(index["skip_examples"]) == too_long
    lines = [ShardDataset(tmp_path / "tok")[i].line for i in range(index["count"])]
    assert lines == [i + 1 for i, n in enumerate(lengths) if n <= limit]


def test_missing_index_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="index.json is missing"):
        ShardDataset(tmp_path)


def test_bucket_sampler_budget_determinism_and_rank_split() -> None:
    frames = np.random.default_rng(0).integers(5, 120, size=300).tolist()
    sampler = FrameBucketSampler(frames, max_frames=400, seed=1)
    batches = sampler.batches(0)
    for batch in batches:
        assert max(frames[i] for i in batch) * len(batch) <= 400
    assert sorted(i for b in batches for i in b) == list(range(300))  # every item once
    assert batches == FrameBucketSampler(frames, max_frames=400, seed=1).batches(0)
    assert batches != sampler.batches(1)  # a new order each epoch
    assert batches != FrameBucketSampler(frames, max_frames=400, seed=2).batches(0)

    ranks = [FrameBucketSampler(frames, 400, seed=1, rank=r, world_size=3) for r in range(3)]
    shares = [r.batches(0) for r in ranks]
    assert len({len(s) for s in shares}) == 1  # same number of steps on every rank
    seen = [i for s in shares for b in s for i in b]
    assert len(seen) == len(set(seen))  # disjoint

    long_one = FrameBucketSampler([*frames, 900], max_frames=400)
    assert long_one.n_dropped == 1
    with pytest.raises(ConfigError, match="no item fits"):
        FrameBucketSampler([900], max_frames=400)


def test_collate_pads_into_an_lm_batch(tokens: Path) -> None:
    dataset = ShardDataset(tokens)
    items = [dataset[i] for i in (0, 5, 11)]
    batch = collate_lm(items, pad_id=0)
    assert batch.codes.shape == (3, 2, max(x.codes.shape[1] for x in items))
    assert batch.code_lengths.tolist() == [x.codes.shape[1] for x in items]
    assert batch.phoneme_lengths.tolist() == [len(x.phonemes) for x in items]
    for b, x in enumerate(items):
        assert torch.equal(batch.codes[b, :, : x.codes.shape[1]], x.codes)
        assert torch.equal(batch.phonemes[b, : len(x.phonemes)], x.phonemes)
        assert (batch.phonemes[b, len(x.phonemes) :] == 0).all()
    assert batch.cond.speaker.shape == (3, 256) and batch.cond.style is None
    assert json.loads((tokens / "index.json").read_text())["speakers"] == {
        "espeak-en-us+f2": 10, "espeak-en-us+m3": 10
    }  # fmt: skip


def test_several_folders_read_as_one_corpus(
    corpus: Path, codec_dir: Path, tokens: Path, speaker_encoder, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    entries = read_manifest(corpus)[:5]
    manifest = write_manifest(tmp_path / "part.jsonl", entries)
    second = tmp_path / "second"
    tokenize_manifest(
        manifest, second, load_codec(codec_dir), str(codec_dir), speaker_encoder, shard_size=2,
        progress=False,
    )  # fmt: skip
    first_set, second_set = ShardDataset(tokens), ShardDataset(second)
    both = ShardDataset(f"{tokens},{second}")
    assert len(both) == len(first_set) + len(second_set) == 25
    for k in (0, len(first_set) - 1):  # the first folder's items, then the second's
        assert torch.equal(both[k].codes, first_set[k].codes)
    for k in range(len(second_set)):
        item, alone = both[len(first_set) + k], second_set[k]
        assert torch.equal(item.codes, alone.codes) and item.line == alone.line == k + 1
        assert both.audio_path(len(first_set) + k) == second_set.audio_path(k)
    assert both.frames == first_set.frames + second_set.frames

    index = read_indexes([tokens, second])
    assert index["count"] == 25 and index["folders"] == [str(tokens), str(second)]
    assert index["splits"]["train"] == read_index(tokens)["splits"]["train"] + sum(
        e.extra["split"] == "train" for e in entries
    )
    assert read_indexes(str(tokens)) == read_index(tokens)  # one folder: its own index

    # listed twice, a folder's items are drawn twice as often; splits still apply
    twice = ShardDataset([tokens, second, second], splits=["valid"])
    assert len(twice) == len(ShardDataset(tokens, ["valid"])) + 2 * len(
        ShardDataset(second, ["valid"])
    )

    # folders made with another codec shape or inventory are refused, naming both
    other = tmp_path / "other"
    shutil.copytree(second, other)
    index_path = other / "index.json"
    changed = json.loads(index_path.read_text())
    changed["codec"]["n_codebooks"] += 1
    index_path.write_text(json.dumps(changed))
    with pytest.raises(ConfigError, match=r"other cannot be read together.*codec n_codebooks"):
        ShardDataset([tokens, other])
    with pytest.raises(ConfigError, match="no shard folder"):
        ShardDataset(" , ")


def test_several_folders_need_the_same_semantic_units(tokens: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for root, source in ((a, "units-1"), (b, "units-2")):
        shutil.copytree(tokens, root)
        (root / "semantic.json").write_text(
            json.dumps({"source": str(tmp_path / source), "n_clusters": 8, "done": True})
        )
    with pytest.raises(ConfigError, match="come from different tokenizers"):
        ShardDataset([a, b], semantic=True)


def test_speaker_embeddings_are_the_training_items_of_each_folder(tokens: Path) -> None:
    from tts.data.shards import speaker_embeddings

    dataset = ShardDataset(tokens, splits=["train"])
    train = speaker_embeddings(tokens)
    assert train.shape == (16, 256)
    torch.testing.assert_close(train, torch.stack([dataset[i].speaker for i in range(16)]))
    valid = speaker_embeddings(tokens, splits=["valid"])
    assert valid.shape == (4, 256)
    # a folder listed twice counts twice, as it does in training
    assert speaker_embeddings(f"{tokens},{tokens}").shape == (32, 256)
    with pytest.raises(ConfigError, match="no items of splits"):
        speaker_embeddings(tokens, splits=["test"])
