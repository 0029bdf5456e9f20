"""Speaker contrast: condition on a cloned voice pushed away from the voices the LM knows.

An LM trained on a few dozen voices drifts towards them when it speaks in a voice it never
heard. On development voices (training voices moved by +-3 semitones, `recipes/
dev_similarity.py`) the output's Resemblyzer embedding sat closer to the mean of the training
embeddings (cosine 0.740) than the reference clip did (0.724). Conditioning on

    e' = normalise(max(e + strength * (e - mean), 0))

instead of the clip's embedding e asks for a voice further from that mean along the direction
that makes this voice different, so the output lands nearer the reference. The clamp keeps e'
where Resemblyzer's embeddings live (they come out of a ReLU, so no component is negative).
A bundle's own stored voices are training voices: the LM knows them, and the synthesizer
leaves them alone (`Synthesizer.trained_voices`).

    contrast = SpeakerContrast.from_embeddings(training_embeddings, strength=2.0)
    contrast.save("bundle/speaker_contrast")
    contrast = SpeakerContrast.load("bundle/speaker_contrast")
    speaker = contrast.apply(speaker)        # [..., D] -> [..., D], unit length
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from tts.errors import CheckpointError, ConfigError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "mean.safetensors"


@dataclass
class SpeakerContrast:
    mean: torch.Tensor  # [D] float: mean of the training utterances' speaker embeddings
    strength: float = 2.0  # 0 = off

    def __post_init__(self) -> None:
        check_strength(self.strength)
        self.mean = self.mean.detach().float().reshape(-1).cpu()
        if self.mean.numel() == 0 or not bool(torch.isfinite(self.mean).all()):
            raise ConfigError("the speaker contrast's mean must be a non-empty finite vector")

    @property
    def dim(self) -> int:
        return int(self.mean.numel())

    @classmethod
    def from_embeddings(cls, embeddings: torch.Tensor, strength: float = 2.0) -> SpeakerContrast:
        """From the [N, D] speaker embeddings of the LM's training utterances (each voice
        weighted as often as the LM heard it)."""
        if embeddings.dim() != 2 or embeddings.shape[0] == 0:
            shape = tuple(embeddings.shape)
            raise ConfigError(f"expected [N, D] embeddings with N >= 1, got {shape}")
        return cls(embeddings.float().mean(0), strength)

    def apply(self, speaker: torch.Tensor) -> torch.Tensor:
        """`speaker` [..., D] moved away from the mean by `strength`, clamped at 0, unit length."""
        if speaker.shape[-1] != self.dim:
            raise ConfigError(
                f"speaker embeddings have {speaker.shape[-1]} values; the contrast's mean has "
                f"{self.dim}"
            )
        if self.strength == 0:
            return speaker
        mean = self.mean.to(speaker.device, speaker.dtype)
        pushed = (speaker + self.strength * (speaker - mean)).clamp_min(0)
        return torch.nn.functional.normalize(pushed, dim=-1)

    def save(self, directory: str | Path) -> Path:
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        save_file({"mean": self.mean.contiguous()}, str(root / WEIGHTS_NAME))
        config = {"kind": "speaker_contrast", "strength": self.strength, "dim": self.dim}
        (root / CONFIG_NAME).write_text(json.dumps(config, indent=1) + "\n")
        return root

    @classmethod
    def load(cls, directory: str | Path) -> SpeakerContrast:
        root = Path(directory)
        try:
            config = json.loads((root / CONFIG_NAME).read_text())
            mean = load_file(str(root / WEIGHTS_NAME))["mean"]
        except (OSError, ValueError, KeyError) as error:
            raise CheckpointError(f"{root} is not a speaker contrast folder: {error}") from error
        if config.get("kind") != "speaker_contrast" or mean.numel() != config.get("dim"):
            raise CheckpointError(f"{root / CONFIG_NAME} does not describe {root / WEIGHTS_NAME}")
        try:
            return cls(mean, float(config["strength"]))
        except (ConfigError, KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{root}: bad speaker contrast ({error})") from error


def check_strength(strength: float) -> float:
    if isinstance(strength, bool) or not isinstance(strength, (int, float)):
        raise ConfigError(f"speaker contrast strength must be a number, got {strength!r}")
    if not math.isfinite(strength) or strength < 0:
        raise ConfigError(f"speaker contrast strength must be finite and >= 0, got {strength}")
    return float(strength)
