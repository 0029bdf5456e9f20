"""`load_codec(name_or_path)`: one entry point for every codec.

Names:
  encodec-24k        EnCodec 24 kHz; bandwidth=1.5/3/6/12/24 (or "encodec-24k@1.5")
  dac-24k, dac-44k   Descript Audio Codec; n_codebooks= to use fewer (or "dac-24k@8")
  koe-tiny/-small/-base  our 25 Hz codec presets with random weights (pretrained=False only)
  a directory        a checkpoint of our codec (model.safetensors + config.json), or a
                     training run folder that holds one in checkpoint/
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from tts.errors import CheckpointError, ConfigError

from .base import Codec
from .koe import KoeCodec
from .model import PRESETS, preset_config

PRETRAINED_CODECS = ("encodec-24k", "dac-24k", "dac-44k")


def available_codecs() -> list[str]:
    return [*PRETRAINED_CODECS, *(f"koe-{p}" for p in PRESETS)]


def _split_variant(name: str) -> tuple[str, str | None]:
    base, _, variant = name.partition("@")
    return base, (variant.removesuffix("kbps").removesuffix("q") or None) if variant else None


def load_codec(
    name_or_path: str | Path,
    pretrained: bool = True,
    device: str | torch.device = "cpu",
    checkpoint: str | Path | None = None,
    allow_download: bool | None = None,
    allow_unsafe_pickle: bool = False,
    **options: Any,
) -> Codec:
    """Build a codec by name or from our checkpoint directory; see the module docstring.

    pretrained=False gives random weights (tests). checkpoint= points at a local weights file
    (or its folder) for EnCodec/DAC. Downloads happen only with allow_download=True or
    TTS_ALLOW_DOWNLOAD=1; otherwise missing weights raise CheckpointError saying where to
    put the file. Options: bandwidth= (EnCodec), n_codebooks= (DAC).
    Torch weight files are read with weights_only=True; a file holding other pickled objects
    is refused unless allow_unsafe_pickle=True (only for files from a source you trust).
    """
    text = str(name_or_path)
    base, variant = _split_variant(text)
    if base == "encodec-24k":
        from .encodec_adapter import EncodecCodec

        if variant is not None:
            options.setdefault("bandwidth", _number(variant, float, text))
        _only(options, {"bandwidth"}, base)
        return EncodecCodec(
            pretrained=pretrained,
            checkpoint=checkpoint,
            allow_download=allow_download,
            device=device,
            allow_unsafe_pickle=allow_unsafe_pickle,
            **options,
        )
    if base in ("dac-24k", "dac-44k"):
        from .dac_adapter import DacCodec

        if variant is not None:
            options.setdefault("n_codebooks", _number(variant, int, text))
        _only(options, {"n_codebooks"}, base)
        return DacCodec(
            base,
            pretrained=pretrained,
            checkpoint=checkpoint,
            allow_download=allow_download,
            device=device,
            allow_unsafe_pickle=allow_unsafe_pickle,
            **options,
        )
    if base.startswith("koe-") and base[4:] in PRESETS:
        _only(options, set(), base)
        if pretrained:
            raise CheckpointError(
                f"{base} has no published weights; train one with recipes/train_codec.py and "
                "load it with load_codec(path_to_run_or_checkpoint), or pass pretrained=False"
            )
        return KoeCodec.from_config(preset_config(base[4:]), device=device, name=base)
    path = Path(text).expanduser()
    if path.exists():
        _only(options, set(), "a codec checkpoint")
        return KoeCodec.load(path, device=device)
    raise ConfigError(
        f"unknown codec {text!r}: not one of {available_codecs()} and not an existing checkpoint directory"
    )


def _only(options: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(
            f"option(s) {unknown} do not apply to {what}; allowed: {sorted(allowed) or 'none'}"
        )


def _number(text: str, kind: type, name: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(
            f"cannot read the variant in {name!r}: {text!r} is not a {kind.__name__}"
        ) from None
