"""recipes/ship_model.py: the shipped bundle is float16 on disk, loads as float32, same model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tts.errors import ConfigError
from tts.speakers.timbre import TimbreConfig
from tts.synthesizer import Synthesizer, random_synthesizer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "recipes"))
import ship_model


def test_ship_halves_parameters_sets_default_voice_and_reloads(tmp_path: Path) -> None:
    synth = random_synthesizer()
    voice = torch.nn.functional.normalize(torch.randn(256), dim=0)
    synth.voices = {**synth.voices, "alice": voice}
    bundle = synth.save(tmp_path / "bundle")
    card = tmp_path / "card.md"
    card.write_text("# Koe default model\n\nmeasured: nothing yet\n")
    out = tmp_path / "shipped"
    report = ship_model.ship(
        bundle, out, card, "alice", half=True, sampling=["temperature=0.6"], cpu_threads=1,
        timbre=True, lm_matmul_dtype="int8",
    )  # fmt: skip

    lm_file = load_file(str(out / "model.safetensors"))
    params = {n for n, _ in synth.lm.named_parameters()}
    assert all(lm_file[n].dtype == torch.float16 for n in params)
    codec_file = load_file(str(out / "codec" / "model.safetensors"))
    codec_params = {n for n, _ in synth.codec.model.named_parameters()}
    assert all(codec_file[n].dtype == torch.float16 for n in codec_params)
    # buffers (not learned) keep full precision
    assert all(t.dtype != torch.float16 for n, t in codec_file.items() if n not in codec_params)
    assert report["saved_mb_by_float16"] > 0
    assert 0 < report["max_parameter_change"] < 1e-2

    shipped = Synthesizer.from_pretrained(out, device="cpu")
    assert next(shipped.lm.parameters()).dtype == torch.float32
    assert shipped.config.sampling.temperature == 0.6
    assert shipped.config.cpu_threads == 1 and shipped.threads == 1  # the CPU default
    assert shipped.config.timbre == TimbreConfig()  # stored in config.json, read back
    assert shipped.config.lm_matmul_dtype == "int8"
    assert shipped.lm.blocks[0].attn.qkv.matmul_dtype == torch.int8
    assert (
        Synthesizer.from_pretrained(bundle, device="cpu").config.timbre is None
    )  # off unless asked
    assert torch.equal(shipped.voices["default"], voice) and torch.equal(
        shipped.voices["alice"], voice
    )
    assert (out / "README.md").read_text().startswith("# Koe default model")
    for check in report["check_synthesis"].values():
        assert check["same_length"] and check["relative_difference"] < 0.5


def test_unknown_default_voice_is_refused(tmp_path: Path) -> None:
    bundle = random_synthesizer().save(tmp_path / "bundle")
    card = tmp_path / "card.md"
    card.write_text("# card\n")
    with pytest.raises(ConfigError, match="not a stored voice"):
        ship_model.ship(bundle, tmp_path / "out", card, "nobody", half=True)
    assert not (tmp_path / "out").exists()


def test_codec_swap_keeps_the_codes_and_refuses_another_encoder(tmp_path: Path) -> None:
    # A source-filter decoder trained for the bundle's codes replaces its decoder; a codec
    # with other encoder weights would make other codes than the LM learned, so it is refused.
    import dataclasses

    from tts.codecs.koe import KoeCodec
    from tts.codecs.model import CodecModel

    synth = random_synthesizer()
    bundle = synth.save(tmp_path / "bundle")
    card = tmp_path / "card.md"
    card.write_text("# card\n")
    config = dataclasses.replace(synth.codec.config, decoder_kind="source_filter")
    model = CodecModel(config)
    own = synth.codec.model.state_dict()
    model.load_state_dict(
        {k: v for k, v in own.items() if not k.startswith("decoder.")}, strict=False
    )
    KoeCodec(model).save(tmp_path / "sf")
    out = tmp_path / "shipped"
    ship_model.ship(bundle, out, card, None, half=True, codec=tmp_path / "sf")
    shipped = Synthesizer.from_pretrained(out, device="cpu")
    assert shipped.codec.config.decoder_kind == "source_filter"
    torch.manual_seed(0)
    wav = torch.randn(1, 24_000) * 0.1
    same = shipped.codec.encode(wav, 24_000) == synth.codec.encode(wav, 24_000)
    assert same.float().mean() > 0.95  # float16 storage may move a value across a code border

    torch.manual_seed(1)
    KoeCodec(CodecModel(config)).save(tmp_path / "other")
    with pytest.raises(ConfigError, match="encoder"):
        ship_model.ship(bundle, tmp_path / "out2", card, None, half=True, codec=tmp_path / "other")


def test_ship_adds_a_speaker_contrast_around_the_training_voices_mean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synth = random_synthesizer(style_encoder=False)
    bundle = synth.save(tmp_path / "bundle")
    card = tmp_path / "card.md"
    card.write_text("# card\n")
    training = torch.nn.functional.normalize(torch.rand(12, 256), dim=-1)
    asked = []
    monkeypatch.setattr(ship_model, "speaker_embeddings", lambda data: asked.append(data) or training)  # fmt: skip
    out = tmp_path / "shipped"
    ship_model.ship(bundle, out, card, None, half=True, speaker_contrast=(1.5, "a,b"))
    assert asked == ["a,b"]
    shipped = Synthesizer.from_pretrained(out, device="cpu")
    assert shipped.speaker_contrast.strength == 1.5
    torch.testing.assert_close(shipped.speaker_contrast.mean, training.mean(0))
    assert Synthesizer.from_pretrained(bundle, device="cpu").speaker_contrast is None
    with pytest.raises(SystemExit):  # the strength and the shards go together
        ship_model.main(["--bundle", str(bundle), "--card", str(card), "--speaker-contrast", "2"])
