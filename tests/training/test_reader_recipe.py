"""recipes/train_unit_reader.py on the test shards: trains by CTC on the train split's units
(or codes, or the log-mels of their decoding), measures the valid split, writes a loadable
reader with curves, and resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from trainkit import load_script, shards_with_units

from tts.codecs import load_codec
from tts.data.shards import ShardDataset
from tts.errors import CheckpointError, ConfigError
from tts.reader import UnitReader, read_ids


def test_recipe_trains_measures_saves_and_resumes(
    tokens: Path, tokenizer, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    root = shards_with_units(tokens, tokenizer, tmp_path)
    recipe = load_script("recipes/train_unit_reader.py")
    out = tmp_path / "reader"
    args = [str(root), "--out", str(out), "--frames-per-batch", "300", "--eval-every", "4",
            "--warmup", "2", "--d-model", "32", "--n-layer", "1"]  # fmt: skip
    first = recipe.main([*args, "--steps", "8"])
    assert set(first) >= {"step", "train_loss", "valid_loss", "valid_per"}
    assert first["step"] == 8 and 0 <= first["valid_per"] <= 2
    reader = UnitReader.load(out)
    assert reader.config.n_units == 8 and reader.config.d_model == 32
    assert reader.config.vocab_size == len(ShardDataset(root).inventory)
    assert (out / "curves.png").stat().st_size > 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 9))
    # the scores it gives a valid item's own units are finite
    item = ShardDataset(root, splits=["valid"], semantic=True)[0]
    target = read_ids(item.phonemes.tolist(), ShardDataset(root).inventory)
    assert torch.isfinite(torch.tensor(reader.score([item.codes[0]], target, item.language)))

    capsys.readouterr()
    second = recipe.main([*args, "--steps", "12"])
    assert "resumed from" in capsys.readouterr().out
    assert second["step"] == 12
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 13))  # the first 8 were kept


def test_recipe_reads_the_codecs_codes_without_semantic_units(tokens: Path, tmp_path: Path) -> None:
    recipe = load_script("recipes/train_unit_reader.py")
    out = tmp_path / "codes_reader"
    result = recipe.main([str(tokens), "--out", str(out), "--source", "codes", "--steps", "3",
                          "--eval-every", "3", "--frames-per-batch", "300", "--d-model", "32",
                          "--n-layer", "1"])  # fmt: skip
    assert result["step"] == 3
    reader = UnitReader.load(out)
    item = ShardDataset(tokens)[0]
    assert reader.config.source == "codes"
    assert (reader.config.n_streams, reader.config.n_units) == (item.codes.shape[0], 16)
    target = read_ids(item.phonemes.tolist(), ShardDataset(tokens).inventory)
    assert torch.isfinite(torch.tensor(reader.score([item.codes], target, item.language)))


def test_recipe_fine_tunes_from_a_trained_reader(tokens: Path, tmp_path: Path) -> None:
    recipe = load_script("recipes/train_unit_reader.py")
    base = tmp_path / "base"
    common = ["--source", "codes", "--eval-every", "3", "--frames-per-batch", "300"]
    recipe.main([str(tokens), "--out", str(base), "--steps", "3", "--d-model", "32",
                 "--n-layer", "1", *common])  # fmt: skip
    start = UnitReader.load(base)
    # --init keeps the trained reader's layer sizes, whatever --d-model says, and starts from
    # its weights: with no steps' worth of learning rate, the tuned reader is the same reader
    tuned = tmp_path / "tuned"
    recipe.main([str(tokens), "--out", str(tuned), "--steps", "3", "--init", str(base),
                 "--lr", "0", *common])  # fmt: skip
    after = UnitReader.load(tuned)
    assert after.config.d_model == 32 and after.config.n_layer == 1
    tuned_state = after.state_dict()
    for name, value in start.state_dict().items():
        assert torch.equal(value, tuned_state[name]), name
    # and a learning rate moves it from there
    moved = tmp_path / "moved"
    recipe.main([str(tokens), "--out", str(moved), "--steps", "3", "--init", str(base),
                 "--lr", "0.01", *common])  # fmt: skip
    changed = UnitReader.load(moved).state_dict()
    assert any(not torch.equal(v, changed[k]) for k, v in start.state_dict().items())


def test_recipe_refuses_a_reader_of_other_inputs(tokens: Path, tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = shards_with_units(tokens, tokenizer, tmp_path)
    recipe = load_script("recipes/train_unit_reader.py")
    units_reader = tmp_path / "units_reader"
    recipe.main([str(root), "--out", str(units_reader), "--steps", "2", "--eval-every", "2",
                 "--frames-per-batch", "300", "--d-model", "32", "--n-layer", "1"])  # fmt: skip
    with pytest.raises(CheckpointError, match="source"):
        recipe.main([str(root), "--out", str(tmp_path / "x"), "--source", "codes", "--steps",
                     "2", "--init", str(units_reader)])  # fmt: skip


def test_recipe_reads_log_mels_of_the_codecs_decoding(
    tokens: Path, codec_dir: Path, tmp_path: Path
) -> None:
    recipe = load_script("recipes/train_unit_reader.py")
    args = [str(tokens), "--source", "mel", "--steps", "3", "--eval-every", "3",
            "--frames-per-batch", "600", "--d-model", "32", "--n-layer", "1"]  # fmt: skip
    with pytest.raises(ConfigError, match="--codec"):
        recipe.main([*args, "--out", str(tmp_path / "no_codec")])
    out = tmp_path / "mel_reader"
    result = recipe.main([*args, "--out", str(out), "--codec", str(codec_dir)])
    # three steps teach nothing yet (an untrained reader inserts ids freely: PER above 1)
    assert result["step"] == 3 and result["valid_per"] >= 0
    assert torch.isfinite(torch.tensor(result["valid_loss"]))
    reader = UnitReader.load(out)
    codec = load_codec(str(codec_dir))
    assert reader.config.source == "mel" and reader.config.upsample == 1
    assert reader.config.sample_rate == codec.sample_rate
    # it reads what the recipe heard: the codec's decoding of an item, as log-mels
    item = ShardDataset(tokens)[0]
    wav = codec.decode(item.codes[None].long())[0].numpy()
    mel = reader.log_mel(wav, codec.sample_rate)
    seconds = len(wav) / codec.sample_rate
    assert mel.shape[0] == reader.config.n_mels
    assert abs(mel.shape[1] - seconds * codec.sample_rate / reader.config.hop_length) <= 1
    target = read_ids(item.phonemes.tolist(), ShardDataset(tokens).inventory)
    assert torch.isfinite(torch.tensor(reader.score([mel], target, item.language)))
