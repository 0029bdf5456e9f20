"""recipes/ship_model.py: the shipped bundle is float16 on disk, loads as float32, same model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tts.errors import ConfigError
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
        bundle, out, card, "alice", half=True, sampling=["temperature=0.6"], cpu_threads=1
    )

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
