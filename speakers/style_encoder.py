"""Style encoder: a reference clip -> a STYLE_DIM vector of prosody and emotion, not identity.

Architecture (Global Style Tokens, Wang et al. 2018, plus prosody statistics):

    log-mel -> 2-D conv stack (stride 2) -> GRU -> mean over time -> query ---attention over a learned bank of
    style tokens---> token mix  ⊕  MLP(prosody stats: log-F0 level/spread/range, voicing,
    energy, rate proxies) -> linear -> layer norm -> style vector

Training heads on the style vector:
* emotion classification over `tts.labels.EMOTIONS` (cross-entropy),
* intensity regression (MSE; neutral clips have target 0),
* speaker classification behind a gradient-reversal layer (DANN). We chose gradient reversal
  over a separately-optimised adversary because it trains in one loop with one optimiser: the
  speaker head learns to recognise the speaker while the reversed gradient pushes the encoder
  to make that impossible, removing identity from the style vector.
* an `EmotionTable` fitted to the (detached) style vectors, so label + intensity can stand in
  for a style clip.

Saved as safetensors + config.json (kind "style-encoder"); `recipes/train_style_encoder.py`
trains it from a JSONL manifest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tts.checkpoint import load_checkpoint, load_state_into, save_checkpoint
from tts.conditioning import STYLE_DIM
from tts.config import config_from_dict
from tts.labels import EMOTIONS
from tts.speakers.embedding_cache import DEFAULT_CACHE, EmbeddingCache, module_fingerprint
from tts.speakers.emotion_table import EmotionTable
from tts.speakers.features import (
    PROSODY_FEATURES,
    LogMel,
    MelConfig,
    lengths_to_mask,
    pad_batch,
    prosody_features,
)
from tts.speakers.reference import SAMPLE_RATE, ReferenceClip
from tts.speakers.speaker_encoder import prepare_wav

STYLE_KIND = "style-encoder"


@dataclass
class StyleEncoderConfig:
    mel: MelConfig = field(default_factory=MelConfig)
    conv_channels: tuple[int, ...] = (32, 32, 64, 64, 128, 128)
    gru_size: int = 128
    n_tokens: int = 10
    token_dim: int = 128
    n_heads: int = 4
    use_prosody: bool = True
    prosody_hidden: int = 64
    style_dim: int = STYLE_DIM
    n_speakers: int = 0  # size of the adversarial speaker head (0 = none)
    adversary_hidden: int = 128


class GradientReversal(torch.autograd.Function):
    """Identity forward; multiplies the gradient by -weight backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: float) -> torch.Tensor:  # type: ignore[override]
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return -ctx.weight * grad, None


class ChannelNorm(nn.Module):
    """LayerNorm over channels at each time-frequency position. Unlike BatchNorm it does not
    depend on the batch (its running statistics lagged the fast-moving encoder and made eval
    outputs differ from training), nor on how much padding a batch has."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T, F]
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ReferenceEncoder(nn.Module):
    """Log-mel [B, n_mels, T] -> [B, gru_size] summary of the whole utterance."""

    def __init__(self, n_mels: int, channels: tuple[int, ...], gru_size: int) -> None:
        super().__init__()
        layers, cin = [], 1
        for cout in channels:
            layers += [
                nn.Conv2d(cin, cout, 3, stride=2, padding=1),
                ChannelNorm(cout),
                nn.ReLU(),
            ]
            cin = cout
        self.convs = nn.Sequential(*layers)
        freq = n_mels
        for _ in channels:
            freq = (freq + 1) // 2
        self.n_down = len(channels)
        self.gru = nn.GRU(cin * freq, gru_size, batch_first=True)

    def forward(self, mel: torch.Tensor, frame_lengths: torch.Tensor) -> torch.Tensor:
        mask = lengths_to_mask(frame_lengths, mel.shape[-1])
        x = self.convs((mel * mask).transpose(1, 2).unsqueeze(1))  # [B, C, T', F']
        b, c, t, f = x.shape
        x = x.permute(0, 2, 1, 3).reshape(b, t, c * f)
        lengths = frame_lengths
        for _ in range(self.n_down):
            lengths = (lengths + 1) // 2
        packed = nn.utils.rnn.pack_padded_sequence(
            x, lengths.clamp(1, t).cpu(), batch_first=True, enforce_sorted=False
        )
        out, _ = self.gru(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=t)
        # Mean over time rather than the last state: a summary that does not drift with the
        # clip's length (training crops are shorter than whole references).
        mask = lengths_to_mask(lengths.clamp(1, t), t).transpose(1, 2)  # [B, T', 1]
        return (out * mask).sum(1) / mask.sum(1)


class StyleTokens(nn.Module):
    """Multi-head attention of the reference summary over a bank of learned style tokens."""

    def __init__(self, query_dim: int, n_tokens: int, token_dim: int, n_heads: int) -> None:
        super().__init__()
        self.tokens = nn.Parameter(torch.randn(n_tokens, token_dim) * 0.5)
        self.query = nn.Linear(query_dim, token_dim)
        self.attention = nn.MultiheadAttention(token_dim, n_heads, batch_first=True)

    def forward(self, summary: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> ([B, token_dim] token mix, [B, n_tokens] attention weights)."""
        keys = torch.tanh(self.tokens).unsqueeze(0).expand(summary.shape[0], -1, -1)
        mixed, weights = self.attention(self.query(summary).unsqueeze(1), keys, keys)
        return mixed.squeeze(1), weights.squeeze(1)


class StyleEncoder(nn.Module):
    def __init__(self, config: StyleEncoderConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or StyleEncoderConfig()
        self.features = LogMel(config.mel)
        self.reference = ReferenceEncoder(config.mel.n_mels, config.conv_channels, config.gru_size)
        self.gst = StyleTokens(config.gru_size, config.n_tokens, config.token_dim, config.n_heads)
        joint = config.token_dim
        if config.use_prosody:
            self.prosody = nn.Sequential(
                nn.Linear(len(PROSODY_FEATURES), config.prosody_hidden),
                nn.ReLU(),
                nn.Linear(config.prosody_hidden, config.prosody_hidden),
            )
            joint += config.prosody_hidden
        self.out = nn.Linear(joint, config.style_dim)
        self.emotion_head = nn.Linear(config.style_dim, len(EMOTIONS))
        self.intensity_head = nn.Linear(config.style_dim, 1)
        self.emotion_table = EmotionTable(config.style_dim)
        if config.n_speakers > 0:
            self.speaker_head = nn.Sequential(
                nn.Linear(config.style_dim, config.adversary_hidden),
                nn.ReLU(),
                nn.Linear(config.adversary_hidden, config.n_speakers),
            )

    @property
    def dim(self) -> int:
        return self.config.style_dim

    def forward(
        self, wav: torch.Tensor, lengths: torch.Tensor, prosody: torch.Tensor
    ) -> torch.Tensor:
        """[B, T] 16 kHz audio, [B] lengths, [B, n_prosody] stats -> [B, style_dim]."""
        # Fixed affine scaling keeps level and spectral tilt (cues for anger, whisper) that
        # per-utterance normalisation would remove.
        mel = (self.features(wav) + 6.0) / 4.0
        summary = self.reference(mel, self.features.frame_lengths(lengths))
        parts = [self.gst(summary)[0]]
        if self.config.use_prosody:
            parts.append(self.prosody(prosody))
        # Normalising bounds the style vector: the gradient-reversed adversary could otherwise
        # win by inflating its scale (tanh would saturate instead, and stop learning).
        return F.layer_norm(self.out(torch.cat(parts, dim=-1)), (self.config.style_dim,))

    # ------------------------------------------------------------------ inference helpers

    def _inputs(self, wavs: list[np.ndarray]) -> tuple[torch.Tensor, ...]:
        device = self.out.weight.device
        batch, lengths = pad_batch(wavs)
        prosody = torch.from_numpy(np.stack([prosody_features(w, SAMPLE_RATE) for w in wavs]))
        return batch.to(device), lengths.to(device), prosody.to(device)

    @torch.inference_mode()
    def embed_batch(self, wavs: list[np.ndarray | torch.Tensor], sr: int) -> torch.Tensor:
        was_training = self.training
        self.eval()
        try:
            return self(*self._inputs([prepare_wav(w, sr) for w in wavs])).cpu()
        finally:
            self.train(was_training)

    def embed(self, wav: np.ndarray | torch.Tensor, sr: int) -> torch.Tensor:
        return self.embed_batch([wav], sr)[0]

    def embed_reference(
        self, clip: ReferenceClip, cache: EmbeddingCache | None = DEFAULT_CACHE
    ) -> torch.Tensor:
        """Style vector of a processed reference clip, cached like speaker embeddings."""
        if cache is None:
            return self.embed(clip.wav, clip.sample_rate)
        identity = module_fingerprint(self, "style")  # weights may change while training
        return cache.get_or_compute(
            clip.content_hash, identity, lambda: self.embed(clip.wav, clip.sample_rate)
        )

    @torch.inference_mode()
    def predict_emotion(self, style: torch.Tensor) -> tuple[str, float]:
        """The emotion label and intensity the heads read from a [style_dim] vector."""
        style = style.to(self.out.weight.device).reshape(1, -1)
        label = EMOTIONS[int(self.emotion_head(style).argmax(-1))]
        return label, max(0.0, float(self.intensity_head(style)))

    def save(self, directory: str | Path, **metadata: object) -> Path:
        return save_checkpoint(
            directory, self.state_dict(), STYLE_KIND, asdict(self.config), **metadata
        )

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> StyleEncoder:
        state, payload = load_checkpoint(directory, kind=STYLE_KIND)
        model = cls(config_from_dict(StyleEncoderConfig, payload["config"]))
        load_state_into(model, state, str(directory))
        return model.to(device).eval()


@dataclass
class StyleLossWeights:
    intensity: float = 1.0
    speaker: float = 0.2  # gradient-reversal strength (0.5 collapsed the mel path in trials)
    table: float = 1.0


def style_losses(
    model: StyleEncoder,
    wav: torch.Tensor,
    lengths: torch.Tensor,
    prosody: torch.Tensor,
    emotion: torch.Tensor,
    intensity: torch.Tensor,
    speaker: torch.Tensor | None = None,
    weights: StyleLossWeights | None = None,
) -> dict[str, torch.Tensor]:
    """All training losses for one batch. `total` is what to backpropagate; `task` (emotion +
    intensity + table) is what should fall; `speaker` is the adversary's cross-entropy, which
    ideally stays near chance (log n_speakers)."""
    weights = weights or StyleLossWeights()
    style = model(wav, lengths, prosody)
    emotion_loss = F.cross_entropy(model.emotion_head(style), emotion)
    intensity_loss = F.mse_loss(model.intensity_head(style).squeeze(-1), intensity)
    table_loss = F.mse_loss(model.emotion_table(emotion, intensity), style.detach())
    task = emotion_loss + weights.intensity * intensity_loss + weights.table * table_loss
    out = {
        "emotion": emotion_loss.detach(),
        "intensity": intensity_loss.detach(),
        "table": table_loss.detach(),
        "task": task.detach(),
    }
    total = task
    if speaker is not None and model.config.n_speakers > 0:
        reversed_style = GradientReversal.apply(style, weights.speaker)
        speaker_loss = F.cross_entropy(model.speaker_head(reversed_style), speaker)
        total = total + speaker_loss
        out["speaker"] = speaker_loss.detach()
    out["total"] = total
    return out
