"""Codec adapters (EnCodec, DAC) and our own low-frame-rate speech codec; imported as `tts.codecs`.

    from tts.codecs import load_codec
    codec = load_codec("encodec-24k", bandwidth=6.0)      # or "dac-24k", "dac-44k", a checkpoint dir
    codes = codec.encode(wav, sr)                          # [B, T] or [B, C, T] -> LongTensor [B, K, F]
    audio = codec.decode(codes)                            # -> [B, F * codec.samples_per_frame]

The EnCodec and DAC adapters import their packages lazily (they pull in torchaudio).
"""

from .base import Codec, resampled_length
from .koe import CHECKPOINT_KIND, KoeCodec
from .model import CodecConfig, CodecModel, preset_config
from .registry import PRETRAINED_CODECS, available_codecs, load_codec

__all__ = [
    "CHECKPOINT_KIND",
    "PRETRAINED_CODECS",
    "Codec",
    "CodecConfig",
    "CodecModel",
    "KoeCodec",
    "available_codecs",
    "load_codec",
    "preset_config",
    "resampled_length",
]
