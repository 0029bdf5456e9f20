"""recipes/cycle_shards.py: a shard folder whose codes went once through the codec."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from trainkit import load_script

from tts.codecs import load_codec
from tts.data.shards import ShardDataset
from tts.errors import ConfigError


def test_cycled_codes_are_the_encoding_of_the_decoding(
    tokens: Path, codec_dir: Path, tmp_path: Path
) -> None:
    recipe = load_script("recipes/cycle_shards.py")
    out = recipe.main([str(tokens), "--codec", str(codec_dir), "--out", str(tmp_path / "c")])
    before, after = ShardDataset(tokens), ShardDataset(out)
    assert len(after) == len(before) and after.inventory.symbols == before.inventory.symbols
    codec = load_codec(codec_dir)
    changed = 0
    for i in range(len(before)):
        a, b = before[i], after[i]
        assert torch.equal(a.phonemes, b.phonemes) and a.language == b.language
        assert b.codes.shape == a.codes.shape  # frame for frame
        with torch.inference_mode():
            wav = codec.decode(a.codes[None].long())[0]
            again = codec.encode(wav[None], codec.sample_rate)[0]
        assert torch.equal(b.codes.long(), again[:, : a.codes.shape[-1]].long())
        changed += int(not torch.equal(a.codes, b.codes))
    assert changed > 0  # one pass through a (random) codec does not give its codes back

    # resumable: finished shards are kept as they are
    shard = next(Path(out).glob("shard-*.safetensors"))
    stamp = shard.stat().st_mtime_ns
    recipe.main([str(tokens), "--codec", str(codec_dir), "--out", str(tmp_path / "c")])
    assert shard.stat().st_mtime_ns == stamp


def test_a_codec_of_other_codebooks_is_refused(tokens: Path, tmp_path: Path) -> None:
    from tts.codecs import KoeCodec
    from tts.codecs.model import tiny_config

    other = KoeCodec.from_config(tiny_config(), name="koe-tiny").save(tmp_path / "other")
    recipe = load_script("recipes/cycle_shards.py")
    with pytest.raises(ConfigError, match="codebooks"):
        recipe.main([str(tokens), "--codec", str(other), "--out", str(tmp_path / "c")])
