"""Descript Audio Codec (`dac` package) at 24 and 44.1 kHz behind the `Codec` interface.

DAC 24 kHz: hop 320 (75 frames/s), 32 codebooks of 1024. DAC 44.1 kHz (8 kbps model): hop 512
(~86.1 frames/s), 9 codebooks of 1024. DAC was trained with quantizer dropout, so the first
`n_codebooks` codebooks alone still decode (coarser); pass n_codebooks= to use fewer.
DAC is not causal: zero padding after a clip changes the codes of its last few frames.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tts.errors import ConfigError

from .base import Codec
from .weights import PretrainedWeights, load_weights_into, read_state_dict, resolve_weights


@dataclass(frozen=True)
class DacVariant:
    """One published DAC model: where its weights are and the architecture they fit."""

    model_type: str  # dac.utils names: "24khz", "44khz"
    tag: str  # the release that published the weights
    url: str
    sample_rate: int
    encoder_rates: tuple[int, ...]  # the decoder upsamples by the same rates in reverse
    n_codebooks: int

    def model_kwargs(self) -> dict[str, Any]:
        """The DAC(...) arguments the published weights were trained with."""
        return dict(
            encoder_rates=list(self.encoder_rates),
            decoder_rates=list(reversed(self.encoder_rates)),
            n_codebooks=self.n_codebooks,
            sample_rate=self.sample_rate,
        )


_RELEASES = "https://github.com/descriptinc/descript-audio-codec/releases/download/"
VARIANTS: dict[str, DacVariant] = {
    # model type, release, weights URL, sample rate, encoder rates, codebooks
    "dac-24k": DacVariant(
        "24khz", "0.0.4", _RELEASES + "0.0.4/weights_24khz.pth", 24_000, (2, 4, 5, 8), 32
    ),
    "dac-44k": DacVariant(
        "44khz", "0.0.1", _RELEASES + "0.0.1/weights.pth", 44_100, (2, 4, 8, 8), 9
    ),
}


def _weights_spec(name: str) -> PretrainedWeights:
    variant = VARIANTS[name]
    filename = f"weights_{variant.model_type}_8kbps_{variant.tag}.pth"

    def package_cache() -> Path:  # where dac.utils.download stores it
        return Path.home() / ".cache" / "descript" / "dac" / filename

    def download(timeout: float) -> Path:
        import dac.utils

        return Path(dac.utils.download(variant.model_type, "8kbps", variant.tag))

    return PretrainedWeights(name, filename, variant.url, package_cache, download)


class DacCodec(Codec):
    codebook_size = 1024

    def __init__(
        self,
        name: str = "dac-24k",
        n_codebooks: int | None = None,
        pretrained: bool = True,
        checkpoint: str | Path | None = None,
        allow_download: bool | None = None,
        device: str | torch.device = "cpu",
        allow_unsafe_pickle: bool = False,
    ) -> None:
        if name not in VARIANTS:
            raise ConfigError(f"unknown DAC variant {name!r}; choose one of {sorted(VARIANTS)}")
        variant = VARIANTS[name]
        total = variant.n_codebooks
        n_codebooks = total if n_codebooks is None else int(n_codebooks)
        if not 1 <= n_codebooks <= total:
            raise ConfigError(
                f"{name} has {total} codebooks; n_codebooks={n_codebooks} is out of range"
            )
        with warnings.catch_warnings():
            # dac's Snake activation calls the deprecated torch.jit.script, and its layers use
            # the deprecated torch weight_norm.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            import dac  # imports torchaudio via audiotools: keep it lazy

            model = dac.DAC(**variant.model_kwargs())
        if pretrained:
            path = resolve_weights(_weights_spec(name), checkpoint, allow_download)
            load_weights_into(model, read_state_dict(path, allow_unsafe_pickle), str(path))
        self.model = model.eval().to(device)
        self.name = name if n_codebooks == total else f"{name}@{n_codebooks}q"
        self.sample_rate = variant.sample_rate
        self.samples_per_frame = int(model.hop_length)
        self.n_codebooks = n_codebooks
        self.pretrained = pretrained

    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        z = self.model.encoder(wav)
        _, codes, *_ = self.model.quantizer(z, self.n_codebooks)
        return codes[:, : self.n_codebooks]

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        z, _, _ = self.model.quantizer.from_codes(codes)
        wav = self.model.decoder(z)[:, 0, :]
        # DAC 24 kHz's odd upsampling stride (5) loses a few samples at the end; pad them back
        # so that every codec returns exactly frames * samples_per_frame samples.
        missing = codes.shape[-1] * self.samples_per_frame - wav.shape[-1]
        return torch.nn.functional.pad(wav, (0, missing)) if missing > 0 else wav
