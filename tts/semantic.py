"""Semantic units: a content-first token stream for the LM, from Whisper base's encoder.

Why: our codec splits each 25 Hz frame into parallel FSQ groups, and every group mixes what is
said with who says it and how. An LM trained for a few CPU hours on such codes learns the
acoustic detail and barely reads its text (swapping every item's text raised validation loss
by only 0.27 of ~3 nats), so it speaks fluent non-words. An ASR encoder's states are mostly
content: Whisper was trained to map them to text. Clustering them into a few hundred units
per frame (as CosyVoice does with its supervised semantic tokens, or HuBERT units in
AudioLM/SPEAR-TTS) gives a stream the text largely determines. The LM predicts each frame's
unit first (codebook 0, no delay) and the codec's codes after it; the units are dropped
before the codec decodes, so synthesis needs no Whisper at all.

Frames: Whisper base turns 16 kHz audio into 100 Hz log-mels and its encoder halves that to
50 Hz; pairs of encoder frames are averaged to the codec's 25 Hz, and the unit sequence is
padded (last unit repeated) or trimmed to the codec's frame count. The encoder runs through
CTranslate2 (the faster-whisper weights from the part packages), in pieces of at most 30 s.

Units are k-means centroids of L2-normalised encoder states (`fit_kmeans`), saved as
safetensors + config.json like every other checkpoint (`SemanticTokenizer.save` / `load`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from tts.audio import check_finite, resample, to_mono
from tts.checkpoint import load_checkpoint, save_checkpoint
from tts.config import config_from_dict, config_to_dict
from tts.errors import AudioInputError, ConfigError

CHECKPOINT_KIND = "semantic_tokenizer"
WHISPER_RATE = 16000
WHISPER_HOP = 160  # mel hop at 16 kHz: 100 mel frames a second
ENCODER_RATE = 50.0  # the encoder's two-stride convolution halves the mel rate
MAX_MEL_FRAMES = 3000  # Whisper's 30 s window; longer audio is encoded in pieces


@dataclass
class SemanticConfig:
    n_clusters: int = 500
    frame_rate: float = 25.0  # the codec's frame rate; ENCODER_RATE must be a multiple of it
    encoder: str = "whisper-base"  # where the features come from (the only one built here)
    feature_dim: int = 512

    def __post_init__(self) -> None:
        if self.encoder != "whisper-base":
            raise ConfigError(
                f"semantic units from encoder {self.encoder!r} are not supported; "
                "this version builds them from 'whisper-base'"
            )
        if self.n_clusters < 2:
            raise ConfigError(f"SemanticConfig.n_clusters must be >= 2, got {self.n_clusters}")
        ratio = ENCODER_RATE / self.frame_rate
        if self.frame_rate <= 0 or abs(ratio - round(ratio)) > 1e-6:
            raise ConfigError(
                f"semantic units need a frame rate dividing {ENCODER_RATE:g} Hz (Whisper's "
                f"encoder rate); got {self.frame_rate:g}"
            )

    @property
    def pool(self) -> int:
        """Encoder frames averaged into one unit frame."""
        return round(ENCODER_RATE / self.frame_rate)


class WhisperEncoder:
    """Whisper base's encoder on CPU (int8) through CTranslate2: audio -> states [T, 512]."""

    def __init__(self, model_dir: str | Path | None = None, threads: int = 1) -> None:
        import ctranslate2
        from faster_whisper.feature_extractor import FeatureExtractor

        from tts.eval.asr import whisper_model_dir

        path = Path(model_dir) if model_dir is not None else whisper_model_dir()
        self._ct2 = ctranslate2
        self.model = ctranslate2.models.Whisper(
            str(path), device="cpu", compute_type="int8", intra_threads=threads
        )
        self.mels = FeatureExtractor(feature_size=self.model.n_mels)

    def states(self, audio: np.ndarray, sample_rate: int) -> torch.Tensor:
        """Encoder states [T, D] at 50 Hz of mono audio at any sample rate."""
        wav = to_mono(np.asarray(audio, dtype=np.float32))
        check_finite(wav, "audio for semantic units")
        if wav.size == 0:
            raise AudioInputError("cannot compute semantic units of empty audio")
        wav = resample(wav, sample_rate, WHISPER_RATE).astype(np.float32)
        mel = self.mels(wav)[:, : wav.size // WHISPER_HOP]  # [n_mels, frames], drop the spare
        pieces = []
        for start in range(0, mel.shape[1], MAX_MEL_FRAMES):
            piece = mel[:, start : start + MAX_MEL_FRAMES]
            piece = piece[:, : max(2, piece.shape[1] - piece.shape[1] % 2)]  # even, >= 2 frames
            view = self._ct2.StorageView.from_array(np.ascontiguousarray(piece[None], np.float32))
            pieces.append(torch.from_numpy(np.array(self.model.encode(view, to_cpu=True))[0]))
        return torch.cat(pieces).float()


def pool_states(states: torch.Tensor, pool: int, n_frames: int) -> torch.Tensor:
    """Average `pool` consecutive states [T, D] into frames, then pad/trim to `n_frames`.

    Padding repeats the last frame: the codec may count one frame more than the encoder.
    """
    if n_frames < 1:
        raise ConfigError(f"n_frames must be >= 1, got {n_frames}")
    usable = states.shape[0] // pool * pool
    if usable == 0:
        frames = states.mean(0, keepdim=True)
    else:
        frames = states[:usable].reshape(-1, pool, states.shape[1]).mean(1)
    if frames.shape[0] < n_frames:
        frames = torch.cat([frames, frames[-1:].expand(n_frames - frames.shape[0], -1)])
    return frames[:n_frames]


def fit_kmeans(
    features: torch.Tensor, n_clusters: int, iterations: int = 30, seed: int = 0
) -> torch.Tensor:
    """Centroids [C, D] of L2-normalised `features` [N, D]: k-means++ seeding, then Lloyd.

    An emptied cluster is re-seeded at the point farthest from its centroid.
    """
    x = F.normalize(features.float(), dim=-1)
    n = x.shape[0]
    if n < n_clusters:
        raise ConfigError(f"k-means needs at least {n_clusters} frames, got {n}")
    gen = torch.Generator().manual_seed(seed)
    centroids = x[torch.randint(n, (1,), generator=gen)]
    nearest = torch.cdist(x, centroids).squeeze(1).pow(2)
    for _ in range(1, n_clusters):  # k-means++: next seed drawn in proportion to distance^2
        pick = torch.multinomial(nearest + 1e-12, 1, generator=gen)
        centroids = torch.cat([centroids, x[pick]])
        nearest = torch.minimum(nearest, torch.cdist(x, x[pick]).squeeze(1).pow(2))
    for _ in range(iterations):
        distance = torch.cdist(x, centroids)
        assign = distance.argmin(1)
        counts = torch.bincount(assign, minlength=n_clusters)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        moved = sums / counts.clamp(min=1)[:, None]
        empty = counts == 0
        if empty.any():
            far = distance.gather(1, assign[:, None]).squeeze(1).topk(int(empty.sum())).indices
            moved[empty] = x[far]
        if torch.allclose(moved, centroids, atol=1e-6):
            centroids = moved
            break
        centroids = moved
    return centroids


class SemanticTokenizer:
    """Audio -> one unit id per codec frame. `units(audio, sr, n_frames)`."""

    def __init__(
        self,
        centroids: torch.Tensor,
        config: SemanticConfig,
        encoder: WhisperEncoder | None = None,
    ) -> None:
        if tuple(centroids.shape) != (config.n_clusters, config.feature_dim):
            raise ConfigError(
                f"centroids have shape {tuple(centroids.shape)}, the config says "
                f"({config.n_clusters}, {config.feature_dim})"
            )
        self.centroids = F.normalize(centroids.float(), dim=-1)
        self.config = config
        self._encoder = encoder

    @property
    def encoder(self) -> WhisperEncoder:
        if self._encoder is None:  # built on first use: loading Whisper takes a second
            self._encoder = WhisperEncoder()
        return self._encoder

    def assign(self, frames: torch.Tensor) -> torch.Tensor:
        """Nearest centroid (cosine) of each frame [T, D] -> ids [T]."""
        return (F.normalize(frames.float(), dim=-1) @ self.centroids.T).argmax(-1)

    def units(self, audio: np.ndarray, sample_rate: int, n_frames: int) -> torch.Tensor:
        """Unit ids [n_frames] (int64) of `audio`, aligned to the codec's frames."""
        states = self.encoder.states(audio, sample_rate)
        return self.assign(pool_states(states, self.config.pool, n_frames))

    def save(self, directory: str | Path, **metadata: Any) -> Path:
        return save_checkpoint(
            directory,
            {"centroids": self.centroids},
            CHECKPOINT_KIND,
            config_to_dict(self.config),
            **metadata,
        )

    @classmethod
    def load(
        cls, directory: str | Path, encoder: WhisperEncoder | None = None
    ) -> SemanticTokenizer:
        state, payload = load_checkpoint(directory, kind=CHECKPOINT_KIND)
        if "centroids" not in state:
            raise ConfigError(f"{directory} has no 'centroids' tensor")
        config = config_from_dict(SemanticConfig, payload["config"])
        return cls(state["centroids"], config, encoder)


def fit_tokenizer(
    clips: list[tuple[np.ndarray, int]],
    config: SemanticConfig,
    encoder: WhisperEncoder | None = None,
    seed: int = 0,
    progress: bool = True,
) -> SemanticTokenizer:
    """Fit units on `clips` ((audio, sample_rate) pairs): encode, pool, k-means."""
    encoder = encoder or WhisperEncoder()
    frames = []
    for audio, sr in tqdm(clips, desc="semantic features", unit="clip", disable=not progress):
        states = encoder.states(audio, sr)
        n = max(1, states.shape[0] // config.pool)
        frames.append(pool_states(states, config.pool, n))
    centroids = fit_kmeans(torch.cat(frames), config.n_clusters, seed=seed)
    return SemanticTokenizer(centroids, config, encoder)
