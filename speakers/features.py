"""Features shared by the trainable encoders: batched log-mel spectrograms and prosody stats.

`LogMel` zero-pads each signal by half a window on both sides instead of reflecting, so an
utterance gives the same frames alone as inside a zero-padded batch (batch == single).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class MelConfig:
    sample_rate: int = 16_000
    n_fft: int = 512
    win_length: int = 400  # 25 ms
    hop_length: int = 160  # 10 ms
    n_mels: int = 80
    f_min: float = 20.0
    f_max: float = 7_600.0


class LogMel(nn.Module):
    def __init__(self, config: MelConfig) -> None:
        super().__init__()
        import librosa  # here, not at import: LM training reads shards and needs none of it

        self.config = config
        fb = librosa.filters.mel(
            sr=config.sample_rate,
            n_fft=config.n_fft,
            n_mels=config.n_mels,
            fmin=config.f_min,
            fmax=config.f_max,
        )
        self.register_buffer("mel_fb", torch.from_numpy(fb).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(config.win_length), persistent=False)

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return lengths // self.config.hop_length + 1

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """[B, T] float -> [B, n_mels, T // hop + 1] natural-log mel power."""
        c = self.config
        padded = nn.functional.pad(wav, (c.n_fft // 2, c.n_fft // 2))
        spec = torch.stft(
            padded,
            n_fft=c.n_fft,
            hop_length=c.hop_length,
            win_length=c.win_length,
            window=self.window,
            center=False,
            return_complex=True,
        )
        power = spec.real**2 + spec.imag**2
        return torch.log(self.mel_fb @ power + 1e-6)


def lengths_to_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """[B] lengths -> [B, 1, max_len] float mask (1 = real frame)."""
    steps = torch.arange(max_len, device=lengths.device)
    return (steps[None, :] < lengths[:, None]).float().unsqueeze(1)


def pad_batch(wavs: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad 1-D float arrays into a [B, T_max] tensor and their [B] lengths."""
    lengths = torch.tensor([len(w) for w in wavs], dtype=torch.long)
    batch = torch.zeros(len(wavs), int(lengths.max()))
    for i, w in enumerate(wavs):
        batch[i, : len(w)] = torch.from_numpy(np.asarray(w, dtype=np.float32))
    return batch, lengths


PROSODY_FEATURES = (
    "logf0_mean",
    "logf0_std",
    "logf0_range",  # 90th - 10th percentile
    "voiced_fraction",
    "energy_mean_db",
    "energy_std_db",
    "onset_rate",  # energy-envelope peaks per second, a syllable-rate proxy
    "voiced_run_rate",  # voiced stretches per second
)


def prosody_features(wav: np.ndarray, sr: int = 16_000) -> np.ndarray:
    """Per-utterance prosody statistics (float32 [len(PROSODY_FEATURES)]), roughly unit scale.

    F0 comes from WORLD's DIO + StoneMask (fast, with a voicing decision); an utterance with no
    voiced frame (whisper) gets F0 statistics of zero and voiced fraction 0.
    """
    with warnings.catch_warnings():  # pyworld imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        import pyworld

    x = np.asarray(wav, dtype=np.float64)
    f0, t = pyworld.dio(x, sr, f0_floor=60.0, f0_ceil=700.0, frame_period=10.0)
    f0 = pyworld.stonemask(x, f0, t, sr)
    voiced = f0 > 0
    if voiced.sum() >= 3:
        log_f0 = np.log(f0[voiced])
        stats = [
            log_f0.mean() - np.log(150.0),  # centred near a typical voice
            log_f0.std() * 5.0,
            (np.percentile(log_f0, 90) - np.percentile(log_f0, 10)) * 2.0,
        ]
    else:
        stats = [0.0, 0.0, 0.0]
    hop = sr // 100
    n = len(x) // hop
    frames = x[: n * hop].reshape(n, hop) if n else np.zeros((1, hop))
    energy_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    seconds = max(len(x) / sr, 1e-3)
    # Syllable-rate proxy: peaks of the smoothed energy envelope that rise 6 dB above the
    # preceding valley.
    smooth = np.convolve(energy_db, np.ones(5) / 5, mode="same")
    peaks, valley = 0, smooth[0] if len(smooth) else 0.0
    for i in range(1, len(smooth) - 1):
        valley = min(valley, smooth[i])
        if smooth[i] >= smooth[i - 1] and smooth[i] > smooth[i + 1] and smooth[i] - valley > 6:
            peaks += 1
            valley = smooth[i]
    runs = int(np.count_nonzero(np.diff(voiced.astype(int)) == 1) + (1 if voiced[:1].any() else 0))
    stats += [
        voiced.mean(),
        (energy_db.mean() + 30.0) / 10.0,
        energy_db.std() / 10.0,
        peaks / seconds / 4.0,
        runs / seconds / 4.0,
    ]
    return np.asarray(stats, dtype=np.float32)
