"""Finite scalar quantisation (FSQ), grouped into several codebooks.

Each latent channel is squashed into a bounded range and rounded to one of `L` levels; a
group of channels with levels (L1, ..., Ld) is one codebook of L1 * ... * Ld entries, and the
code is the mixed-radix number formed by the per-channel level indices. Rounding passes
gradients straight through. There is no codebook to learn, so no codebook or commitment loss
and no dead codes: every entry is reachable by construction.

With `n_codebooks` groups the latent has n_codebooks * len(levels) channels and each frame
becomes `n_codebooks` integer codes, one per group.
"""

from __future__ import annotations

import torch
from torch import nn


class FSQ(nn.Module):
    def __init__(self, levels: tuple[int, ...], n_codebooks: int) -> None:
        super().__init__()
        if len(levels) == 0 or any(int(n) < 2 for n in levels):
            raise ValueError(f"FSQ levels must be integers >= 2, got {levels}")
        self.levels = tuple(int(n) for n in levels)
        self.n_codebooks = int(n_codebooks)
        self.dim = self.n_codebooks * len(self.levels)  # latent channels quantised
        self.codebook_size = 1
        for n in self.levels:
            self.codebook_size *= n
        lv = torch.tensor(self.levels, dtype=torch.float32)
        basis = torch.cumprod(torch.tensor((1, *self.levels[:-1])), 0)
        self.register_buffer("_levels", lv, persistent=False)
        self.register_buffer("_basis", basis, persistent=False)

    def bound(self, z: torch.Tensor) -> torch.Tensor:
        """Squash each channel into (-(L-1)/2, (L-1)/2), shifted so even L rounds evenly."""
        half = (self._levels - 1) * (1 + 1e-3) / 2
        offset = torch.where(self._levels % 2 == 0, 0.5, 0.0)
        shift = torch.atanh(offset / half)
        return torch.tanh(z + shift) * half - offset

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z [B, dim, F] -> (quantised latent in [-1, 1] [B, dim, F], codes [B, K, F])."""
        b, d, f = z.shape
        g = z.transpose(1, 2).reshape(b, f, self.n_codebooks, len(self.levels))
        bounded = self.bound(g)
        rounded = bounded + (torch.round(bounded) - bounded).detach()  # straight-through
        codes = self._to_codes(rounded)
        return self._normalise(rounded).reshape(b, f, d).transpose(1, 2), codes

    def _normalise(self, rounded: torch.Tensor) -> torch.Tensor:
        return rounded / (self._levels // 2)

    def _to_codes(self, rounded: torch.Tensor) -> torch.Tensor:
        digits = (rounded.detach() + self._levels // 2).round().long()  # 0 .. L-1
        return (digits * self._basis).sum(-1).transpose(1, 2)  # [B, K, F]

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, K, F] -> quantised latent [B, dim, F] (the same values forward gives)."""
        b, k, f = codes.shape
        digits = (codes.transpose(1, 2)[..., None] // self._basis) % self._levels.long()
        rounded = digits.float() - self._levels // 2
        return self._normalise(rounded).reshape(b, f, k * len(self.levels)).transpose(1, 2)
