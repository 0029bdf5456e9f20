"""tts.speakers.contrast: a cloned voice's embedding pushed away from the training voices' mean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tts.errors import CheckpointError, ConfigError
from tts.speakers.contrast import SpeakerContrast


def _voices(
    n_voices: int = 6, per_voice: int = 20, dim: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resemblyzer-like embeddings (non-negative, unit length) that share a common part, as
    real voices do: [V, dim] voice centres and [V * per_voice, dim] utterances around them."""
    g = torch.Generator().manual_seed(0)
    common = torch.rand(dim, generator=g)
    centres = torch.relu(common + 0.5 * torch.randn(n_voices, dim, generator=g))
    utterances = torch.relu(centres.repeat_interleave(per_voice, 0) + 0.1 * torch.randn(n_voices * per_voice, dim, generator=g))  # fmt: skip
    normalise = torch.nn.functional.normalize
    return normalise(centres, dim=-1), normalise(utterances, dim=-1)


def _cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cosine_similarity(a, b, dim=-1)


def test_contrast_pushes_each_voice_away_from_the_mean_and_keeps_it_a_valid_embedding() -> None:
    centres, utterances = _voices()
    contrast = SpeakerContrast.from_embeddings(utterances, strength=2.0)
    torch.testing.assert_close(contrast.mean, utterances.mean(0))
    pushed = contrast.apply(centres)
    assert pushed.shape == centres.shape
    torch.testing.assert_close(pushed.norm(dim=-1), torch.ones(len(centres)))
    assert bool((pushed >= 0).all())  # where Resemblyzer's (ReLU) embeddings live
    # further from the mean than the voice was, and further the stronger the push
    mean = contrast.mean[None]
    assert bool((_cos(pushed, mean) < _cos(centres, mean) - 0.02).all())
    weaker = SpeakerContrast(contrast.mean, strength=0.5).apply(centres)
    assert bool((_cos(pushed, mean) < _cos(weaker, mean)).all())
    # still the same voice: each pushed voice is closest to where it came from
    nearest = _cos(pushed[:, None], centres[None]).argmax(1)
    assert nearest.tolist() == list(range(len(centres)))
    assert bool((_cos(pushed, centres) > 0.8).all())
    # a batch dimension or a single vector
    torch.testing.assert_close(contrast.apply(centres[2]), pushed[2])


def test_strength_zero_is_the_identity_and_bad_strengths_or_means_are_refused() -> None:
    _, utterances = _voices()
    off = SpeakerContrast.from_embeddings(utterances, strength=0.0)
    assert torch.equal(off.apply(utterances[:3]), utterances[:3])
    for bad in (-1.0, float("nan"), float("inf"), True, "2"):
        with pytest.raises(ConfigError, match="strength"):
            SpeakerContrast(utterances.mean(0), strength=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="finite"):
        SpeakerContrast(torch.full((8,), float("nan")))
    with pytest.raises(ConfigError, match=r"\[N, D\]"):
        SpeakerContrast.from_embeddings(torch.zeros(0, 8))
    with pytest.raises(ConfigError, match="256 values; the contrast.s mean has 64"):
        SpeakerContrast.from_embeddings(utterances).apply(torch.rand(2, 256))


def test_contrast_round_trips_as_safetensors_and_json(tmp_path: Path) -> None:
    _, utterances = _voices()
    contrast = SpeakerContrast.from_embeddings(utterances, strength=1.5)
    folder = contrast.save(tmp_path / "contrast")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "mean.safetensors"]
    back = SpeakerContrast.load(folder)
    assert back.strength == 1.5 and torch.equal(back.mean, contrast.mean)
    torch.testing.assert_close(back.apply(utterances[:4]), contrast.apply(utterances[:4]))

    with pytest.raises(CheckpointError, match="not a speaker contrast folder"):
        SpeakerContrast.load(tmp_path / "missing")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "dim": 3}))
    with pytest.raises(CheckpointError, match="does not describe"):
        SpeakerContrast.load(folder)
    (folder / "config.json").write_text(json.dumps({**config, "strength": -2}))
    with pytest.raises(CheckpointError, match="bad speaker contrast"):
        SpeakerContrast.load(folder)
