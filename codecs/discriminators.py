"""Optional adversarial training: multi-period and multi-resolution STFT discriminators.

Reconstruction losses alone give a slightly buzzy, over-smoothed vocoder; discriminators
push the decoder toward sharp harmonics and natural noise. Multi-period discriminators look
at the waveform folded by a period (2, 3, 5, 7, 11 samples: periodic structure at many
pitches); STFT discriminators look at magnitude spectrograms at several resolutions.
Losses: hinge for the adversarial terms, L1 feature matching on every intermediate map.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

Output = tuple[torch.Tensor, list[torch.Tensor]]  # (logits, intermediate feature maps)


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, channels: int) -> None:
        super().__init__()
        self.period = period
        chans = [1, channels, 2 * channels, 4 * channels, 8 * channels]
        self.convs = nn.ModuleList(
            nn.Conv2d(a, b, (5, 1), stride=(3, 1), padding=(2, 0))
            for a, b in itertools.pairwise(chans)
        )
        self.out = nn.Conv2d(chans[-1], 1, (3, 1), padding=(1, 0))

    def forward(self, wav: torch.Tensor) -> Output:  # [B, T]
        b, t = wav.shape
        pad = (-t) % self.period
        x = F.pad(wav, (0, pad), mode="reflect" if pad < t else "constant")
        x = x.view(b, 1, -1, self.period)  # fold: each column is one phase of the period
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            features.append(x)
        return self.out(x), features


class STFTDiscriminator(nn.Module):
    def __init__(self, n_fft: int, channels: int) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, n_fft // 4
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        chans = [1, channels, channels, channels, channels]
        self.convs = nn.ModuleList(
            nn.Conv2d(a, b, (3, 9), stride=(1, 2) if i else (1, 1), padding=(1, 4))
            for i, (a, b) in enumerate(itertools.pairwise(chans))
        )
        self.out = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, wav: torch.Tensor) -> Output:
        spec = torch.stft(wav, self.n_fft, self.hop, window=self.window, return_complex=True)
        x = torch.log1p(spec.abs())[:, None].transpose(2, 3)  # [B, 1, time, freq]
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            features.append(x)
        return self.out(x), features


class Discriminators(nn.Module):
    def __init__(
        self,
        periods: tuple[int, ...] = (2, 3, 5, 7, 11),
        stft_sizes: tuple[int, ...] = (512, 1024, 2048),
        channels: int = 32,
    ) -> None:
        super().__init__()
        self.discs = nn.ModuleList(
            [
                *(PeriodDiscriminator(p, channels) for p in periods),
                *(STFTDiscriminator(n, channels) for n in stft_sizes),
            ]
        )

    def forward(self, wav: torch.Tensor) -> list[Output]:
        return [d(wav) for d in self.discs]


def discriminator_loss(real: list[Output], fake: list[Output]) -> torch.Tensor:
    """Hinge loss: real logits pushed above +1, fake below -1."""
    loss = sum(
        F.relu(1 - r).mean() + F.relu(1 + f).mean()
        for (r, _), (f, _) in zip(real, fake, strict=True)
    )
    return loss / len(real)


def generator_loss(fake: list[Output]) -> torch.Tensor:
    return sum(F.relu(1 - f).mean() for f, _ in fake) / len(fake)


def feature_matching_loss(real: list[Output], fake: list[Output]) -> torch.Tensor:
    """L1 between feature maps, each scaled by the real map's mean magnitude (scale-free)."""
    total, count = 0.0, 0
    for (_, real_feats), (_, fake_feats) in zip(real, fake, strict=True):
        for r, f in zip(real_feats, fake_feats, strict=True):
            r = r.detach()
            total = total + (r - f).abs().mean() / r.abs().mean().clamp(min=1e-5)
            count += 1
    return total / count
