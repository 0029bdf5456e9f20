"""What the token LM is conditioned on, as one small batch container.

The speaker side (`tts.speakers`) builds it from reference clips and labels; the LM
(`tts.model`) turns it into prefix embeddings. Keeping it a plain dataclass of tensors lets the
two sides evolve independently.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tts.labels import EMOTIONS, LANGUAGES, check_emotion, check_language

SPEAKER_DIM = 256  # Resemblyzer GE2E embedding size
STYLE_DIM = 128


@dataclass
class Conditioning:
    speaker: torch.Tensor  # [B, SPEAKER_DIM] float, L2-normalised speaker embeddings
    emotion: torch.Tensor  # [B] long, index into tts.labels.EMOTIONS
    intensity: torch.Tensor  # [B] float, 0 = neutral, 1 = labelled strength, >1 exaggerates
    language: torch.Tensor  # [B] long, index into tts.labels.LANGUAGES
    style: torch.Tensor | None = None  # [B, STYLE_DIM] float from a style clip, or None

    @property
    def batch_size(self) -> int:
        return int(self.speaker.shape[0])

    def to(self, device: torch.device | str) -> Conditioning:
        return Conditioning(
            speaker=self.speaker.to(device),
            emotion=self.emotion.to(device),
            intensity=self.intensity.to(device),
            language=self.language.to(device),
            style=None if self.style is None else self.style.to(device),
        )

    @staticmethod
    def single(
        speaker: torch.Tensor,
        language: str,
        emotion: str = "neutral",
        intensity: float = 1.0,
        style: torch.Tensor | None = None,
    ) -> Conditioning:
        """A batch of one from a [SPEAKER_DIM] embedding and labels."""
        return Conditioning(
            speaker=speaker.reshape(1, -1).float(),
            emotion=torch.tensor([EMOTIONS.index(check_emotion(emotion))]),
            intensity=torch.tensor([float(intensity)]),
            language=torch.tensor([LANGUAGES.index(check_language(language))]),
            style=None if style is None else style.reshape(1, -1).float(),
        )

    @staticmethod
    def cat(items: list[Conditioning]) -> Conditioning:
        """Stack several conditionings into one batch (style kept only if all have it)."""
        styles = [c.style for c in items]
        return Conditioning(
            speaker=torch.cat([c.speaker for c in items]),
            emotion=torch.cat([c.emotion for c in items]),
            intensity=torch.cat([c.intensity for c in items]),
            language=torch.cat([c.language for c in items]),
            style=None if any(s is None for s in styles) else torch.cat(styles),  # type: ignore[arg-type]
        )
