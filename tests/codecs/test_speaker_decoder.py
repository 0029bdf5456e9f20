"""A Koe decoder that also reads the voice's speaker embedding (`CodecConfig.speaker_dim`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tts.codecs.koe import KoeCodec
from tts.codecs.model import CodecConfig, CodecModel, tiny_config
from tts.errors import ConfigError

from .conftest import assert_streaming_matches, learn_two_tones

DIM = 6


def speaker_config(**changes) -> CodecConfig:
    return dataclasses.replace(
        tiny_config(),
        **{"decoder_kind": "source_filter", "n_units": 4, "speaker_dim": DIM, **changes},
    )


def random_speaker_codec(seed: int = 0) -> KoeCodec:
    """A source-filter codec whose speaker FiLM is random (so the speaker changes the audio)."""
    torch.manual_seed(seed)
    codec = KoeCodec.from_config(speaker_config())
    with torch.no_grad():
        codec.model.decoder.speaker_film.weight.normal_(0.0, 0.3)
        codec.model.decoder.head.bias[-1] = 8.0  # voiced, so the harmonics sound
        codec.model.decoder.head.weight[-2:] *= 0.05
    return codec


def test_the_speaker_film_starts_at_zero_so_the_decoder_decodes_as_before() -> None:
    torch.manual_seed(0)
    with_speaker = CodecModel(speaker_config()).eval()
    plain = CodecModel(speaker_config(speaker_dim=0)).eval()
    missing, unexpected = plain.load_state_dict(with_speaker.state_dict(), strict=False)
    assert not missing and unexpected == ["decoder.speaker_film.weight"]
    codes = torch.randint(0, 1000, (2, 2, 12))
    units = torch.randint(0, 4, (2, 12))
    with torch.no_grad():
        expected = plain.decode(codes, units)
        got = with_speaker.decode(codes, units, torch.randn(2, DIM))
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
        torch.testing.assert_close(with_speaker.decode(codes, units), expected, rtol=0, atol=0)


def test_the_speaker_changes_the_audio_and_zeros_mean_none() -> None:
    model = random_speaker_codec().model
    codes = torch.randint(0, 1000, (2, 2, 12))
    voices = torch.randn(2, DIM)
    with torch.no_grad():
        none = model.decode(codes)
        torch.testing.assert_close(model.decode(codes, speaker=torch.zeros(2, DIM)), none)
        read = model.decode(codes, speaker=voices)
        # one vector [D] speaks for the whole batch
        one = model.decode(codes, speaker=voices[0])
    assert (read - none).abs().max() > 0.05 * none.abs().max()
    torch.testing.assert_close(one[0], read[0])
    assert (one[1] - read[1]).abs().max() > 0.01 * read[1].abs().max()


def test_speaker_errors() -> None:
    with pytest.raises(ConfigError, match="speaker_dim"):
        speaker_config(speaker_dim=-1).validate()
    codes = torch.randint(0, 1000, (1, 2, 5))
    with pytest.raises(ConfigError, match="reads no speaker"):
        CodecModel(tiny_config()).decode(codes, speaker=torch.zeros(1, DIM))
    model = CodecModel(speaker_config())
    with pytest.raises(ConfigError, match=r"shaped \[B, 6\]"):
        model.decode(codes, speaker=torch.zeros(1, DIM + 1))
    with pytest.raises(ConfigError, match=r"shaped \[B, 6\]"):
        model.decode(codes, speaker=torch.zeros(3, DIM))
    with pytest.raises(ConfigError, match="NaN"):
        model.decode(codes, speaker=torch.full((DIM,), float("nan")))
    plain = KoeCodec.from_config(tiny_config())
    assert plain.reads_speaker == 0
    with pytest.raises(ConfigError, match="reads no speaker"):
        plain.decode(codes, speaker=torch.zeros(DIM))
    with pytest.raises(ConfigError, match="reads no speaker"):
        KoeCodec.from_config(speaker_config(decoder_kind="istft", speaker_dim=0)).decode_window(
            codes, 0, 0, 0.0, speaker=torch.zeros(DIM)
        )


def test_the_codec_reads_the_speaker_and_keeps_it_when_saved(tmp_path) -> None:
    codec = random_speaker_codec()
    assert codec.reads_speaker == DIM
    codes = torch.randint(0, codec.codebook_size, (1, codec.n_codebooks, 10))
    voice = torch.randn(DIM)
    with torch.no_grad():
        expected = codec.model.decode(codes, speaker=voice[None])
    torch.testing.assert_close(codec.decode(codes, speaker=voice), expected)
    # decode_window (the synthesizer's path for pitch and tempo) reads it too
    window, _ = codec.decode_window(codes, 0, 0, 0.0, speaker=voice)
    torch.testing.assert_close(window, expected, atol=1e-5, rtol=0)
    # resynthesis of a clip in a voice: encoded, then decoded with it
    clip = torch.randn(codec.samples_per_frame * 8) * 0.1
    resynth = codec.resynthesize(clip.numpy(), codec.sample_rate, speaker=voice)
    again = codec.decode(codec.encode(clip[None], codec.sample_rate), speaker=voice)[0]
    np.testing.assert_allclose(resynth, again.numpy(), atol=1e-6)
    loaded = KoeCodec.load(codec.save(tmp_path / "c"))
    assert loaded.reads_speaker == DIM
    torch.testing.assert_close(loaded.decode(codes, speaker=voice), expected)


@pytest.mark.parametrize("step", [1, 5])
def test_streaming_with_a_speaker_matches_one_shot_decoding(step: int) -> None:
    codec = random_speaker_codec()
    codes = torch.randint(0, codec.codebook_size, (codec.n_codebooks, 40))
    full = assert_streaming_matches(codec, codes, step, speaker=torch.randn(DIM))
    assert np.abs(full - codec.decode(codes[None])[0].numpy()).max() > 0.05 * np.abs(full).max()


def test_a_decoder_learns_what_only_the_speaker_says() -> None:
    # The same codes for both items, so only the speaker embedding can tell the decoder which
    # tone to make: voice A a 300 Hz tone, voice B a 1,200 Hz one.
    torch.manual_seed(0)
    model = CodecModel(dataclasses.replace(tiny_config(), speaker_dim=2))
    low, high = learn_two_tones(model, speaker=torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    assert abs(low - 300) < 60 and abs(high - 1200) < 120, (low, high)
