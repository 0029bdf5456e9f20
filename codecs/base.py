"""The `Codec` interface the token LM sees: waveforms in, integer codes out, and back.

A codec turns a batch of waveforms at any sample rate into codes shaped [B, K, F]
(batch, codebooks, frames) and turns such codes back into waveforms at its own sample rate.
This base class does everything that is the same for every codec: input checks, mono mixing,
resampling (soxr, via tts.audio), padding to whole frames and moving tensors to the model's
device. A concrete codec only implements `_encode` and `_decode` on clean tensors.

Frames: a waveform of T samples (at the codec's rate) becomes F = ceil(T / samples_per_frame)
frames; the last partial frame is zero-padded. Decoding F frames gives F * samples_per_frame
samples, so trim the output to the input length yourself when you need it exact.

Batches: all items of a batch tensor share one length. Equal-length items give exactly the
codes they would give alone. To encode clips of different lengths together, use
`encode_list`, which zero-pads to the longest clip and trims each item back to its own frame
count; how much the padding can change an item's last frames depends on the codec (causal
EnCodec: not at all; non-causal DAC and ours: the frames within the encoder's receptive field
of the item's end may differ from encoding it alone).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from tts.audio import check_sample_rate, resample
from tts.errors import AudioInputError, ConfigError


def resampled_length(num_samples: int, sr_in: int, sr_out: int) -> int:
    """Length soxr produces when resampling `num_samples` from `sr_in` to `sr_out` Hz.

    soxr rounds the exact length num_samples * sr_out / sr_in half up; integer arithmetic
    keeps this exact for long inputs.
    """
    if sr_in == sr_out:
        return num_samples
    return (2 * num_samples * sr_out + sr_in) // (2 * sr_in)


class Codec:
    """Base class of every codec adapter. Subclasses set the attributes and two methods."""

    name: str
    sample_rate: int
    samples_per_frame: int
    n_codebooks: int
    codebook_size: int
    # True when real (pretrained or trained) weights are loaded, False for random weights.
    pretrained: bool
    model: torch.nn.Module

    # ---- what subclasses implement -------------------------------------------------------
    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        """[B, 1, F * samples_per_frame] float32 on the model device -> LongTensor [B, K, F]."""
        raise NotImplementedError

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Checked LongTensor [B, K, F] on the model device -> [B, F * samples_per_frame]."""
        raise NotImplementedError

    # ---- shared helpers ------------------------------------------------------------------
    @property
    def frame_rate(self) -> float:
        """Frames (code vectors) per second of audio."""
        return self.sample_rate / self.samples_per_frame

    @property
    def tokens_per_second(self) -> float:
        return self.frame_rate * self.n_codebooks

    @property
    def bitrate(self) -> float:
        """Bits per second if every code is stored in log2(codebook_size) bits."""
        return self.tokens_per_second * math.log2(self.codebook_size)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> Codec:
        self.model.to(device)
        return self

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def frames_for(self, num_samples: int, sr: int | None = None) -> int:
        """Number of frames `encode` returns for `num_samples` samples at `sr` (default: ours)."""
        if num_samples < 0:
            raise AudioInputError(f"num_samples must be >= 0, got {num_samples}")
        sr = self.sample_rate if sr is None else check_sample_rate(sr)
        length = resampled_length(int(num_samples), sr, self.sample_rate)
        return -(-length // self.samples_per_frame)

    def samples_for(self, num_frames: int) -> int:
        """Number of samples (at `sample_rate`) that `decode` returns for `num_frames` frames."""
        return int(num_frames) * self.samples_per_frame

    def samples_per_frame_at(self, tempo: float = 1.0) -> int | None:
        """Output samples per code frame when the decoder itself speaks at `tempo` (> 1
        faster); None where it cannot. A plain decoder has one tempo; a source-filter Koe
        decoder overrides this (`KoeCodec.decode_window(tempo=)`)."""
        return self.samples_per_frame if tempo == 1.0 else None

    def __repr__(self) -> str:
        weights = "pretrained" if self.pretrained else "random weights"
        return (
            f"{type(self).__name__}(name={self.name!r}, sample_rate={self.sample_rate}, "
            f"frame_rate={self.frame_rate:g}, n_codebooks={self.n_codebooks}, "
            f"codebook_size={self.codebook_size}, {weights})"
        )

    # ---- the public interface ------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, wav: torch.Tensor | np.ndarray, sr: int) -> torch.Tensor:
        """Waveforms [B, T] or [B, C, T] (float, any rate) -> LongTensor [B, K, F]."""
        wav = self._prepare(wav, sr)
        codes = self._encode(wav)
        return codes.long()

    def codes_id(self) -> str | None:
        """A fingerprint of what turns audio into codes (encoder, quantiser and their
        settings), or None where the adapter cannot tell. Two codecs with the same id make the
        same codes from the same audio, whatever their names and decoders: token shards made
        with either can be read together (a decoder retrained over a frozen encoder)."""
        return None

    @property
    def reads_speaker(self) -> int:
        """The size of the speaker embedding the decoder reads (`decode(speaker=)`); 0: none."""
        return 0

    @property
    def reads_phonemes(self) -> int:
        """The symbol count of the phoneme frames the decoder reads (`decode(phonemes=)`,
        `tts.forced_align`); 0: none."""
        return 0

    def set_phoneme_weight(self, weight: float) -> None:
        """How hard a decoder that reads phonemes leans on them from now on
        (`CodecConfig.phoneme_weight`); a decoder that reads none refuses it."""
        raise ConfigError(f"{self.name}'s decoder reads no phonemes: it has no phoneme weight")

    @torch.inference_mode()
    def decode(
        self,
        codes: torch.Tensor,
        speaker: torch.Tensor | None = None,
        phonemes: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """LongTensor [B, K, F] -> float32 waveforms [B, F * samples_per_frame] at sample_rate.

        `speaker` [B, D] or [D]: the voice's embedding, for a decoder that reads one
        (`reads_speaker` = D); others refuse it. `phonemes` [B, 2, F]: per frame the phoneme
        it says and the next one, for a decoder that reads them (`reads_phonemes`)."""
        codes = self.check_codes(codes)
        extra: dict[str, torch.Tensor] = {}
        if speaker is not None:
            if not self.reads_speaker:
                raise ConfigError(f"{self.name}'s decoder reads no speaker embedding")
            extra["speaker"] = speaker
        if phonemes is not None:
            if not self.reads_phonemes:
                raise ConfigError(f"{self.name}'s decoder reads no phonemes")
            extra["phonemes"] = torch.as_tensor(phonemes).to(self.device)
        return self._decode(codes.to(self.device), **extra).float()

    def resynthesize(
        self, wav: torch.Tensor | np.ndarray, sr: int, speaker: torch.Tensor | None = None
    ) -> np.ndarray:
        """One mono clip [T] encoded and decoded: float32 [F * samples_per_frame] at
        `sample_rate` (what the codec alone makes of it); `speaker` as in `decode`."""
        mono = torch.as_tensor(np.ascontiguousarray(wav), dtype=torch.float32)
        return self.decode(self.encode(mono[None], sr), speaker=speaker)[0].cpu().numpy()

    def encode_list(self, wavs: list[torch.Tensor | np.ndarray], sr: int) -> list[torch.Tensor]:
        """Encode clips of different lengths ([T] or [C, T] each) in one batch.

        Returns one LongTensor [K, F_i] per clip with F_i = frames_for(len_i, sr). See the
        module docstring for how padding can affect the last frames of shorter clips.
        """
        if len(wavs) == 0:
            raise AudioInputError("encode_list got an empty list of clips")
        clips = [torch.as_tensor(np.asarray(w) if isinstance(w, np.ndarray) else w) for w in wavs]
        clips = [c[None] if c.dim() == 1 else c for c in clips]  # [C, T]
        if any(c.dim() != 2 for c in clips):
            raise AudioInputError("encode_list wants each clip shaped [T] or [C, T]")
        if len({c.shape[0] for c in clips}) != 1:
            clips = [c.float().mean(0, keepdim=True) for c in clips]
        frames = [self.frames_for(c.shape[-1], sr) for c in clips]
        longest = max(c.shape[-1] for c in clips)
        batch = torch.stack(
            [torch.nn.functional.pad(c.float(), (0, longest - c.shape[-1])) for c in clips]
        )
        # Each clip is checked on its own so that a too-short one is named, not hidden by padding.
        for i, c in enumerate(clips):
            self._check_wav(c[None], sr, what=f"clip {i}")
        codes = self.encode(batch, sr)
        return [codes[i, :, : frames[i]] for i in range(len(clips))]

    # ---- input checks --------------------------------------------------------------------
    def _check_wav(self, wav: Any, sr: int, what: str = "audio") -> torch.Tensor:
        if isinstance(wav, np.ndarray):
            wav = torch.from_numpy(np.ascontiguousarray(wav))
        if not isinstance(wav, torch.Tensor):
            raise AudioInputError(
                f"{what} must be a torch.Tensor or numpy array, got {type(wav).__name__}"
            )
        if not torch.is_floating_point(wav):
            raise AudioInputError(
                f"{what} must be floating point in [-1, 1], got dtype {wav.dtype}; "
                "convert integer PCM first (e.g. int16 / 32768)"
            )
        if wav.dim() not in (2, 3):
            hint = " (add a batch dimension: wav[None])" if wav.dim() == 1 else ""
            raise AudioInputError(
                f"{what} must be shaped [B, T] or [B, C, T], got shape {tuple(wav.shape)}{hint}"
            )
        if wav.shape[0] == 0 or (wav.dim() == 3 and wav.shape[1] == 0):
            raise AudioInputError(
                f"{what} has an empty batch or channel dimension: {tuple(wav.shape)}"
            )
        sr = check_sample_rate(sr)
        length = resampled_length(wav.shape[-1], sr, self.sample_rate)
        if length < self.samples_per_frame:
            need_ms = 1000.0 * self.samples_per_frame / self.sample_rate
            raise AudioInputError(
                f"{what} is too short for {self.name}: {wav.shape[-1]} samples at {sr} Hz "
                f"({1000.0 * wav.shape[-1] / sr:.1f} ms); one frame needs at least {need_ms:.1f} ms"
            )
        if not bool(torch.isfinite(wav).all()):
            bad = int((~torch.isfinite(wav)).sum())
            raise AudioInputError(
                f"{what} contains {bad} NaN/Inf sample(s); clean the signal first"
            )
        return wav

    def _prepare(self, wav: Any, sr: int) -> torch.Tensor:
        """Checked input -> mono [B, 1, F * samples_per_frame] float32 on the model device."""
        wav = self._check_wav(wav, sr)
        wav = wav.float()
        if wav.dim() == 3:
            wav = wav.mean(dim=1)  # mono mix
        sr = int(sr)
        if sr != self.sample_rate:
            wav = torch.from_numpy(resample(wav.detach().cpu().numpy(), sr, self.sample_rate))
        wav = wav.to(self.device)
        frames = -(-wav.shape[-1] // self.samples_per_frame)
        wav = torch.nn.functional.pad(wav, (0, frames * self.samples_per_frame - wav.shape[-1]))
        return wav[:, None, :]

    def check_codes(self, codes: Any) -> torch.Tensor:
        """Raise `AudioInputError` unless `codes` is an integer [B, K, F] tensor this codec made."""
        if isinstance(codes, np.ndarray):
            codes = torch.from_numpy(codes)
        if not isinstance(codes, torch.Tensor):
            raise AudioInputError(
                f"codes must be a LongTensor [B, K, F], got {type(codes).__name__}"
            )
        if torch.is_floating_point(codes) or codes.dtype == torch.bool or codes.is_complex():
            raise AudioInputError(f"codes must be integers, got dtype {codes.dtype}")
        if codes.dim() != 3:
            raise AudioInputError(f"codes must be shaped [B, K, F], got shape {tuple(codes.shape)}")
        b, k, f = codes.shape
        if k != self.n_codebooks:
            raise AudioInputError(
                f"codes have {k} codebooks but {self.name} uses {self.n_codebooks} "
                "(were they made by another codec or bandwidth?)"
            )
        if b == 0 or f == 0:
            raise AudioInputError(f"codes are empty: shape {tuple(codes.shape)}")
        low, high = int(codes.min()), int(codes.max())
        if low < 0 or high >= self.codebook_size:
            raise AudioInputError(
                f"codes range over [{low}, {high}] but {self.name} codebooks hold "
                f"0..{self.codebook_size - 1}"
            )
        return codes.long()
