"""The unit reader: a small CTC model that reads phonemes back from semantic units, so that
synthesis can pick, of a few sampled takes, the one that says its text.

Why: the LM samples its unit stream, and a few draws in ten go wrong in ways no sampling
setting removes without flattening the voice: a word swapped for a similar-sounding one, a
syllable dropped, a phrase mumbled ("Is it going to snow tomorrow?" -> "is it rolling to a
small size?"). Sampling several takes and keeping the best is what VALL-E 2 and Seed-TTS do with
an ASR model in the loop; here the "ASR" reads the LM's own units, which cost nothing to get
(they are the LM's codebook 0) and say what is being said (they are clustered ASR-encoder
states, see `tts.semantic`). So the choice needs no audio decoding and no Whisper at synthesis.

The score of a take is its CTC loss for the text's phonemes, per phoneme: how surprised a
reader trained on real speech's units is to hear that text in them. Only the segments count
(`read_ids`): stress, accent marks, word boundaries and punctuation have no frames of their own.

Three sources (`ReaderConfig.source`): "units" (the LM's semantic stream), "codes" (the codec's
codes of each take's decoded audio: the decoder's rendering is what must be heard) and "mel"
(the log-mel spectrogram of each take's decoded audio: what "codes" hears, without running the
codec's encoder, which cost ten times the reader itself; `log_mel`).

Model: unit + language embeddings (a mel reader: a conv over the utterance-normalised log-mels)
-> a conv -> each frame repeated `upsample` times (CTC needs at least one frame per phoneme plus
blanks between repeats, and 25 Hz units come close to phoneme rate; 50 Hz mel frames need none)
-> a small bidirectional transformer -> logits over the LM's symbol inventory, with `<pad>` as
the CTC blank.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tts.checkpoint import load_checkpoint, load_state_into, save_checkpoint
from tts.codecs.losses import mel_filterbank
from tts.config import config_from_dict, config_to_dict
from tts.errors import ConfigError
from tts.text import symbols as S
from tts.text.inventory import SymbolInventory

CHECKPOINT_KIND = "unit_reader"
SOURCES = ("units", "codes", "mel")

# Symbols with no frames of their own: left out of what the reader must hear.
SILENT_SYMBOLS = frozenset(
    S.SPECIAL_SYMBOLS
    + S.LANGUAGE_SYMBOLS
    + S.EMOTION_SYMBOLS
    + (S.WORD_BOUNDARY,)
    + S.PUNCTUATION
    + S.JA_PROSODY
    + S.STRESS
)


@dataclass
class ReaderConfig:
    # What it reads: "units" (the semantic stream, one per frame), "codes" (the codec's
    # codebooks of the audio, `n_streams` per frame) or "mel" (log-mels of the audio).
    source: str = "units"
    n_streams: int = 1
    n_units: int = 500  # ids per stream; id n_units = "nothing" / padding
    vocab_size: int = 207  # the LM's symbol inventory; id `blank_id` is the CTC blank
    blank_id: int = 0
    n_languages: int = 5
    d_model: int = 192
    n_layer: int = 3
    n_head: int = 4
    kernel: int = 5
    upsample: int = 2
    dropout: float = 0.1
    # A mel reader's spectrogram (`log_mel`): audio is resampled to sample_rate first.
    n_mels: int = 80
    sample_rate: int = 24000
    n_fft: int = 1024
    hop_length: int = 480  # 50 frames a second at 24 kHz
    f_min: float = 50.0
    f_max: float = 8000.0

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(f"ReaderConfig.source must be one of {SOURCES}, got {self.source!r}")
        if self.source == "mel" and not (
            self.n_mels >= 8 and 0 < self.hop_length <= self.n_fft
            and 0 <= self.f_min < self.f_max <= self.sample_rate / 2
        ):  # fmt: skip
            raise ConfigError(
                "a mel reader needs n_mels >= 8, 0 < hop_length <= n_fft and "
                "0 <= f_min < f_max <= sample_rate / 2"
            )
        if self.n_units < 2 or self.vocab_size < 2 or self.n_streams < 1:
            raise ConfigError("ReaderConfig needs n_units >= 2, vocab_size >= 2, n_streams >= 1")
        if not 0 <= self.blank_id < self.vocab_size:
            raise ConfigError(f"blank_id {self.blank_id} is outside [0, {self.vocab_size})")
        if self.d_model % self.n_head:
            raise ConfigError(f"d_model {self.d_model} must divide into {self.n_head} heads")
        if self.upsample < 1 or self.kernel < 1 or self.kernel % 2 == 0:
            raise ConfigError("ReaderConfig needs upsample >= 1 and an odd kernel")


def read_ids(ids: Sequence[int], inventory: SymbolInventory) -> list[int]:
    """The ids of `ids` the reader must hear: the segments, without prosody marks."""
    symbols = inventory.decode(ids)
    return [i for i, s in zip(ids, symbols, strict=True) if s not in SILENT_SYMBOLS]


class UnitReader(nn.Module):
    def __init__(self, config: ReaderConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        if c.source == "mel":
            self.mel_in = nn.Conv1d(c.n_mels, c.d_model, c.kernel, padding=c.kernel // 2)
            # Slaney's mel scale as librosa makes it, without librosa (a lent GPU has none)
            fb = mel_filterbank(c.sample_rate, c.n_fft, c.n_mels, c.f_min, c.f_max)
            self.register_buffer("mel_filters", torch.from_numpy(fb), persistent=False)
            self.register_buffer("window", torch.hann_window(c.n_fft), persistent=False)
        else:
            self.unit_embedding = nn.Embedding(c.n_streams * (c.n_units + 1), c.d_model)
        self.language_embedding = nn.Embedding(c.n_languages, c.d_model)
        self.conv_in = nn.Conv1d(c.d_model, c.d_model, c.kernel, padding=c.kernel // 2)
        self.conv_up = nn.Conv1d(c.d_model, c.d_model, c.kernel, padding=c.kernel // 2)
        layer = nn.TransformerEncoderLayer(
            c.d_model, c.n_head, 4 * c.d_model, c.dropout, activation="gelu",
            batch_first=True, norm_first=True,
        )  # fmt: skip
        self.encoder = nn.TransformerEncoder(layer, c.n_layer, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.vocab_size)

    def forward(
        self, units: torch.Tensor, lengths: torch.Tensor, language: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """units [B, n_streams, T] or, with one stream, [B, T] (ids in [0, n_units]; n_units =
        nothing; a mel reader: log-mels [B, n_mels, T]), lengths [B], language [B] ->
        (log-probabilities [B, T * upsample, V], their lengths [B]). The streams' embeddings
        are summed per frame."""
        c = self.config
        if c.source == "mel":
            x = self._embed_mel(units, lengths)
        else:
            if units.dim() == 2:
                units = units[:, None]
            if units.shape[1] != c.n_streams:
                raise ConfigError(f"the reader reads {c.n_streams} streams, got {units.shape[1]}")
            offsets = torch.arange(c.n_streams, device=units.device)[None, :, None]
            x = self.unit_embedding(units.clamp(0, c.n_units) + offsets * (c.n_units + 1)).sum(1)
        x = x + self.language_embedding(language)[:, None]
        x = x + F.gelu(self.conv_in(x.transpose(1, 2))).transpose(1, 2)
        x = x.repeat_interleave(c.upsample, dim=1)
        x = x + F.gelu(self.conv_up(x.transpose(1, 2))).transpose(1, 2)
        out_lengths = lengths * c.upsample
        padding = torch.arange(x.shape[1], device=x.device)[None] >= out_lengths[:, None]
        x = self.encoder(x, src_key_padding_mask=padding)
        return F.log_softmax(self.head(self.norm(x)).float(), dim=-1), out_lengths

    def _embed_mel(self, mel: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """log-mels [B, n_mels, T] -> frames [B, T, d_model]. Each mel band is normalised over
        the utterance's own frames (mean 0, variance 1), so loudness and the voice's long-term
        spectrum matter less than what changes from frame to frame."""
        if mel.dim() != 3 or mel.shape[1] != self.config.n_mels:
            raise ConfigError(
                f"a mel reader reads [B, {self.config.n_mels}, T] log-mels, got {list(mel.shape)}"
            )
        valid = torch.arange(mel.shape[-1], device=mel.device)[None] < lengths[:, None]
        valid = valid[:, None].float()
        count = valid.sum(-1, keepdim=True).clamp(min=1)
        mean = (mel * valid).sum(-1, keepdim=True) / count
        var = ((mel - mean).square() * valid).sum(-1, keepdim=True) / count
        x = (mel - mean) * torch.rsqrt(var + 1e-3) * valid
        return F.gelu(self.mel_in(x)).transpose(1, 2)

    @torch.no_grad()
    def log_mel(self, audio: np.ndarray | torch.Tensor, sample_rate: int) -> torch.Tensor:
        """A mel reader's input for one mono clip [T]: log-mels [n_mels, frames] at
        `hop_length`, computed at the reader's sample rate."""
        c = self.config
        if c.source != "mel":
            raise ConfigError(f"a {c.source} reader reads no spectrogram")
        wav = np.asarray(audio, dtype=np.float32).reshape(-1)
        if sample_rate != c.sample_rate:
            import soxr

            wav = soxr.resample(wav, sample_rate, c.sample_rate).astype(np.float32)
        return self.mel_batch(torch.from_numpy(np.ascontiguousarray(wav)).to(self.window.device))

    def mel_batch(self, wav: torch.Tensor) -> torch.Tensor:
        """Log-mels [B, n_mels, frames] (or [n_mels, frames] of a [T] clip) of audio already at
        the reader's sample rate, differentiable: a codec's decoder can learn through it
        (recipes/train_codec.py, content_reader)."""
        c = self.config
        if c.source != "mel":
            raise ConfigError(f"a {c.source} reader reads no spectrogram")
        spec = torch.stft(
            wav, c.n_fft, c.hop_length, c.n_fft, self.window, center=True, return_complex=True
        ).abs().square()  # fmt: skip
        return torch.log(self.mel_filters @ spec + 1e-6)

    def ctc_losses(
        self,
        units: torch.Tensor,
        lengths: torch.Tensor,
        language: torch.Tensor,
        targets: Sequence[torch.Tensor],
    ) -> torch.Tensor:
        """Per item, the CTC loss of its target ids (already `read_ids`) divided by their
        count [B]. Items whose targets cannot fit their frames get +inf."""
        log_probs, out_lengths = self(units, lengths, language)
        return ctc_per_phoneme(log_probs, out_lengths, targets, self.config.blank_id)

    @torch.inference_mode()
    def score(
        self, units: Sequence[torch.Tensor], ids: Sequence[int], language: int
    ) -> list[float]:
        """How badly each take's frames ([F_i] units, [n_streams, F_i] codes or [n_mels, F_i]
        log-mels) say the symbols `ids` (the LM's input ids): CTC loss per phoneme, lower is
        better; +inf for a take too short to say them."""
        was_training = self.training
        self.eval()
        try:
            device = next(self.parameters()).device
            target = torch.tensor(ids, dtype=torch.long, device=device)
            takes = [u.reshape(-1, u.shape[-1]).to(device) for u in units]
            lengths = torch.tensor([u.shape[-1] for u in takes], device=device)
            batch = frames_batch(takes, self.config)
            lang = torch.full((len(units),), language, dtype=torch.long, device=device)
            losses = self.ctc_losses(batch, lengths, lang, [target] * len(units))
            return [float(x) if math.isfinite(float(x)) else math.inf for x in losses]
        finally:
            self.train(was_training)

    def save(self, directory: str | Path, **metadata: Any) -> Path:
        return save_checkpoint(
            directory, self.state_dict(), CHECKPOINT_KIND, config_to_dict(self.config), **metadata
        )

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> UnitReader:
        state, payload = load_checkpoint(directory, kind=CHECKPOINT_KIND)
        model = cls(config_from_dict(ReaderConfig, payload["config"]))
        load_state_into(model, state, str(directory))
        return model.to(device).eval()


def frames_batch(frames: Sequence[torch.Tensor], config: ReaderConfig) -> torch.Tensor:
    """Items' frames ([S, F_i]: unit or code ids, or log-mels) padded into one batch [B, S, F]:
    ids with "nothing" (n_units), log-mels with zeros (masked by the lengths anyway)."""
    longest = max(f.shape[-1] for f in frames)
    if config.source == "mel":
        batch = torch.zeros(len(frames), config.n_mels, longest)
    else:
        batch = torch.full((len(frames), config.n_streams, longest), config.n_units)
    batch = batch.to(frames[0].device)
    for i, f in enumerate(frames):
        batch[i, :, : f.shape[-1]] = f
    return batch


def ctc_per_phoneme(
    log_probs: torch.Tensor,
    out_lengths: torch.Tensor,
    targets: Sequence[torch.Tensor],
    blank_id: int = 0,
) -> torch.Tensor:
    """`UnitReader.forward`'s (log-probabilities [B, T, V], lengths [B]) and each item's target
    ids -> CTC loss per target id [B] (+inf where the targets cannot fit the frames)."""
    device = log_probs.device
    target_lengths = torch.tensor([len(t) for t in targets], device=device)
    flat = torch.cat([t.to(device) for t in targets]).long()
    losses = F.ctc_loss(
        log_probs.transpose(0, 1), flat, out_lengths, target_lengths,
        blank=blank_id, reduction="none", zero_infinity=False,
    )  # fmt: skip
    return losses / target_lengths.clamp(min=1)


def greedy_read(log_probs: torch.Tensor, length: int, blank_id: int = 0) -> list[int]:
    """Best-path CTC decoding of one item's log-probabilities [T, V]: argmax per frame,
    repeats merged, blanks removed."""
    best = log_probs[:length].argmax(-1).tolist()
    out, previous = [], None
    for token in best:
        if token != previous and token != blank_id:
            out.append(token)
        previous = token
    return out


def edit_distance(a: Sequence[int], b: Sequence[int]) -> int:
    """Levenshtein distance between two id sequences."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]
