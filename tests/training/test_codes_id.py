"""codes_id: shard folders made by codecs that share an encoder read as one; older folders are
stamped only after their codes are checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from trainkit import load_script

from tts.codecs import KoeCodec, load_codec
from tts.data.shards import (
    ShardDataset,
    read_index,
    shard_name,
    stamp_codes_id,
    tokenize_manifest,
)
from tts.errors import ConfigError


def retrained(codec_dir: Path, part: str, name: str) -> KoeCodec:
    """The fixture codec with one `part` ("decoder." or "encoder.") tensor changed."""
    codec = load_codec(codec_dir)
    codec.name = name
    key = next(k for k, v in codec.model.state_dict().items() if k.startswith(part) and v.ndim)
    with torch.no_grad():
        codec.model.state_dict()[key].add_(0.5)
    return codec


def edit(root: Path, **codec: object) -> None:
    """Set (or with None, drop) entries of a folder's codec record, in both of its files."""
    for name in ("index.json", "tokenize.json"):
        settings = json.loads((root / name).read_text())
        for key, value in codec.items():
            if value is None:
                settings["codec"].pop(key, None)
            else:
                settings["codec"][key] = value
        (root / name).write_text(json.dumps(settings))


def test_codes_id_follows_the_encoder_not_the_decoder_or_name(codec_dir: Path) -> None:
    codec = load_codec(codec_dir)
    first = codec.codes_id()
    assert len(first) == 64 and first == load_codec(codec_dir).codes_id()  # stable
    assert retrained(codec_dir, "decoder.", "other-name").codes_id() == first
    assert retrained(codec_dir, "encoder.", "koe-tiny").codes_id() != first


def test_folders_of_one_encoder_read_together_whatever_the_codec_name(
    tokens: Path, codec_dir: Path, tmp_path: Path
) -> None:
    index = read_index(tokens)
    assert index["codec"]["codes_id"] == load_codec(codec_dir).codes_id()
    renamed = tmp_path / "renamed"
    shutil.copytree(tokens, renamed)
    edit(renamed, name="koe:a-retrained-decoder")
    both = ShardDataset([tokens, renamed])
    assert len(both) == 2 * len(ShardDataset(tokens))
    assert torch.equal(both[len(both) // 2].codes, both[0].codes)

    other = tmp_path / "other"  # same name, another encoder: refused
    shutil.copytree(tokens, other)
    edit(other, codes_id="0" * 64)
    with pytest.raises(ConfigError, match="cannot be read together.*codec codes_id"):
        ShardDataset([tokens, other])
    old = tmp_path / "old"  # no codes_id (an older folder): the names must match
    shutil.copytree(renamed, old)
    edit(old, codes_id=None)
    with pytest.raises(ConfigError, match="codec name differ"):
        ShardDataset([tokens, old])


def test_stamping_checks_the_codes_before_recording_the_id(
    tokens: Path, codec_dir: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old"
    shutil.copytree(tokens, old)
    edit(old, codes_id=None, name="koe:v1")
    with pytest.raises(ConfigError, match="codec name differ"):
        ShardDataset([tokens, old])

    # another encoder does not make these codes: nothing is written
    with pytest.raises(ConfigError, match="does not make the codes .* of them agree"):
        stamp_codes_id(old, retrained(codec_dir, "encoder.", "wrong"), check=3)
    assert "codes_id" not in read_index(old)["codec"]
    with pytest.raises(ConfigError, match="check must be >= 1"):
        stamp_codes_id(old, load_codec(codec_dir), check=0)

    # a decoder retrained over the same encoder does: both files get its id
    codec = retrained(codec_dir, "decoder.", "koe:v2")
    stamp = load_script("recipes/stamp_shards.py")
    stamped = stamp.main(["--shards", str(old), "--codec", str(codec_dir), "--check", "4"])
    assert stamped == {str(old): codec.codes_id()}
    for name in ("index.json", "tokenize.json"):
        assert json.loads((old / name).read_text())["codec"]["codes_id"] == codec.codes_id()
    assert len(ShardDataset([tokens, old])) == 2 * len(ShardDataset(tokens))
    assert stamp_codes_id(old, codec, check=1) == codec.codes_id()  # again: unchanged

    with pytest.raises(ConfigError, match="made by another encoder"):
        stamp_codes_id(old, retrained(codec_dir, "encoder.", "wrong"))
    shaped = tmp_path / "shaped"
    shutil.copytree(old, shaped)
    edit(shaped, codes_id=None, n_codebooks=7)
    with pytest.raises(ConfigError, match="n_codebooks 7"):
        stamp_codes_id(shaped, codec)


def test_a_folder_begun_before_codes_id_still_resumes(
    corpus: Path, codec_dir: Path, tokens: Path, speaker_encoder, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "tok"
    out.mkdir()
    settings = json.loads((tokens / "tokenize.json").read_text())
    del settings["codec"]["codes_id"]
    (out / "tokenize.json").write_text(json.dumps(settings))
    (out / shard_name(0)).write_bytes((tokens / shard_name(0)).read_bytes())
    index = tokenize_manifest(
        corpus, out, load_codec(codec_dir), str(codec_dir), speaker_encoder, shard_size=8,
        progress=False,
    )  # fmt: skip
    assert index["count"] == 20
    assert index["codec"]["codes_id"] == read_index(tokens)["codec"]["codes_id"]


def test_a_draws_copy_takes_the_id_of_the_folder_it_copies(
    tokens: Path, codec_dir: Path, tmp_path: Path
) -> None:
    source, copy = tmp_path / "source", tmp_path / "copy"
    shutil.copytree(tokens, source)
    edit(source, codes_id=None)
    shutil.copytree(source, copy)  # a copy made before the source was stamped
    stamp = load_script("recipes/stamp_shards.py")
    with pytest.raises(ConfigError, match="has no codes_id: stamp it first"):
        stamp.main(["--shards", str(copy), "--copy-of", str(source)])
    with pytest.raises(ConfigError, match="give --codec .* or --copy-of"):
        stamp.main(["--shards", str(copy)])
    stamp.main(["--shards", str(source), "--codec", str(codec_dir), "--check", "2"])
    fewer = tmp_path / "fewer"  # another folder's utterances: refused
    shutil.copytree(copy, fewer)
    index = json.loads((fewer / "index.json").read_text())
    index["shards"] = index["shards"][:-1]
    (fewer / "index.json").write_text(json.dumps(index))
    with pytest.raises(ConfigError, match="fewer is not a copy of .*source"):
        stamp.main(["--shards", str(fewer), "--copy-of", str(source)])
    assert stamp.main(["--shards", str(copy), "--copy-of", str(source)]) == {
        str(copy): load_codec(codec_dir).codes_id()
    }
    assert read_index(copy)["codec"]["codes_id"] == read_index(source)["codec"]["codes_id"]
