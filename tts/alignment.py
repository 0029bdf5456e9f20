"""Guided attention: a training-only loss that pulls a few attention heads' view of the text
towards the diagonal (audio step t of T reads phoneme n of N near n/N = t/T).

Why: a decoder-only LM has to discover by itself which phoneme each frame is saying. With a
few hours of data it memorises sentences instead (validation loss on unseen sentences rises
while training loss falls) and at inference says something speech-like but not the text.
DC-TTS (Tachibana et al., 2017) showed that penalising attention far from the diagonal makes
text-to-speech alignment appear in a fraction of the steps. Here the penalty applies to the
first `heads` heads of the chosen `layers`, with their attention renormalised over the text
keys only: those heads may still attend to past audio as they like, but whatever they read
from the text must come from near the current position. Generation is unchanged (no probe).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from tts.errors import ConfigError
from tts.model import N_CONDITION_TOKENS, Attention, CodecLM, LMConfig


@dataclass
class GuidedAttention:
    weight: float = 0.0  # added to the cross-entropy as weight * penalty; 0 turns it off
    layers: tuple[int, ...] = (2, 3, 4, 5)  # block indices whose heads are guided
    heads: int = 2  # the first `heads` heads of each guided layer
    sigma: float = 0.2  # width of the allowed band, as a fraction of the text (DC-TTS: 0.2)

    def check(self, config: LMConfig) -> None:
        if self.weight < 0 or self.sigma <= 0:
            raise ConfigError("guided attention needs weight >= 0 and sigma > 0")
        if not self.layers or any(not 0 <= i < config.n_layer for i in self.layers):
            raise ConfigError(
                f"guided.layers {list(self.layers)} must name blocks in [0, {config.n_layer})"
            )
        if not 1 <= self.heads <= config.n_head:
            raise ConfigError(f"guided.heads={self.heads} must lie in [1, {config.n_head}]")


def diagonal_penalty(
    text_lengths: torch.Tensor, step_lengths: torch.Tensor, n_text: int, n_steps: int, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Penalty W [B, T, N] = 1 - exp(-(n/N_b - t/T_b)^2 / 2 sigma^2), and the mask of real
    (step, phoneme) pairs [B, T, N]."""
    device = text_lengths.device
    n = torch.arange(n_text, device=device)[None, None, :]
    t = torch.arange(n_steps, device=device)[None, :, None]
    text_len = text_lengths[:, None, None].float()
    step_len = step_lengths.clamp(min=1)[:, None, None].float()  # 0 = an item left out
    penalty = 1.0 - torch.exp(-((n / text_len - t / step_len) ** 2) / (2 * sigma**2))
    mask = (n < text_lengths[:, None, None]) & (t < step_lengths[:, None, None])
    return penalty, mask


@contextmanager
def probe_text_attention(
    model: CodecLM, guided: GuidedAttention, n_text: int
) -> Iterator[list[Attention]]:
    """While active, the guided layers keep their first heads' scores against the text keys."""
    raw = getattr(model, "module", model)  # DistributedDataParallel wraps the model
    attns = [raw.blocks[i].attn for i in guided.layers]
    for attn in attns:
        attn.probe = (guided.heads, N_CONDITION_TOKENS, N_CONDITION_TOKENS + n_text)
    try:
        yield attns
    finally:
        for attn in attns:
            attn.probe, attn.probe_scores = None, None


def guided_attention_loss(
    attns: list[Attention],
    phoneme_lengths: torch.Tensor,
    step_lengths: torch.Tensor,
    n_steps: int,
    sigma: float,
) -> torch.Tensor:
    """Mean diagonal penalty of the probed heads' text attention over every real audio step.

    Audio step t of item b sits at sequence column (4 + phoneme_lengths[b]) + t (the training
    layout of CodecLM.forward); its attention is renormalised over that item's real phonemes.
    """
    columns = (
        phoneme_lengths[:, None]
        + N_CONDITION_TOKENS
        + torch.arange(n_steps, device=phoneme_lengths.device)
    )
    if any(attn.probe_scores is None for attn in attns):
        raise RuntimeError("run the model's forward inside probe_text_attention")
    heads, n_text = attns[0].probe_scores.shape[1], attns[0].probe_scores.shape[3]  # type: ignore[union-attr]
    # The same for every guided layer: the penalty, the real phonemes, the real steps.
    penalty, mask = diagonal_penalty(phoneme_lengths, step_lengths, n_text, n_steps, sigma)
    kept = (penalty * mask)[:, None]
    real_text = torch.arange(n_text, device=columns.device) < phoneme_lengths[:, None]
    rows = (step_lengths.clamp(max=n_steps).sum() * heads).clamp(min=1)
    index = columns[:, None, :, None].expand(-1, heads, -1, n_text)
    total = phoneme_lengths.new_zeros((), dtype=torch.float32)
    for attn in attns:
        scores = attn.probe_scores.gather(2, index).float()  # type: ignore[union-attr]  # [B, h, T, N]
        weights = scores.masked_fill(~real_text[:, None, None, :], float("-inf")).softmax(-1)
        # Each real step's expected penalty under its attention, averaged over steps and heads.
        total = total + (weights * kept).sum() / rows
    return total / len(attns)
