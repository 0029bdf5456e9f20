"""recipes/train_codec.py's content_reader: a frozen mel reader (tts.reader) hears each decoded
crop and its real audio, and the decoder is pulled towards what the reader hears in the real one."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tts.errors import ConfigError
from tts.reader import ReaderConfig, UnitReader


def mel_reader(**changes) -> UnitReader:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    config = ReaderConfig(**{"source": "mel", "vocab_size": 12, "d_model": 32, "n_layer": 1,
                             "n_head": 2, "n_mels": 16, "upsample": 1, "dropout": 0.0, **changes})  # fmt: skip
    return UnitReader(config).eval()


def test_mel_batch_is_the_readers_log_mel_and_passes_gradients() -> None:
    reader = mel_reader()
    wav = np.random.default_rng(0).normal(0.0, 0.1, 24_000).astype(np.float32)
    batch = reader.mel_batch(torch.from_numpy(wav)[None])
    assert batch.shape == (1, 16, 51)  # 50 frames a second, centred
    torch.testing.assert_close(batch[0], reader.log_mel(wav, 24_000))
    audio = torch.from_numpy(wav)[None].requires_grad_()
    reader.mel_batch(audio).sum().backward()
    assert audio.grad is not None and audio.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="reads no spectrogram"):
        UnitReader(ReaderConfig(source="units")).mel_batch(audio)


def test_content_loss_is_zero_on_the_real_audio_and_teaches_audio_what_the_reader_hears() -> None:
    from trainkit import load_script

    content_loss = load_script("recipes/train_codec.py").content_loss
    reader = mel_reader().requires_grad_(False)
    rng = np.random.default_rng(1)
    t = np.arange(12_000) / 24_000
    real = torch.from_numpy(
        np.stack(
            [np.sin(2 * np.pi * 220 * t * (1 + t)), np.sign(np.sin(2 * np.pi * 3 * t))]
        ).astype(np.float32)
        * 0.3
        + rng.normal(0, 0.01, (2, t.size)).astype(np.float32)
    )
    language = torch.tensor([0, 1])
    assert float(content_loss(reader, real, real, language)) == pytest.approx(0.0, abs=1e-6)
    # Audio that starts as other noise learns, through the loss alone, to be heard as the real.
    fake = torch.from_numpy(rng.normal(0, 0.1, (2, t.size)).astype(np.float32)).requires_grad_()
    opt = torch.optim.Adam([fake], lr=3e-3)
    first = content_loss(reader, fake, real, language).item()
    for _ in range(60):
        opt.zero_grad()
        loss = content_loss(reader, fake, real, language)
        loss.backward()
        opt.step()
    assert first > 0.01 and content_loss(reader, fake, real, language).item() < 0.5 * first
    assert all(p.grad is None for p in reader.parameters())  # only the audio learned


def test_the_decoder_trains_with_a_content_reader(
    unit_shards: Path, codec_dir: Path, tmp_path: Path
) -> None:
    from trainkit import decoder_args, load_script

    from tts.codecs.data import ShardCrops

    root = unit_shards
    # crops can carry their utterance's language, after everything else they carry
    plain = ShardCrops(root, 24_000, 960, crop_frames=6, splits=None, seed=1, speakers=True)
    crops = ShardCrops(root, 24_000, 960, crop_frames=6, splits=None, seed=1, speakers=True,
                       languages=True)  # fmt: skip
    for index in range(6):
        *crop, language = crops[index]
        for part, same in zip(crop, plain[index], strict=True):
            assert torch.equal(part, same)
        k, _ = crops.locate(index)
        assert language.dtype == torch.long and int(language) == crops.items[k].language

    recipe = load_script("recipes/train_codec.py")
    reader_dir = mel_reader().save(tmp_path / "reader")
    args = [*decoder_args(root, codec_dir, tmp_path / "dec"), "model.n_units=8", "seed=3"]
    with pytest.raises(ConfigError, match="content_reader needs units_from"):
        recipe.main(["--out", str(tmp_path / "x"), "--data", str(tmp_path), "--preset", "tiny",
                     f"content_reader={reader_dir}", "max_steps=1"])  # fmt: skip
    with pytest.raises(ConfigError, match="content_weight"):
        recipe.main([*args, f"content_reader={reader_dir}", "content_weight=0", "max_steps=1"])
    UnitReader(ReaderConfig(n_units=8)).save(tmp_path / "units_reader")
    with pytest.raises(ConfigError, match="give a mel reader"):
        recipe.main([*args, f"content_reader={tmp_path / 'units_reader'}", "max_steps=1"])
    mel_reader(sample_rate=16_000).save(tmp_path / "reader16k")
    with pytest.raises(ConfigError, match="hears 16000 Hz"):
        recipe.main([*args, f"content_reader={tmp_path / 'reader16k'}", "max_steps=1"])

    run = recipe.main([*args, f"content_reader={reader_dir}", "content_weight=2", "max_steps=4"])
    assert run["step"] == 4
    steps = [json.loads(x) for x in (tmp_path / "dec" / "log.jsonl").read_text().splitlines()]
    steps = [s for s in steps if "loss" in s]
    assert [s["step"] for s in steps] == [1, 2, 3, 4]
    for s in steps:  # the loss is the usual terms plus content_weight times the reader's KL
        assert math.isfinite(s["content"]) and s["content"] > 0
        usual = 15.0 * s["mel"] + s["stft"] + s.get("f0", 0.0) + s.get("voicing", 0.0)
        assert s["loss"] == pytest.approx(usual + 2.0 * s["content"], rel=1e-4)
