"""A Koe decoder that also reads semantic units (`CodecConfig.n_units`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tts.codecs.koe import KoeCodec
from tts.codecs.model import CodecConfig, CodecModel, tiny_config
from tts.errors import AudioInputError, ConfigError

from .conftest import assert_streaming_matches, learn_two_tones

N_UNITS = 4


def units_config(**changes) -> CodecConfig:
    return dataclasses.replace(
        tiny_config(), **{"decoder_kind": "source_filter", "n_units": N_UNITS, **changes}
    )


def random_units_codec(seed: int = 0) -> KoeCodec:
    """A source-filter codec whose unit table is random (so the units change the audio)."""
    torch.manual_seed(seed)
    codec = KoeCodec.from_config(units_config())
    with torch.no_grad():
        codec.model.decoder.unit_embedding.weight.normal_(0.0, 0.5)
        # voiced, with an F0 that glides (as in test_source_filter's streaming test)
        codec.model.decoder.head.bias[-1] = 8.0
        codec.model.decoder.head.weight[-2:] *= 0.05
    return codec


def test_the_unit_table_starts_at_zero_so_the_decoder_decodes_as_before() -> None:
    torch.manual_seed(0)
    with_units = CodecModel(units_config()).eval()
    plain = CodecModel(units_config(n_units=0)).eval()
    missing, unexpected = plain.load_state_dict(with_units.state_dict(), strict=False)
    assert not missing and unexpected == ["decoder.unit_embedding.weight"]
    codes = torch.randint(0, 1000, (2, 2, 12))
    units = torch.randint(0, N_UNITS, (2, 12))
    with torch.no_grad():
        expected = plain.decode(codes)
        torch.testing.assert_close(with_units.decode(codes, units), expected, rtol=0, atol=0)
        torch.testing.assert_close(with_units.decode(codes), expected, rtol=0, atol=0)


def test_units_change_the_audio_and_none_is_the_extra_entry() -> None:
    model = random_units_codec().model
    codes = torch.randint(0, 1000, (1, 2, 12))
    units = torch.randint(0, N_UNITS, (1, 12))
    with torch.no_grad():
        none = model.decode(codes)
        torch.testing.assert_close(model.decode(codes, torch.full((1, 12), N_UNITS)), none)
        read = model.decode(codes, units)
    assert (read - none).abs().max() > 0.05 * none.abs().max()


def test_unit_errors() -> None:
    with pytest.raises(ConfigError, match="n_units"):
        units_config(n_units=-1).validate()
    plain = CodecModel(tiny_config())
    codes = torch.randint(0, 1000, (1, 2, 5))
    with pytest.raises(ConfigError, match="reads no semantic units"):
        plain.decode(codes, torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ConfigError, match="shaped"):
        CodecModel(units_config()).decode(codes, torch.zeros(1, 4, dtype=torch.long))


def test_the_codec_takes_units_in_front_of_the_codes(tmp_path) -> None:
    codec = random_units_codec()
    codes = torch.randint(0, codec.codebook_size, (1, codec.n_codebooks, 10))
    units = torch.randint(0, N_UNITS, (1, 1, 10))
    both = torch.cat([units, codes], dim=1)
    assert codec.n_units == N_UNITS
    with torch.no_grad():
        expected = codec.model.decode(codes, units[:, 0])
    torch.testing.assert_close(codec.decode(both), expected)
    torch.testing.assert_close(
        codec.decode(codes), codec.decode(torch.cat([torch.full_like(units, N_UNITS), codes], 1))
    )
    with pytest.raises(AudioInputError, match="semantic units range"):
        codec.decode(torch.cat([torch.full_like(units, N_UNITS + 1), codes], dim=1))
    with pytest.raises(AudioInputError, match="codebooks"):  # no unit row on a plain codec
        KoeCodec.from_config(tiny_config()).decode(both)
    # saved and loaded, the decoder still reads them the same way
    loaded = KoeCodec.load(codec.save(tmp_path / "c"))
    assert loaded.n_units == N_UNITS
    torch.testing.assert_close(loaded.decode(both), codec.decode(both))


@pytest.mark.parametrize("step", [1, 5])
def test_streaming_with_units_matches_one_shot_decoding(step: int) -> None:
    codec = random_units_codec()
    frames = 40
    codes = torch.randint(0, codec.codebook_size, (codec.n_codebooks, frames))
    both = torch.cat([torch.randint(0, N_UNITS, (1, frames)), codes])
    full = assert_streaming_matches(codec, both, step)
    assert np.abs(full - codec.decode(codes[None])[0].numpy()).max() > 0.05 * np.abs(full).max()


def test_a_decoder_learns_what_only_the_units_say() -> None:
    # Every frame has the same code, so only the unit can tell the decoder which tone to
    # make: unit 0 is a 300 Hz tone, unit 1 a 1,200 Hz one.
    torch.manual_seed(0)
    model = CodecModel(dataclasses.replace(tiny_config(), n_units=2))
    low, high = learn_two_tones(model, units=torch.tensor([[0] * 8, [1] * 8]))
    assert abs(low - 300) < 60 and abs(high - 1200) < 120, (low, high)
