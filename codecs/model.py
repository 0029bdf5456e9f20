"""Koe codec: a 25 frames-per-second speech codec at 24 kHz (config, encoder, decoder).

Why: EnCodec spends 75 frames/s x 8 codebooks = 600 tokens per second of speech. This codec
spends 25 frames/s x 2-4 codebooks = 50-100, so the token LM trains and samples several times
faster on the same audio.

    wav [B, 1, T] --encoder--> latent [B, D, T/960] --FSQ--> codes [B, K, T/960]
    codes --decoder--> STFT magnitude + phase at 100 Hz --inverse STFT--> wav [B, T]

Encoder: a convolutional stack with residual dilated blocks and strided downsampling whose
strides multiply to `hop` (960 = 24000 / 25), optionally followed by a small transformer over
frames. Decoder (Vocos-style vocoder): ConvNeXt blocks at the frame rate, an upsampling step to
`hop / istft_hop` times the frame rate, more ConvNeXt blocks, and a linear head predicting log
magnitude and phase of an STFT that a fixed inverse STFT turns into samples. Predicting a
spectrogram at 100 Hz instead of samples keeps the decoder cheap; a 25 Hz STFT would need
3840-sample windows, too long for speech transients, hence the upsampling.

`decoder_kind="source_filter"` keeps that trunk but replaces the head: it predicts F0, voicing
and the gains of a harmonic and a noise source instead of phase (codecs/source_filter.py).
Trained without a discriminator, the istft head's phase is not coherent and voiced speech
loses its harmonics; the source-filter head cannot lose them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tts.errors import ConfigError

from .fsq import FSQ

DECODER_KINDS = ("istft", "source_filter")


@dataclass
class CodecConfig:
    sample_rate: int = 24_000
    strides: tuple[int, ...] = (2, 4, 5, 6, 4)  # product = hop = samples per frame
    encoder_channels: int = 32  # after the stem; doubles at each downsampling...
    encoder_max_channels: int = 256  # ...up to this
    encoder_res_blocks: int = 2  # dilated residual blocks before each downsampling
    latent_dim: int = 256
    encoder_transformer_layers: int = 0
    transformer_heads: int = 4
    fsq_levels: tuple[int, ...] = (8, 5, 5, 5)  # one codebook = 1000 entries
    n_codebooks: int = 4
    decoder_dim: int = 256
    decoder_frame_blocks: int = 4  # ConvNeXt blocks at the frame rate (25 Hz)
    decoder_transformer_layers: int = 0
    decoder_upsample: int = 4  # frame rate x 4 = 100 Hz STFT frames
    decoder_blocks: int = 4  # ConvNeXt blocks at the STFT rate
    convnext_mult: int = 3  # ConvNeXt hidden width = mult x dim
    istft_n_fft: int = 960  # window of the inverse STFT; its hop is hop / decoder_upsample
    # "istft": predict STFT magnitude and phase; "source_filter": predict F0, voicing and the
    # gains of a harmonic and a noise source (codecs/source_filter.py). Same trunk and codes.
    decoder_kind: str = "istft"
    f0_min_hz: float = 50.0  # the source-filter decoder's F0 range
    f0_max_hz: float = 800.0
    # > 0: the decoder also reads a semantic unit per frame (0..n_units-1, the units an LM with
    # `n_semantic` predicts), added after its stem; frames without one use an extra "no unit"
    # entry, so audio encoded without units still decodes. 0: codes only.
    n_units: int = 0
    # > 0: the decoder also reads a speaker embedding of this size (e.g. Resemblyzer's 256),
    # as a scale and shift of its features at the frame rate and before its head. None or a
    # zero vector = no speaker, so a decoder trained without one starts unchanged. 0: none.
    speaker_dim: int = 0
    # > 0: the decoder also reads the text, per frame: the phoneme the frame is in and the one
    # after it (ids 0..n_phonemes-1 of the LM's symbol inventory, placed by a forced alignment:
    # tts.forced_align), added after its stem; id n_phonemes = none. 0: no text.
    n_phonemes: int = 0
    # How hard the decoder leans on the text at decoding time: each phoneme's embedding is
    # moved away from the "none" entry's by this factor (E(none) + w (E(p) - E(none))), the
    # way classifier-free guidance pushes away from the unconditioned case. 1 = as trained;
    # frames without phonemes ("none") decode the same whatever it is.
    phoneme_weight: float = 1.0

    @property
    def hop(self) -> int:
        return math.prod(self.strides)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    @property
    def istft_hop(self) -> int:
        return self.hop // self.decoder_upsample

    def validate(self) -> CodecConfig:
        if self.decoder_kind not in DECODER_KINDS:
            raise ConfigError(
                f"decoder_kind must be one of {DECODER_KINDS}, got {self.decoder_kind!r}"
            )
        if not 0 < self.f0_min_hz < self.f0_max_hz < self.sample_rate / 2:
            raise ConfigError(
                f"need 0 < f0_min_hz < f0_max_hz < sample_rate / 2, got "
                f"{self.f0_min_hz}, {self.f0_max_hz}"
            )
        if self.decoder_upsample != 1 and self.decoder_upsample % 2:
            raise ConfigError(f"decoder_upsample must be 1 or even, got {self.decoder_upsample}")
        if self.hop % self.decoder_upsample:
            raise ConfigError(
                f"hop {self.hop} is not divisible by decoder_upsample {self.decoder_upsample}"
            )
        if self.istft_n_fft < self.istft_hop or (self.istft_n_fft - self.istft_hop) % 2:
            raise ConfigError(
                f"istft_n_fft {self.istft_n_fft} must be >= the inverse-STFT hop {self.istft_hop} "
                "and differ from it by an even number of samples"
            )
        for name in ("latent_dim", "decoder_dim", "encoder_channels"):
            if getattr(self, name) % self.transformer_heads and (
                self.encoder_transformer_layers or self.decoder_transformer_layers
            ):
                raise ConfigError(f"{name} must be divisible by transformer_heads")
        if self.n_units < 0:
            raise ConfigError(f"n_units must be >= 0, got {self.n_units}")
        if self.speaker_dim < 0:
            raise ConfigError(f"speaker_dim must be >= 0, got {self.speaker_dim}")
        if self.n_phonemes < 0:
            raise ConfigError(f"n_phonemes must be >= 0, got {self.n_phonemes}")
        if not (math.isfinite(self.phoneme_weight) and self.phoneme_weight >= 0):
            raise ConfigError(f"phoneme_weight must be finite and >= 0, got {self.phoneme_weight}")
        if any(int(s) < 1 for s in self.strides) or any(int(n) < 2 for n in self.fsq_levels):
            raise ConfigError("strides must be >= 1 and fsq_levels >= 2")
        return self


def tiny_config() -> CodecConfig:
    """~0.3 M parameters: for tests; learns something audible in minutes on a CPU."""
    return CodecConfig(
        encoder_channels=8,
        encoder_max_channels=64,
        encoder_res_blocks=1,
        latent_dim=64,
        n_codebooks=2,
        decoder_dim=64,
        decoder_frame_blocks=1,
        decoder_blocks=1,
        convnext_mult=2,
    )


def small_config() -> CodecConfig:
    """A few M parameters: trainable on a CPU in hours, on one GPU in well under an hour."""
    return CodecConfig(
        encoder_channels=16,
        encoder_max_channels=192,
        latent_dim=192,
        encoder_transformer_layers=1,
        decoder_dim=192,
        decoder_frame_blocks=2,
        decoder_transformer_layers=1,
        decoder_blocks=4,
    )


def base_config() -> CodecConfig:
    """~57 M parameters: for GPU training on a large speech corpus."""
    return CodecConfig(
        encoder_channels=32,
        encoder_max_channels=512,
        latent_dim=512,
        encoder_transformer_layers=4,
        transformer_heads=8,
        fsq_levels=(8, 8, 8, 5, 5),  # 12800 entries per codebook
        decoder_dim=512,
        decoder_frame_blocks=4,
        decoder_transformer_layers=4,
        decoder_blocks=8,
    )


PRESETS = {"tiny": tiny_config, "small": small_config, "base": base_config}


def preset_config(name: str) -> CodecConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown codec preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]()


# ---- building blocks ---------------------------------------------------------------------


class ResidualUnit(nn.Module):
    """Dilated conv -> pointwise conv with a skip: widens the receptive field cheaply."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 7, dilation=dilation, padding=3 * dilation)
        self.proj = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj(F.silu(self.conv(F.silu(x))))


class ConvNeXtBlock(nn.Module):
    """Depthwise conv, LayerNorm, pointwise MLP, scaled residual (as in ConvNeXt / Vocos)."""

    def __init__(self, dim: int, mult: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.up = nn.Linear(dim, mult * dim)
        self.down = nn.Linear(mult * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, dim, L]
        h = self.norm(self.dwconv(x).transpose(1, 2))
        h = self.down(F.gelu(self.up(h))) * self.gamma
        return x + h.transpose(1, 2)


class FrameTransformer(nn.Module):
    """A few pre-norm transformer layers over frames, for context beyond the conv kernels.

    No positional embedding: the convolutions around it already give each frame a local,
    order-aware view, and leaving positions out keeps the codec length-agnostic.
    """

    def __init__(self, dim: int, layers: int, heads: int) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            dim, heads, 4 * dim, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.layers = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, dim, F]
        return self.layers(x.transpose(1, 2)).transpose(1, 2)


class Encoder(nn.Module):
    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        ch = cfg.encoder_channels
        layers: list[nn.Module] = [nn.Conv1d(1, ch, 7, padding=3)]
        for stride in cfg.strides:
            out = min(2 * ch, cfg.encoder_max_channels)
            layers += [ResidualUnit(ch, 3**i) for i in range(cfg.encoder_res_blocks)]
            # kernel 2*stride with padding ceil(stride/2): exactly T/stride outputs for T % stride == 0
            layers += [
                nn.SiLU(),
                nn.Conv1d(ch, out, 2 * stride, stride=stride, padding=(stride + 1) // 2),
            ]
            ch = out
        layers += [nn.SiLU(), nn.Conv1d(ch, cfg.latent_dim, 3, padding=1)]
        self.convs = nn.Sequential(*layers)
        self.transformer = (
            FrameTransformer(cfg.latent_dim, cfg.encoder_transformer_layers, cfg.transformer_heads)
            if cfg.encoder_transformer_layers
            else nn.Identity()
        )

        # Variance-preserving init with zero biases: with PyTorch's default init the signal
        # shrinks ~3x per conv, so after ~15 layers the output is almost input-independent
        # (time std 0.0006 against channel means of 0.3) and every frame gets the same code.
        for module in self.convs.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:  # [B, 1, T] -> [B, latent, T/hop]
        return self.transformer(self.convs(wav))


def inverse_stft(spec: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor) -> torch.Tensor:
    """Complex STFT [B, n_fft/2+1, L] -> [B, L * hop] by windowed overlap-add.

    "Same" padding: (n_fft - hop) / 2 samples are trimmed at each end so that L frames give
    exactly L * hop samples, which keeps decoder output length = frames * samples_per_frame.
    torch.istft's centred padding would give (L - 1) * hop instead.
    """
    frames = torch.fft.irfft(spec, n=n_fft, dim=1) * window[None, :, None]  # [B, n_fft, L]
    length = (spec.shape[-1] - 1) * hop + n_fft
    fold = dict(output_size=(1, length), kernel_size=(1, n_fft), stride=(1, hop))
    wav = F.fold(frames, **fold)[:, 0, 0]
    envelope = F.fold(window.square()[None, :, None].expand(1, -1, spec.shape[-1]), **fold)[0, 0, 0]
    pad = (n_fft - hop) // 2
    return wav[:, pad : length - pad] / envelope[pad : length - pad].clamp_min(1e-8)


class Decoder(nn.Module):
    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        dim = cfg.decoder_dim
        n_blocks = cfg.decoder_frame_blocks + cfg.decoder_blocks
        scale = 1.0 / max(1, n_blocks)
        self.n_fft, self.hop = cfg.istft_n_fft, cfg.istft_hop
        self.stem = nn.Conv1d(cfg.n_codebooks * len(cfg.fsq_levels), dim, 7, padding=3)
        self.n_units = cfg.n_units
        # Why units: at 25 Hz x 4 codebooks the codes leave the decoder to guess some sounds
        # (the engines' own clips through the codec lose ja 0.06 -> 0.28 CER); a unit says
        # which sound a frame is. Zero init: a decoder trained without units starts unchanged.
        self.unit_embedding = nn.Embedding(cfg.n_units + 1, dim) if cfg.n_units else None
        if self.unit_embedding is not None:
            nn.init.zeros_(self.unit_embedding.weight)
        # Why the text: the LM's codes and units may mumble a sound that the text names (its
        # codebooks follow the units in front of them loosely); the phoneme a frame should be
        # lets the decoder say it anyway. Two tables (this phoneme, the next: where the frame
        # lies between two sounds), zero init like the units'.
        self.n_phonemes = cfg.n_phonemes
        self.phoneme_weight = cfg.phoneme_weight
        self.phoneme_embedding = (
            nn.Embedding(2 * (cfg.n_phonemes + 1), dim) if cfg.n_phonemes else None
        )
        if self.phoneme_embedding is not None:
            nn.init.zeros_(self.phoneme_embedding.weight)
        # Why a speaker: at ~1 kbit/s the codes keep what is said better than who says it (the
        # engines' held-out clips through the codec lose 0.07 of Resemblyzer similarity to
        # their reference); the voice's embedding lets the decoder put the timbre back. Two
        # scale-and-shift pairs (FiLM), at the frame rate and before the head; no bias and
        # zero init, so a decoder without a speaker (None or zeros) is unchanged.
        self.speaker_dim = cfg.speaker_dim
        self.speaker_film = (
            nn.Linear(cfg.speaker_dim, 4 * dim, bias=False) if cfg.speaker_dim else None
        )
        if self.speaker_film is not None:
            nn.init.zeros_(self.speaker_film.weight)
        self.frame_blocks = nn.Sequential(
            *[ConvNeXtBlock(dim, cfg.convnext_mult, scale) for _ in range(cfg.decoder_frame_blocks)]
        )
        self.transformer = (
            FrameTransformer(dim, cfg.decoder_transformer_layers, cfg.transformer_heads)
            if cfg.decoder_transformer_layers
            else nn.Identity()
        )
        u = cfg.decoder_upsample
        # kernel 2u, stride u, padding u/2 (u even): exactly F * u outputs
        self.upsample = (
            nn.ConvTranspose1d(dim, dim, 2 * u, stride=u, padding=u // 2)
            if u > 1
            else nn.Identity()
        )
        self.blocks = nn.Sequential(
            *[ConvNeXtBlock(dim, cfg.convnext_mult, scale) for _ in range(cfg.decoder_blocks)]
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, cfg.istft_n_fft + 2)  # log magnitude + phase per bin
        self.register_buffer("window", torch.hann_window(cfg.istft_n_fft), persistent=False)

    def film(self, speaker: torch.Tensor | None, batch: int) -> list[torch.Tensor] | None:
        """speaker [B, speaker_dim] (or [speaker_dim] for all) -> the four FiLM vectors
        [B, dim, 1] (scale, shift at the frame rate; scale, shift before the head), or None."""
        if speaker is None:
            return None
        if self.speaker_film is None:
            raise ConfigError("this decoder reads no speaker embedding (speaker_dim = 0)")
        speaker = torch.as_tensor(speaker).to(self.speaker_film.weight)  # its device and dtype
        if speaker.ndim == 1:
            speaker = speaker[None].expand(batch, -1)
        if speaker.shape != (batch, self.speaker_dim):
            raise ConfigError(
                f"speaker must be shaped [B, {self.speaker_dim}] with B = {batch}, got "
                f"{tuple(speaker.shape)}"
            )
        if not torch.isfinite(speaker).all():
            raise ConfigError("the speaker embedding holds NaN or infinite values")
        return [v[..., None] for v in self.speaker_film(speaker).chunk(4, dim=-1)]

    def features(
        self,
        latent: torch.Tensor,
        units: torch.Tensor | None = None,
        speaker: torch.Tensor | None = None,
        phonemes: torch.Tensor | None = None,
    ) -> torch.Tensor:  # [B, fsq_dim, F] (+ units [B, F]) -> [B, dim, L]
        """The trunk: frame-rate blocks, upsampling to the STFT rate, STFT-rate blocks.

        `units` [B, F] (a decoder with `n_units`): one semantic unit per frame, or `n_units`
        for "none"; None = none anywhere. A decoder without units refuses them. `speaker`
        [B, speaker_dim] or [speaker_dim] (a decoder with `speaker_dim`): the voice's
        embedding; None = none. A decoder without one refuses it. `phonemes` [B, 2, F] (a
        decoder with `n_phonemes`): per frame the phoneme it is in and the next one, or
        `n_phonemes` for "none"; None = none anywhere. A decoder without them refuses them."""
        film = self.film(speaker, latent.shape[0])
        x = self.stem(latent)
        if units is not None and self.unit_embedding is None:
            raise ConfigError("this decoder reads no semantic units (n_units = 0)")
        size = (latent.shape[0], latent.shape[-1])  # [B, F]
        if self.unit_embedding is not None:
            if units is None:
                units = torch.full(size, self.n_units, device=latent.device)
            if units.shape != size:
                raise ConfigError(f"units must be shaped [B, F] = {size}, got {tuple(units.shape)}")
            x = x + self.unit_embedding(units.long()).transpose(1, 2)
        if phonemes is not None and self.phoneme_embedding is None:
            raise ConfigError("this decoder reads no phonemes (n_phonemes = 0)")
        if self.phoneme_embedding is not None:
            if phonemes is None:  # as trained: the "none" entries (not nothing added)
                phonemes = torch.full((size[0], 2, size[1]), self.n_phonemes, device=x.device)
            if phonemes.shape != (size[0], 2, size[1]):
                raise ConfigError(
                    f"phonemes must be shaped [B, 2, F] = {(size[0], 2, size[1])}, got "
                    f"{tuple(phonemes.shape)}"
                )
            ids = phonemes.long().clamp(0, self.n_phonemes)
            ids = ids + torch.tensor([0, self.n_phonemes + 1], device=ids.device)[None, :, None]
            text = self.phoneme_embedding(ids).sum(1)  # [B, F, dim]
            if self.phoneme_weight != 1.0:
                rows = [self.n_phonemes, 2 * self.n_phonemes + 1]  # "none" in both tables
                none = self.phoneme_embedding.weight[rows].sum(0)
                text = none + self.phoneme_weight * (text - none)
            x = x + text.transpose(1, 2)
        if film is not None:
            x = x * (1 + film[0]) + film[1]
        x = self.transformer(self.frame_blocks(x))
        x = self.blocks(self.upsample(x))
        if film is not None:
            x = x * (1 + film[2]) + film[3]
        return x

    def forward(
        self,
        latent: torch.Tensor,
        units: torch.Tensor | None = None,
        speaker: torch.Tensor | None = None,
        phonemes: torch.Tensor | None = None,
    ) -> torch.Tensor:  # [B, fsq_dim, F] -> [B, F * hop]
        h = self.head(self.norm(self.features(latent, units, speaker, phonemes).transpose(1, 2)))
        h = h.transpose(1, 2)
        log_mag, phase = h.chunk(2, dim=1)
        mag = torch.exp(log_mag.clamp(max=6.0))  # clamp: one bad step must not overflow
        spec = torch.polar(mag, phase)
        return inverse_stft(spec, self.n_fft, self.hop, self.window)


class CodecModel(nn.Module):
    """The trainable codec: `forward` returns the reconstruction and the codes."""

    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        self.cfg = cfg.validate()
        self.encoder = Encoder(cfg)
        self.fsq = FSQ(cfg.fsq_levels, cfg.n_codebooks)
        # Per-frame LayerNorm before the projection: a freshly initialised encoder's output is
        # tiny next to FSQ's unit-wide bins, so without it every frame rounds to the same code
        # and the codes never start to carry information (measured: 1 code in use at init).
        self.pre_fsq_norm = nn.LayerNorm(cfg.latent_dim)
        self.to_fsq = nn.Conv1d(cfg.latent_dim, self.fsq.dim, 1)
        if cfg.decoder_kind == "source_filter":
            from .source_filter import SourceFilterDecoder  # imports this module

            self.decoder: Decoder = SourceFilterDecoder(cfg)
        else:
            self.decoder = Decoder(cfg)

    def latent(self, wav: torch.Tensor) -> torch.Tensor:  # [B, 1, T] -> [B, fsq dim, T/hop]
        h = self.pre_fsq_norm(self.encoder(wav).transpose(1, 2)).transpose(1, 2)
        return self.to_fsq(h)

    def encode(self, wav: torch.Tensor) -> torch.Tensor:  # [B, 1, T] -> codes [B, K, T/hop]
        return self.fsq(self.latent(wav))[1]

    def decode(
        self,
        codes: torch.Tensor,
        units: torch.Tensor | None = None,
        speaker: torch.Tensor | None = None,
        phonemes: torch.Tensor | None = None,
    ) -> torch.Tensor:  # [B, K, F] (+ units [B, F], speaker [B, D], phonemes [B, 2, F])
        return self.decoder(self.fsq.decode(codes), units, speaker, phonemes)  # -> [B, F * hop]

    def forward(
        self,
        wav: torch.Tensor,
        f0: torch.Tensor | None = None,
        voicing: torch.Tensor | None = None,
        codes: torch.Tensor | None = None,
        units: torch.Tensor | None = None,
        speaker: torch.Tensor | None = None,
        phonemes: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """wav [B, 1, T] with T % hop == 0 -> (reconstruction [B, T], codes [B, K, T/hop],
        the source-filter decoder's controls or {}).

        f0 / voicing [B, T / istft_hop]: measured pitch for the source-filter decoder's source
        (teacher forcing in training); by default it uses its own predictions. `codes`
        [B, K, T/hop]: decode these instead of encoding `wav` (a decoder trained on codes made
        elsewhere, e.g. token shards); `units` [B, T/hop]: semantic units for a decoder with
        `n_units` (see `Decoder.features`); `speaker` [B, speaker_dim]: the voice's embedding
        for a decoder with `speaker_dim`; `phonemes` [B, 2, T/hop] for a decoder with
        `n_phonemes`.
        """
        if codes is None:
            quantised, codes = self.fsq(self.latent(wav))
        else:
            quantised = self.fsq.decode(codes)
        if self.cfg.decoder_kind != "source_filter":
            return self.decoder(quantised, units, speaker, phonemes), codes, {}
        controls = self.decoder.controls(quantised, units, speaker, phonemes)
        recon = self.decoder.render(controls, f0=f0, voicing=voicing)[0]
        return recon, codes, controls
