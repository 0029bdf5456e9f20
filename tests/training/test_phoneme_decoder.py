"""Training a decoder that reads the text: recipes/align_phonemes.py places each utterance's
phonemes on its codec frames, ShardCrops carries them, recipes/train_codec.py phonemes_from=."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tts.errors import ConfigError, ManifestError
from tts.forced_align import load_phoneme_frames, save_phoneme_frames


def test_align_phonemes_places_every_utterances_text(
    base_run: dict, tokens: Path, tmp_path: Path
) -> None:
    from trainkit import load_script

    from tts.data.shards import ShardDataset
    from tts.reader import ReaderConfig, UnitReader, read_ids
    from tts.synthesizer import Synthesizer

    synth = Synthesizer.from_pretrained(base_run["bundle"], device="cpu")
    inventory = synth.frontend.inventory
    recipe = load_script("recipes/align_phonemes.py")
    with pytest.raises(ConfigError, match="mel reader"):
        recipe.main(["--shards", str(tokens), "--out", str(tmp_path / "x.safetensors"),
                     "--model", str(base_run["bundle"]), "--threads", "1"])  # fmt: skip
    torch.manual_seed(0)
    synth.reader = UnitReader(
        ReaderConfig(source="mel", vocab_size=len(inventory), d_model=32, n_layer=1, n_head=2,
                     n_mels=16, upsample=1, dropout=0.0)
    ).eval()  # fmt: skip
    bundle = synth.save(tmp_path / "bundle")
    out = tmp_path / "frames.safetensors"
    result = recipe.main(["--shards", str(tokens), "--out", str(out), "--model", str(bundle),
                          "--threads", "1"])  # fmt: skip
    frames = load_phoneme_frames(out)
    items = ShardDataset(tokens)
    assert result == {"aligned": len(items), "failed": 0} and len(frames) == len(items)
    none = synth.reader.config.vocab_size
    for k in range(len(items)):
        item, row = items[k], frames[items.audio_path(k)]
        assert row.shape == (2, item.codes.shape[-1])
        target = read_ids(item.phonemes.tolist(), inventory)
        said = [x for x in row[0].tolist() if x != none]
        merged = [x for i, x in enumerate(said) if i == 0 or x != said[i - 1]]
        rest = iter(target)
        assert merged and all(any(x == y for y in rest) for x in merged)  # in the text's order


def test_the_decoder_trains_with_phoneme_frames(
    unit_shards: Path, codec_dir: Path, tmp_path: Path
) -> None:
    from trainkit import decoder_args, load_script

    from tts.codecs.data import ShardCrops
    from tts.codecs.koe import KoeCodec
    from tts.data.shards import ShardDataset

    root = unit_shards
    items = ShardDataset(root, semantic=True)
    rng = np.random.default_rng(0)
    keys = [items.audio_path(k) for k in range(len(items))]
    frames = {key: rng.integers(0, 12, (2, n)) for key, n in zip(keys, items.frames, strict=True)}
    del frames[keys[0]]  # an utterance without frames is not drawn
    path = save_phoneme_frames(tmp_path / "frames.safetensors", frames)
    loaded = load_phoneme_frames(path)
    crops = ShardCrops(root, 24_000, 960, crop_frames=6, splits=None, seed=1, phonemes=loaded)
    assert 0 not in crops.usable
    for index in range(8):
        *_, phonemes = crops[index]
        k, start = crops.locate(index)
        assert phonemes.dtype == torch.long
        assert torch.equal(phonemes, torch.from_numpy(frames[keys[k]][:, start : start + 6]))
    bad = dict(loaded)
    bad[keys[1]] = bad[keys[1]][:, :-1]
    crops = ShardCrops(root, 24_000, 960, crop_frames=6, splits=None, seed=1, phonemes=bad)
    with pytest.raises(ManifestError, match="align the same shards again"):
        for index in range(64):
            crops[index]

    recipe = load_script("recipes/train_codec.py")
    args = [*decoder_args(root, codec_dir, tmp_path / "dec"), "model.n_units=8", "seed=3"]
    with pytest.raises(ConfigError, match="go together"):
        recipe.main([*args, f"phonemes_from={path}", "max_steps=1"])
    with pytest.raises(ConfigError, match="go together"):
        recipe.main([*args, "model.n_phonemes=12", "max_steps=1"])
    with pytest.raises(ConfigError, match="phoneme_drop"):
        recipe.main([*args, "model.n_phonemes=12", f"phonemes_from={path}", "phoneme_drop=2",
                     "max_steps=1"])  # fmt: skip
    with pytest.raises(ConfigError, match="needs units_from"):
        recipe.main(["--out", str(tmp_path / "x"), "--data", str(tmp_path), "--preset", "tiny",
                     "model.n_phonemes=12", f"phonemes_from={path}", "max_steps=1"])  # fmt: skip
    run = recipe.main([*args, "model.n_phonemes=12", f"phonemes_from={path}", "max_steps=4"])
    assert run["step"] == 4
    steps = [json.loads(x) for x in (tmp_path / "dec" / "log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(s["loss"]) for s in steps if "loss" in s)
    trained = KoeCodec.load(tmp_path / "dec")
    table = trained.model.decoder.phoneme_embedding.weight
    assert trained.reads_phonemes == 12 and table.shape == (26, trained.config.decoder_dim)
    assert table.abs().sum() > 0  # it started at zero and learned

    # phoneme_weight is a decoding setting: a run whose model comes from a codec that decodes
    # with another weight trains at 1, and asking to train at another is refused
    saved = tmp_path / "dec" / "checkpoint" / "config.json"
    config = json.loads(saved.read_text())
    config["config"]["phoneme_weight"] = 1.5
    saved.write_text(json.dumps(config))
    assert KoeCodec.load(tmp_path / "dec").model.decoder.phoneme_weight == 1.5
    more = ["--out", str(tmp_path / "dec2"), "--model-of", str(tmp_path / "dec"),
            f"units_from={root}", f"phonemes_from={path}", f"init_from={codec_dir}",
            "train_encoder=false"]  # fmt: skip
    assert recipe.build_config(recipe.parse_args(more), None).model.phoneme_weight == 1.0
    with pytest.raises(ConfigError, match="decoding setting"):
        recipe.build_config(recipe.parse_args([*more, "model.phoneme_weight=2"]), None)
