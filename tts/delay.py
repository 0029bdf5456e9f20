"""The MusicGen-style delay pattern over K codebooks, plus the special code ids.

A codec frame holds K codes (one per codebook) that depend on each other: coarse codebooks
carry most of the signal, fine ones refine it. Predicting all K of a frame in one step from
the same hidden state ignores that dependency; predicting them one after another costs K steps
per frame. The delay pattern is the middle way: codebook k is shifted right by k steps, so at
step t the model emits codebook 0 of frame t, codebook 1 of frame t-1, ..., and every code is
predicted after the coarser codes of its own frame are already in the context. One step per
frame, K-1 extra steps at the end.

Per codebook the id space is the `codebook_size` real codes followed by three special ids:

    EOS = codebook_size      end of the utterance (also an output class of every head)
    PAD = codebook_size + 1  after EOS, and to pad batches (never predicted, ignored in the loss)
    BOS = codebook_size + 2  before a delayed codebook starts (never predicted, ignored)

Example with K=3, frames a b c (per codebook a_k, b_k, c_k), E = EOS, B = BOS, P = PAD:

    step       0   1   2   3   4   5
    codebook 0 a0  b0  c0  E   P   P
    codebook 1 B   a1  b1  c1  E   P
    codebook 2 B   B   a2  b2  c2  E
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tts.errors import AudioInputError


@dataclass(frozen=True)
class SpecialCodes:
    """The special ids of a codebook of `codebook_size` real codes."""

    codebook_size: int

    @property
    def eos(self) -> int:
        return self.codebook_size

    @property
    def pad(self) -> int:
        return self.codebook_size + 1

    @property
    def bos(self) -> int:
        return self.codebook_size + 2

    @property
    def input_vocab(self) -> int:
        """Rows of each codebook's input embedding: codes + EOS + PAD + BOS."""
        return self.codebook_size + 3

    @property
    def output_vocab(self) -> int:
        """Classes of each codebook's output head: codes + EOS (ids equal the input ids)."""
        return self.codebook_size + 1


def check_codes(codes: torch.Tensor, codebook_size: int, n_codebooks: int | None = None) -> None:
    """Raise `AudioInputError` unless `codes` is an integer [B, K, F] tensor of real codes."""
    if codes.dim() != 3 or codes.dtype not in (torch.int64, torch.int32, torch.int16):
        raise AudioInputError(
            f"codes must be an integer tensor [batch, codebooks, frames], got "
            f"{codes.dtype} of shape {tuple(codes.shape)}"
        )
    if n_codebooks is not None and codes.shape[1] != n_codebooks:
        raise AudioInputError(
            f"codes have {codes.shape[1]} codebooks but the model expects {n_codebooks}"
        )
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= codebook_size):
        raise AudioInputError(
            f"codes must lie in [0, {codebook_size}), got values in "
            f"[{int(codes.min())}, {int(codes.max())}]"
        )


def apply_delay(codes: torch.Tensor, lengths: torch.Tensor, special: SpecialCodes) -> torch.Tensor:
    """Delay codes [B, K, F] (item b has `lengths[b]` real frames) into [B, K, F + K].

    EOS is appended after each item's last frame, codebook k is shifted right by k steps
    (BOS before it starts, PAD after its EOS), so item b's delayed length is lengths[b] + K.
    """
    batch, n_codebooks, n_frames = codes.shape
    steps = torch.arange(n_frames + n_codebooks, device=codes.device)
    # Source frame of step t in codebook k is t - k.
    src = steps.view(1, 1, -1) - torch.arange(n_codebooks, device=codes.device).view(1, -1, 1)
    src = src.expand(batch, -1, -1)
    length = lengths.to(codes.device).view(-1, 1, 1)
    gathered = codes.long().gather(2, src.clamp(0, max(n_frames - 1, 0))) if n_frames else src
    out = torch.where(src < length, gathered, torch.full_like(src, special.pad))
    out = torch.where(src == length, torch.full_like(src, special.eos), out)
    return torch.where(src < 0, torch.full_like(src, special.bos), out)


def undo_delay(delayed: torch.Tensor, n_frames: int) -> torch.Tensor:
    """Inverse of `apply_delay` for one item: delayed [K, T] -> codes [K, n_frames]."""
    n_codebooks, n_steps = delayed.shape
    if n_steps < n_frames + n_codebooks - 1:
        raise AudioInputError(
            f"{n_steps} delayed steps cannot hold {n_frames} frames of {n_codebooks} codebooks"
        )
    return torch.stack([delayed[k, k : k + n_frames] for k in range(n_codebooks)])


def delayed_targets(delayed: torch.Tensor, special: SpecialCodes, ignore_index: int = -100):
    """Training targets from delayed codes: BOS and PAD positions become `ignore_index`."""
    ignored = (delayed == special.pad) | (delayed == special.bos)
    return delayed.masked_fill(ignored, ignore_index)
