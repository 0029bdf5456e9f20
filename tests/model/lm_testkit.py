"""Helpers for the codec LM tests: tiny configs, random texts and conditioning."""

from __future__ import annotations

import torch

from tts.conditioning import SPEAKER_DIM, STYLE_DIM, Conditioning
from tts.model import CodecLM, LMConfig

VOCAB = 40
CODEBOOK = 32


def tiny_config(**overrides) -> LMConfig:
    base = {"vocab_size": VOCAB, "codebook_size": CODEBOOK, "n_codebooks": 3, "max_seq_len": 512}
    base.update(overrides)
    return LMConfig.preset("tiny", **base)


def random_cond(batch: int, seed: int = 0, style: bool = True) -> Conditioning:
    g = torch.Generator().manual_seed(seed)
    speaker = torch.randn(batch, SPEAKER_DIM, generator=g)
    return Conditioning(
        speaker=speaker / speaker.norm(dim=1, keepdim=True),
        emotion=torch.randint(0, 7, (batch,), generator=g),
        intensity=torch.rand(batch, generator=g) * 1.5,
        language=torch.randint(0, 5, (batch,), generator=g),
        style=torch.randn(batch, STYLE_DIM, generator=g) if style else None,
    )


def select(cond: Conditioning, i: int) -> Conditioning:
    """Item i of a conditioning batch, as a batch of one."""
    return Conditioning(
        speaker=cond.speaker[i : i + 1],
        emotion=cond.emotion[i : i + 1],
        intensity=cond.intensity[i : i + 1],
        language=cond.language[i : i + 1],
        style=None if cond.style is None else cond.style[i : i + 1],
    )


def random_texts(lengths: list[int], seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(1, VOCAB, (n,), generator=g) for n in lengths]


def sharpen(model: CodecLM, scale: float = 8.0) -> CodecLM:
    """Scale the heads so a random model's logits are far from ties (argmax is stable)."""
    with torch.no_grad():
        for head in model.heads:
            head.weight.mul_(scale)
    return model
