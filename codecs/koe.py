"""Our 25 Hz codec behind the `Codec` interface, saved as model.safetensors + config.json.

Checkpoints are directories written by `KoeCodec.save` (or by recipes/train_codec.py) with
kind "koe-codec"; `load_codec(path)` reads them back.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tts.checkpoint import CONFIG_NAME, load_checkpoint, read_checkpoint_config, save_checkpoint
from tts.config import config_from_dict, config_to_dict
from tts.errors import AudioInputError, CheckpointError, ConfigError

from .base import Codec
from .model import CodecConfig, CodecModel
from .source_filter import PitchRange
from .weights import load_weights_into

CHECKPOINT_KIND = "koe-codec"
# The config fields that shape the codes (with the weights outside the decoder: codes_id).
_ENCODING_SETTINGS = (
    "sample_rate",
    "strides",
    "encoder_channels",
    "encoder_max_channels",
    "encoder_res_blocks",
    "latent_dim",
    "encoder_transformer_layers",
    "transformer_heads",
    "fsq_levels",
    "n_codebooks",
)


class KoeCodec(Codec):
    """Wraps a `CodecModel`; `model` may be shared with a training loop (it is not copied)."""

    def __init__(self, model: CodecModel, pretrained: bool = False, name: str = "koe") -> None:
        self.model = model
        self.config: CodecConfig = model.cfg
        self.name = name
        self.pretrained = pretrained
        self.sample_rate = self.config.sample_rate
        self.samples_per_frame = self.config.hop
        self.n_codebooks = self.config.n_codebooks
        self.codebook_size = model.fsq.codebook_size

    @classmethod
    def from_config(
        cls, config: CodecConfig, device: str | torch.device = "cpu", name: str = "koe"
    ) -> KoeCodec:
        """Random weights (for tests and as the starting point of training)."""
        return cls(CodecModel(config).eval().to(device), pretrained=False, name=name)

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> KoeCodec:
        directory = find_checkpoint_dir(directory)
        state, payload = load_checkpoint(directory, kind=CHECKPOINT_KIND, device="cpu")
        try:
            config = config_from_dict(CodecConfig, payload["config"])
        except ConfigError as exc:
            raise CheckpointError(
                f"{directory / CONFIG_NAME} has an invalid codec config: {exc}"
            ) from exc
        model = CodecModel(config)
        load_weights_into(model, state, str(directory))
        name = str(payload.get("name", f"koe:{directory.name}"))
        return cls(model.eval().to(device), pretrained=True, name=name)

    def save(self, directory: str | Path, **metadata: object) -> Path:
        return save_checkpoint(
            directory,
            self.model.state_dict(),
            CHECKPOINT_KIND,
            config_to_dict(self.config),
            name=self.name,
            frame_rate=self.frame_rate,
            n_codebooks=self.n_codebooks,
            codebook_size=self.codebook_size,
            **metadata,
        )

    def codes_id(self) -> str:
        """sha256 over the settings and weights on the encoding side: everything in the model
        but the decoder (encoder, its normalisation, the projection into FSQ), as float32."""
        cfg = self.config
        settings = {k: getattr(cfg, k) for k in _ENCODING_SETTINGS}
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=list).encode())
        for name, tensor in sorted(self.model.state_dict().items()):
            if name.startswith("decoder."):
                continue
            data = tensor.detach().to("cpu", torch.float32).contiguous()
            digest.update(f"{name}:{tuple(data.shape)}".encode())
            digest.update(data.numpy().tobytes())
        return digest.hexdigest()

    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        return self.model.encode(wav)

    def _decode(
        self,
        codes: torch.Tensor,
        speaker: torch.Tensor | None = None,
        phonemes: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.model.decode(*self.split_units(codes), speaker=speaker, phonemes=phonemes)

    def set_phoneme_weight(self, weight: float) -> None:
        """Decode with `CodecConfig.phoneme_weight` = `weight` from now on (saved with the
        codec). For choosing the weight without rewriting a bundle: recipes/dev_cer.py
        --phoneme-weight. A codec whose decoder reads no phonemes refuses it."""
        if not self.reads_phonemes:  # n_phonemes = 0: refused as by any such codec
            super().set_phoneme_weight(weight)
        config = replace(self.config, phoneme_weight=float(weight)).validate()
        self.config = self.model.cfg = config
        self.model.decoder.phoneme_weight = config.phoneme_weight

    @property
    def reads_speaker(self) -> int:
        """The speaker embedding size the decoder reads (`CodecConfig.speaker_dim`); 0: none."""
        return self.config.speaker_dim

    @property
    def reads_phonemes(self) -> int:
        """The symbols of the phoneme frames the decoder reads (`CodecConfig.n_phonemes`)."""
        return self.config.n_phonemes

    @property
    def n_units(self) -> int:
        """Semantic units the decoder reads (`CodecConfig.n_units`); 0 = codes only."""
        return self.config.n_units

    def split_units(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Checked codes [B, K, F] -> (codes, None); [B, 1 + K, F] -> (codes, units [B, F])."""
        if codes.shape[1] == self.n_codebooks + 1:
            return codes[:, 1:], codes[:, 0]
        return codes, None

    def check_codes(self, codes: Any) -> torch.Tensor:
        """`Codec.check_codes`; a decoder that reads units also takes [B, 1 + K, F]: a unit
        per frame (0 .. n_units - 1, e.g. an LM's semantic stream; n_units = none for that
        frame) in front of the codes."""
        shaped = isinstance(codes, (torch.Tensor, np.ndarray)) and codes.ndim == 3
        if not (self.n_units and shaped and codes.shape[1] == self.n_codebooks + 1):
            return super().check_codes(codes)
        codes = torch.as_tensor(codes)
        rest = super().check_codes(codes[:, 1:])
        units = codes[:, :1].long()
        low, high = int(units.min()), int(units.max())
        if low < 0 or high > self.n_units:
            raise AudioInputError(
                f"semantic units range over [{low}, {high}] but {self.name}'s decoder reads "
                f"0..{self.n_units - 1} ({self.n_units} = none)"
            )
        return torch.cat([units, rest], dim=1)

    @property
    def continues_phase(self) -> bool:
        """True when windows must be chained with `decode_window` (a source-filter decoder)."""
        return self.config.decoder_kind == "source_filter"

    @property
    def controls_pitch(self) -> bool:
        """True when `decode_window` can widen or flatten the F0 contour (`PitchRange`)."""
        return self.continues_phase  # both come with the source-filter decoder

    def samples_per_frame_at(self, tempo: float = 1.0) -> int | None:
        """Output samples per code frame when `decode_window` speaks at `tempo` (> 1 faster);
        None when this decoder cannot change the tempo that far (or at all)."""
        if tempo == 1.0 or not self.continues_phase:
            return super().samples_per_frame_at(tempo)
        decoder = self.model.decoder
        hop = decoder.tempo_hop(tempo)
        return None if hop is None else hop * (self.samples_per_frame // decoder.hop)

    @torch.inference_mode()
    def decode_window(
        self,
        codes: torch.Tensor,
        start_frame: int,
        anchor_frame: int,
        anchor_phase: float,
        pitch: PitchRange | None = None,
        observe: tuple[int, int] | None = None,
        tempo: float = 1.0,
        speaker: torch.Tensor | None = None,
        phonemes: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode frames [1, K, F] (or [1, 1 + K, F] with units, see `check_codes`) that start
        at absolute frame `start_frame`, continuing an earlier window: the fundamental's phase
        at window frame `anchor_frame` is `anchor_phase`.

        `pitch` rescales the F0 contour; the window frames `observe` = (first, end) (default:
        all) join its running centre first. `tempo` speaks faster (> 1) or slower by laying the
        decoder's frames out at another hop (F0 and spectra kept; `samples_per_frame_at`).
        Returns (wav [1, F * samples per frame], the phase at each frame boundary [F + 1], to
        anchor a later window at any of them). For a source-filter decoder; other decoders just
        decode, with phases 0, and refuse `pitch` and `tempo`. `speaker`: the voice's embedding,
        and `phonemes` [1, 2, F] the window's phoneme frames, as in `Codec.decode`.
        """
        codes = self.check_codes(codes).to(self.device)
        if codes.shape[0] != 1:
            raise ConfigError(f"decode_window takes one sequence, got a batch of {codes.shape[0]}")
        if phonemes is not None:
            phonemes = torch.as_tensor(phonemes).to(self.device)
        if not self.continues_phase:
            if (pitch is not None and not pitch.is_identity) or tempo != 1.0:
                raise ConfigError(
                    f"a pitch range or tempo needs a source-filter decoder; this codec's "
                    f"decoder is {self.config.decoder_kind!r}"
                )
            # Codec.decode: the same refusals of a speaker or phonemes it does not read
            return self.decode(codes, speaker, phonemes), torch.zeros(codes.shape[-1] + 1)
        hop = self.samples_per_frame_at(tempo)
        if hop is None:
            raise ConfigError(f"tempo {tempo} is beyond what the decoder can lay out")
        decoder = self.model.decoder
        per_frame = self.samples_per_frame // decoder.hop  # STFT frames per codec frame
        codes, units = self.split_units(codes)
        controls = decoder.controls(self.model.fsq.decode(codes), units, speaker, phonemes)
        f0 = gains_f0 = None
        if pitch is not None:
            first, end = (0, codes.shape[-1]) if observe is None else observe
            if not 0 <= first <= end <= codes.shape[-1]:
                raise ConfigError(f"observe {observe} is outside the window 0..{codes.shape[-1]}")
            log_f0 = controls["log_f0"][0]
            voicing = torch.sigmoid(controls["voicing_logit"][0])
            span = slice(first * per_frame, end * per_frame)
            pitch.observe(log_f0[span], voicing[span])
            f0 = pitch.apply(controls["log_f0"]).exp().clamp(decoder.f0_min, decoder.f0_max)
            if not pitch.is_identity:  # moving F0 keeps the loudness (see render)
                gains_f0 = controls["log_f0"].exp()
        wav, phase = decoder.render(
            controls,
            f0=f0,
            start_sample=start_frame * hop,
            anchor_sample=anchor_frame * hop,
            anchor_phase=anchor_phase,
            hop=hop // per_frame if tempo != 1.0 else None,
            gains_f0=gains_f0,
        )
        return wav.float(), phase[0, ::hop].cpu()


def find_checkpoint_dir(path: str | Path) -> Path:
    """A codec checkpoint folder, or a training run folder holding one in `checkpoint/`."""
    path = Path(path).expanduser()
    if (path / CONFIG_NAME).is_file():
        return path
    for sub in ("checkpoint", "checkpoint.old"):  # see recipes/train_codec.py
        if (path / sub / CONFIG_NAME).is_file():
            return path / sub
    read_checkpoint_config(path, CHECKPOINT_KIND)  # raises the precise CheckpointError
    return path
