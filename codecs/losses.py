"""Reconstruction losses for codec training: multi-resolution log-mel and STFT losses.

Several window sizes because one resolution cannot see both pitch harmonics (long windows)
and transients (short windows); a decoder trained on one resolution rings or smears.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# (n_fft, hop, n_mels) per resolution, for 24 kHz audio.
DEFAULT_RESOLUTIONS: tuple[tuple[int, int, int], ...] = (
    (512, 128, 64),
    (1024, 256, 100),
    (2048, 512, 128),
)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear (3 mels per 200 Hz) below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    log_step = np.log(6.4) / 27.0
    return np.where(
        hz < 1000.0, hz * 3.0 / 200.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / log_step
    )


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    log_step = np.log(6.4) / 27.0
    return np.where(mel < 15.0, mel * 200.0 / 3.0, 1000.0 * np.exp(log_step * (mel - 15.0)))


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None
) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1] triangular filters on Slaney's mel scale, each scaled to unit
    area in Hz (Slaney normalisation): the filterbank of HiFi-GAN and of librosa's defaults
    (equal to `librosa.filters.mel` to float32 precision, tested), without importing librosa,
    so codec training runs where only torch and numpy are (a lent GPU)."""
    f_max = sample_rate / 2 if f_max is None else f_max
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    filters = np.maximum(0.0, np.minimum(rising, falling))
    filters *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return filters.astype(np.float32)


def stft_magnitude(wav: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor) -> torch.Tensor:
    """[B, T] -> magnitude [B, n_fft/2+1, frames] (centred, reflect-padded)."""
    spec = torch.stft(
        wav, n_fft, hop, window=window, center=True, pad_mode="reflect", return_complex=True
    )
    return spec.abs()


class MelSpectrogram(nn.Module):
    """Log-mel spectrogram with Slaney's mel filterbank (as in HiFi-GAN)."""

    def __init__(self, sample_rate: int, n_fft: int, hop: int, n_mels: int) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        fb = mel_filterbank(sample_rate, n_fft, n_mels)
        self.register_buffer("filterbank", torch.from_numpy(fb).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:  # [B, T] -> [B, n_mels, frames]
        mag = stft_magnitude(wav, self.n_fft, self.hop, self.window)
        return torch.log(torch.clamp(self.filterbank @ mag, min=1e-5))


class MultiResolutionLoss(nn.Module):
    """mel: L1 between log-mels; stft: spectral convergence + L1 between log magnitudes."""

    def __init__(
        self, sample_rate: int, resolutions: tuple[tuple[int, int, int], ...] = DEFAULT_RESOLUTIONS
    ) -> None:
        super().__init__()
        self.mels = nn.ModuleList(MelSpectrogram(sample_rate, n, h, m) for n, h, m in resolutions)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        mel = pred.new_zeros(())
        stft = pred.new_zeros(())
        for m in self.mels:
            p_mag = stft_magnitude(pred, m.n_fft, m.hop, m.window)
            t_mag = stft_magnitude(target, m.n_fft, m.hop, m.window)
            p_log, t_log = torch.log(p_mag.clamp(min=1e-5)), torch.log(t_mag.clamp(min=1e-5))
            p_mel = torch.log(torch.clamp(m.filterbank @ p_mag, min=1e-5))
            t_mel = torch.log(torch.clamp(m.filterbank @ t_mag, min=1e-5))
            mel = mel + F.l1_loss(p_mel, t_mel)
            convergence = torch.linalg.norm(t_mag - p_mag) / torch.linalg.norm(t_mag).clamp(
                min=1e-5
            )
            stft = stft + convergence + F.l1_loss(p_log, t_log)
        n = len(self.mels)
        return {"mel": mel / n, "stft": stft / n}


def mel_distance(pred: torch.Tensor, target: torch.Tensor, sample_rate: int) -> float:
    """Mean multi-resolution log-mel L1 between two equal-length [B, T] or [T] signals."""
    pred, target = torch.atleast_2d(pred).float(), torch.atleast_2d(target).float()
    with torch.no_grad():
        return float(MultiResolutionLoss(sample_rate).to(pred.device)(pred, target)["mel"])
