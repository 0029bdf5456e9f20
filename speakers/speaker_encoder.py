"""Speaker encoders: reference audio -> an L2-normalised 256-d identity embedding.

Two implementations behind one interface:

* `GE2EEncoder`, the default: Resemblyzer's pretrained GE2E LSTM (weights ship in the
  `resemblyzer` wheel). We rebuild its three-layer LSTM here and read `pretrained.pt` with
  `weights_only=True`, which avoids Resemblyzer's unrestricted `torch.load`, its print on
  load and its webrtcvad import; features and the 1.6 s partial-window averaging follow its
  recipe, so embeddings match `VoiceEncoder.embed_utterance`. Our batched version runs all
  partial windows of all clips through the LSTM at once.
* `EcapaEncoder`: our trainable ECAPA-TDNN (`tts.speakers.ecapa`), saved as safetensors +
  config.json and trained with `recipes/train_speaker_encoder.py`.

`load_speaker_encoder("resemblyzer" | checkpoint_dir)` returns either.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tts.audio import check_sample_rate, resample
from tts.checkpoint import (
    load_checkpoint,
    load_state_into,
    read_checkpoint_config,
    safe_torch_load,
    save_checkpoint,
)
from tts.config import config_from_dict
from tts.errors import AudioInputError, CheckpointError
from tts.speakers.ecapa import EcapaConfig, EcapaTdnn
from tts.speakers.embedding_cache import DEFAULT_CACHE, EmbeddingCache, module_fingerprint
from tts.speakers.features import pad_batch
from tts.speakers.reference import SAMPLE_RATE, ReferenceClip

ECAPA_KIND = "speaker-encoder-ecapa"


def prepare_wav(wav: np.ndarray | torch.Tensor, sr: int) -> np.ndarray:
    """Any [samples] / [channels, samples] float signal -> float32 mono at 16 kHz."""
    if isinstance(wav, torch.Tensor):
        wav = wav.detach().to("cpu", torch.float32).numpy()
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim == 2:
        wav = wav.mean(axis=0)
    if wav.ndim != 1 or wav.size == 0:
        raise AudioInputError(
            f"speaker encoder input must be non-empty [samples] or [channels, samples], "
            f"got shape {wav.shape}"
        )
    if not np.all(np.isfinite(wav)):
        raise AudioInputError("speaker encoder input contains NaN/Inf samples")
    return resample(wav, check_sample_rate(sr), SAMPLE_RATE)


class SpeakerEncoder(ABC):
    """Maps speech to an L2-normalised identity embedding of size `dim`."""

    dim: int
    identity: str  # names the encoder and its weights; part of the embedding cache key

    @abstractmethod
    def _embed_16k(self, wavs: list[np.ndarray]) -> torch.Tensor:
        """[B, dim] L2-normalised embeddings of mono 16 kHz float32 signals."""

    def embed_batch(self, wavs: list[np.ndarray | torch.Tensor], sr: int) -> torch.Tensor:
        if len(wavs) == 0:
            raise AudioInputError("embed_batch needs at least one waveform")
        return self._embed_16k([prepare_wav(w, sr) for w in wavs])

    def embed(self, wav: np.ndarray | torch.Tensor, sr: int) -> torch.Tensor:
        return self.embed_batch([wav], sr)[0]

    def embed_reference(
        self, clip: ReferenceClip, cache: EmbeddingCache | None = DEFAULT_CACHE
    ) -> torch.Tensor:
        """Embedding of a processed reference clip, served from `cache` (default: the
        process-wide LRU; None disables caching) when this encoder embedded it before."""
        if cache is None:
            return self.embed(clip.wav, clip.sample_rate)
        return cache.get_or_compute(
            clip.content_hash, self.identity, lambda: self.embed(clip.wav, clip.sample_rate)
        )


# ----------------------------------------------------------------------------- GE2E


class GE2ENetwork(nn.Module):
    """Resemblyzer's network: 3-layer LSTM over 40 mel bands, last hidden state -> 256-d."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(40, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, 256)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        return F.normalize(F.relu(self.linear(hidden[-1])), dim=1)


def resemblyzer_weights_path() -> Path:
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or spec.origin is None:
        raise CheckpointError("resemblyzer is not installed: pip install resemblyzer")
    path = Path(spec.origin).parent / "pretrained.pt"
    if not path.is_file():
        raise CheckpointError(f"resemblyzer's pretrained weights are missing: {path}")
    return path


class GE2EEncoder(SpeakerEncoder):
    dim = 256
    partial_frames = 160  # 1.6 s windows of 10 ms frames
    partials_per_second = 1.3
    min_coverage = 0.75  # keep a last, partly padded window only if it is 75% real audio
    hop = 160

    def __init__(self, device: str | torch.device = "cpu") -> None:
        checkpoint = safe_torch_load(resemblyzer_weights_path())
        state = {
            k: v for k, v in checkpoint["model_state"].items() if k.startswith(("lstm.", "linear."))
        }
        self.net = GE2ENetwork()
        load_state_into(self.net, state, "resemblyzer pretrained.pt")
        self.device = torch.device(device)
        self.net.to(self.device).eval()
        self.identity = module_fingerprint(self.net, "resemblyzer-ge2e")

    def _partials(self, wav: np.ndarray) -> np.ndarray:
        """[n_partials, 160, 40] mel windows covering the utterance."""
        n_frames = int(np.ceil((len(wav) + 1) / self.hop))
        step = round(SAMPLE_RATE / self.partials_per_second / self.hop)
        starts = list(range(0, max(1, n_frames - self.partial_frames + step + 1), step))
        last_start = starts[-1] * self.hop
        coverage = (len(wav) - last_start) / (self.partial_frames * self.hop)
        if coverage < self.min_coverage and len(starts) > 1:
            starts.pop()
        needed = (starts[-1] + self.partial_frames) * self.hop
        wav = np.pad(wav, (0, max(0, needed - len(wav))))
        import librosa  # here, not at import: LM training reads shards and needs none of it

        mel = librosa.feature.melspectrogram(
            y=wav, sr=SAMPLE_RATE, n_fft=400, hop_length=self.hop, n_mels=40
        ).T.astype(np.float32)
        return np.stack([mel[s : s + self.partial_frames] for s in starts])

    @torch.inference_mode()
    def _embed_16k(self, wavs: list[np.ndarray]) -> torch.Tensor:
        partials = [self._partials(w) for w in wavs]
        counts = [len(p) for p in partials]
        mels = torch.from_numpy(np.concatenate(partials)).to(self.device)
        embeds = self.net(mels).cpu().split(counts)
        return F.normalize(torch.stack([e.mean(0) for e in embeds]), dim=1)


# ----------------------------------------------------------------------------- ECAPA


class EcapaEncoder(SpeakerEncoder):
    def __init__(self, model: EcapaTdnn, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.config = model.config
        self.dim = model.config.embedding_dim
        self.identity = module_fingerprint(self.model, "ecapa")

    @torch.inference_mode()
    def _embed_16k(self, wavs: list[np.ndarray]) -> torch.Tensor:
        batch, lengths = pad_batch(wavs)
        emb = self.model(batch.to(self.device), lengths.to(self.device))
        return F.normalize(emb, dim=1).cpu()

    def save(self, directory: str | Path, **metadata: object) -> Path:
        return save_ecapa(self.model, directory, **metadata)


def save_ecapa(model: EcapaTdnn, directory: str | Path, **metadata: object) -> Path:
    return save_checkpoint(
        directory, model.state_dict(), ECAPA_KIND, asdict(model.config), **metadata
    )


def load_ecapa(directory: str | Path) -> EcapaTdnn:
    state, payload = load_checkpoint(directory, kind=ECAPA_KIND)
    model = EcapaTdnn(config_from_dict(EcapaConfig, payload["config"]))
    load_state_into(model, state, str(directory))
    return model


def load_speaker_encoder(
    name_or_path: str | Path = "resemblyzer", device: str | torch.device = "cpu"
) -> SpeakerEncoder:
    """ "resemblyzer" (pretrained GE2E, the default) or an ECAPA checkpoint directory."""
    if str(name_or_path) == "resemblyzer":
        return GE2EEncoder(device)
    path = Path(name_or_path)
    kind = read_checkpoint_config(path).get("kind")
    if kind != ECAPA_KIND:
        raise CheckpointError(
            f"{path} holds a {kind!r} checkpoint, not a speaker encoder ({ECAPA_KIND!r}); "
            "pass 'resemblyzer' or a directory written by recipes/train_speaker_encoder.py"
        )
    return EcapaEncoder(load_ecapa(path), device)
