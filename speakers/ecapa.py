"""A small ECAPA-TDNN speaker encoder and its AAM-softmax training loss, in plain PyTorch.

ECAPA-TDNN (Desplanques et al., 2020): a 1-D conv front layer, SE-Res2Net blocks with growing
dilation, multi-layer feature aggregation, attentive statistics pooling with global context,
and a linear projection to the embedding. Every layer takes a frame mask so that a padded
batch embeds each utterance exactly as it would alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from tts.speakers.features import LogMel, MelConfig, lengths_to_mask


@dataclass
class EcapaConfig:
    mel: MelConfig = field(default_factory=MelConfig)
    channels: int = 512
    scale: int = 8  # Res2Net branches
    se_channels: int = 128
    attention_channels: int = 128
    dilations: tuple[int, ...] = (2, 3, 4)
    embedding_dim: int = 256


def masked_mean_std(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean and std over time; `w` [B, 1 or C, T] sums to 1 over T."""
    mean = (x * w).sum(-1)
    var = ((x - mean.unsqueeze(-1)) ** 2 * w).sum(-1)
    return mean, var.clamp(min=1e-6).sqrt()


class TdnnBlock(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv1d(
            cin, cout, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2
        )
        self.norm = nn.BatchNorm1d(cout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.norm(F.relu(self.conv(x))) * mask  # re-zero padding so it never leaks


class Res2Conv(nn.Module):
    """Split channels into `scale` groups; each group sees its own input plus the previous
    group's output, which grows the receptive field within one block."""

    def __init__(self, channels: int, scale: int, dilation: int) -> None:
        super().__init__()
        assert channels % scale == 0, "channels must be divisible by the Res2Net scale"
        width = channels // scale
        self.scale = scale
        self.convs = nn.ModuleList(TdnnBlock(width, width, 3, dilation) for _ in range(scale - 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        groups = torch.chunk(x, self.scale, dim=1)
        outs, prev = [groups[0]], None
        for i, conv in enumerate(self.convs, start=1):
            prev = conv(groups[i] if prev is None else groups[i] + prev, mask)
            outs.append(prev)
        return torch.cat(outs, dim=1)


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, bottleneck: int) -> None:
        super().__init__()
        self.down = nn.Conv1d(channels, bottleneck, 1)
        self.up = nn.Conv1d(bottleneck, channels, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mean = (x * mask).sum(-1, keepdim=True) / mask.sum(-1, keepdim=True)
        return x * torch.sigmoid(self.up(F.relu(self.down(mean))))


class SERes2Block(nn.Module):
    def __init__(self, channels: int, scale: int, se_channels: int, dilation: int) -> None:
        super().__init__()
        self.pre = TdnnBlock(channels, channels)
        self.res2 = Res2Conv(channels, scale, dilation)
        self.post = TdnnBlock(channels, channels)
        self.se = SqueezeExcite(channels, se_channels)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.post(self.res2(self.pre(x, mask), mask), mask)
        return (self.se(h, mask) + x) * mask


class AttentiveStatsPool(nn.Module):
    """Channel-wise attention over frames, conditioned on the utterance's global mean/std."""

    def __init__(self, channels: int, attention_channels: int) -> None:
        super().__init__()
        self.tdnn = TdnnBlock(3 * channels, attention_channels)
        self.score = nn.Conv1d(attention_channels, channels, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        uniform = mask / mask.sum(-1, keepdim=True)
        mean, std = masked_mean_std(x, uniform)
        frames = x.shape[-1]
        context = torch.cat(
            [
                x,
                mean.unsqueeze(-1).expand(-1, -1, frames),
                std.unsqueeze(-1).expand(-1, -1, frames),
            ],
            1,
        )
        scores = self.score(torch.tanh(self.tdnn(context, mask)))
        weights = torch.softmax(scores.masked_fill(mask == 0, float("-inf")), dim=-1)
        mean, std = masked_mean_std(x, weights)
        return torch.cat([mean, std], dim=1)


class EcapaTdnn(nn.Module):
    def __init__(self, config: EcapaConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.features = LogMel(config.mel)
        self.front = TdnnBlock(config.mel.n_mels, c, kernel=5)
        self.blocks = nn.ModuleList(
            SERes2Block(c, config.scale, config.se_channels, d) for d in config.dilations
        )
        n_cat = c * len(config.dilations)
        self.aggregate = TdnnBlock(n_cat, n_cat)
        self.pool = AttentiveStatsPool(n_cat, config.attention_channels)
        self.pool_norm = nn.BatchNorm1d(2 * n_cat)
        self.project = nn.Linear(2 * n_cat, config.embedding_dim)

    def forward(self, wav: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """[B, T] 16 kHz audio (zero-padded, with [B] sample lengths) -> [B, D] raw embeddings."""
        feats = self.features(wav)
        if lengths is None:
            lengths = torch.full((wav.shape[0],), wav.shape[-1], device=wav.device)
        mask = lengths_to_mask(self.features.frame_lengths(lengths), feats.shape[-1])
        # Per-utterance mean normalisation removes the channel (microphone) offset.
        feats = (feats - (feats * mask).sum(-1, keepdim=True) / mask.sum(-1, keepdim=True)) * mask
        x = self.front(feats, mask)
        outs = []
        for block in self.blocks:
            x = block(x, mask)
            outs.append(x)
        h = self.aggregate(torch.cat(outs, dim=1), mask)
        return self.project(self.pool_norm(self.pool(h, mask)))


class AAMSoftmax(nn.Module):
    """Additive angular margin softmax: the target class's angle is penalised by `margin`, so
    embeddings of one speaker have to cluster tightly to be classified."""

    def __init__(self, dim: int, n_classes: int, margin: float = 0.2, scale: float = 30.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_classes, dim) * 0.01)
        self.margin, self.scale = margin, scale

    def forward(self, emb: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, plain cosine logits for accuracy)."""
        cos = F.linear(F.normalize(emb), F.normalize(self.weight)).clamp(-1 + 1e-7, 1 - 1e-7)
        sin = (1 - cos**2).sqrt()
        m = self.margin
        with_margin = cos * math.cos(m) - sin * math.sin(m)  # cos(theta + m)
        # Past theta = pi - m, cos(theta + m) stops decreasing; use a linear penalty there.
        with_margin = torch.where(
            cos > math.cos(math.pi - m), with_margin, cos - math.sin(math.pi - m) * m
        )
        onehot = F.one_hot(labels, cos.shape[1]).bool()
        logits = torch.where(onehot, with_margin, cos) * self.scale
        return F.cross_entropy(logits, labels), cos
