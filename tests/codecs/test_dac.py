"""DAC 24 kHz and 44.1 kHz adapters with random weights: big models, so tiny inputs and one
model build per variant for the whole module."""

from __future__ import annotations

import pytest
import torch

from tts.codecs import Codec, load_codec
from tts.errors import AudioInputError, ConfigError

EXPECTED = {"dac-24k": (24_000, 320, 32), "dac-44k": (44_100, 512, 9)}


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def dac_codec(request: pytest.FixtureRequest) -> Codec:
    torch.manual_seed(0)
    return load_codec(request.param, pretrained=False)


def test_attributes(dac_codec: Codec) -> None:
    sr, hop, k = EXPECTED[dac_codec.name]
    assert (dac_codec.sample_rate, dac_codec.samples_per_frame, dac_codec.n_codebooks) == (
        sr,
        hop,
        k,
    )
    assert dac_codec.codebook_size == 1024
    assert dac_codec.frame_rate == pytest.approx(sr / hop)


def test_round_trip_shapes_batch_and_resampling(dac_codec: Codec) -> None:
    torch.manual_seed(1)
    sr = 22_050
    wav = torch.randn(2, 2, int(0.15 * sr)) * 0.1  # stereo, 0.15 s at another rate
    codes = dac_codec.encode(wav, sr)
    frames = dac_codec.frames_for(wav.shape[-1], sr)
    assert codes.shape == (2, dac_codec.n_codebooks, frames)
    audio = dac_codec.decode(codes)
    assert audio.shape == (2, frames * dac_codec.samples_per_frame)
    assert torch.isfinite(audio).all()
    # equal-length items: the batch gives exactly the codes each item gives alone
    single = dac_codec.encode(wav[1:], sr)
    assert torch.equal(codes[1:], single)
    torch.testing.assert_close(audio[1:], dac_codec.decode(single), rtol=1e-4, atol=1e-5)
    assert torch.equal(dac_codec.encode(wav, sr), codes)  # deterministic


def test_errors(dac_codec: Codec) -> None:
    with pytest.raises(AudioInputError, match="too short"):
        dac_codec.encode(torch.zeros(1, dac_codec.samples_per_frame - 1), dac_codec.sample_rate)
    with pytest.raises(AudioInputError, match="range"):
        dac_codec.decode(torch.full((1, dac_codec.n_codebooks, 2), 1024))
    with pytest.raises(AudioInputError, match="codebooks"):
        dac_codec.decode(torch.zeros(1, 4, 2, dtype=torch.long))


def test_fewer_codebooks() -> None:
    codec = load_codec("dac-44k@4", pretrained=False)
    assert codec.n_codebooks == 4 and codec.name == "dac-44k@4q"
    codes = codec.encode(torch.randn(1, 2048) * 0.1, 44_100)
    assert codes.shape == (1, 4, 4)
    with pytest.raises(ConfigError, match="out of range"):
        load_codec("dac-44k", pretrained=False, n_codebooks=10)
