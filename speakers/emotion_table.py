"""Emotion labels as points in style space, with a continuous intensity.

`vector(emotion, intensity) = neutral + intensity * (E[emotion] - neutral)`: intensity 0 is
neutral for every label, 1 is the label's typical strength, values above 1 exaggerate along the
same direction. The table is trained beside the style encoder to regress the style vectors of
labelled clips (see `tts.speakers.style_encoder`), so a label + intensity lands where clips of
that emotion and strength embed.
"""

from __future__ import annotations

import torch
from torch import nn

from tts.conditioning import STYLE_DIM
from tts.labels import EMOTIONS, check_emotion

NEUTRAL = EMOTIONS.index("neutral")


class EmotionTable(nn.Module):
    def __init__(self, style_dim: int = STYLE_DIM) -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(EMOTIONS), style_dim)
        nn.init.normal_(self.embedding.weight, std=0.1)

    @property
    def neutral(self) -> torch.Tensor:
        return self.embedding.weight[NEUTRAL]

    def forward(self, emotion: torch.Tensor, intensity: torch.Tensor) -> torch.Tensor:
        """[B] emotion indices and [B] intensities -> [B, style_dim]."""
        neutral = self.neutral.unsqueeze(0)
        direction = self.embedding(emotion) - neutral
        return neutral + intensity.to(direction.dtype).unsqueeze(-1) * direction

    def vector(self, emotion: str, intensity: float = 1.0) -> torch.Tensor:
        """The [style_dim] style vector of one label at one intensity."""
        if not isinstance(intensity, (int, float)) or not torch.isfinite(torch.tensor(intensity)):
            raise ValueError(f"emotion intensity must be a finite number, got {intensity!r}")
        if intensity < 0:
            raise ValueError(f"emotion intensity must be >= 0 (0 = neutral), got {intensity}")
        index = torch.tensor([EMOTIONS.index(check_emotion(emotion))], device=self.neutral.device)
        value = torch.tensor([float(intensity)], device=self.neutral.device)
        return self(index, value)[0]
