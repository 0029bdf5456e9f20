"""The Codec contract, checked on EnCodec 24 kHz and our tiny codec (random weights, offline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tts.audio import resample
from tts.codecs import Codec, load_codec, resampled_length
from tts.errors import AudioInputError

NAMES = ["encodec-24k@1.5", "koe-tiny"]


@pytest.fixture(scope="module", params=NAMES)
def codec(request: pytest.FixtureRequest) -> Codec:
    torch.manual_seed(0)
    return load_codec(request.param, pretrained=False)


def _speech(clips, seconds: float = 0.5, sr: int = 24_000) -> torch.Tensor:
    """First `seconds` of the Japanese clip (skipping leading silence) at `sr`, as [1, T]."""
    clip = clips[0]
    wav = resample(clip.wav, clip.sr, sr)
    start = int(0.2 * sr)
    return torch.from_numpy(wav[start : start + int(seconds * sr)].copy())[None]


def test_attributes(codec: Codec) -> None:
    assert codec.sample_rate == 24_000
    assert codec.frame_rate == codec.sample_rate / codec.samples_per_frame
    expected = {"encodec-24k@1.5kbps": (75.0, 2, 1024), "koe-tiny": (25.0, 2, 1000)}[codec.name]
    assert (codec.frame_rate, codec.n_codebooks, codec.codebook_size) == expected
    assert codec.tokens_per_second == codec.frame_rate * codec.n_codebooks
    assert codec.pretrained is False and "random weights" in repr(codec)


def test_shapes_and_frame_counts(codec: Codec, speech_clips) -> None:
    spf = codec.samples_per_frame
    for length in [spf, spf + 1, 2 * spf - 1, 5 * spf, 12_345]:
        wav = torch.randn(2, length) * 0.1
        codes = codec.encode(wav, 24_000)
        frames = -(-length // spf)
        assert codes.shape == (2, codec.n_codebooks, frames)
        assert codes.dtype == torch.long
        assert codec.frames_for(length) == frames
        assert int(codes.min()) >= 0 and int(codes.max()) < codec.codebook_size
        audio = codec.decode(codes)
        assert audio.shape == (2, codec.samples_for(frames)) and audio.dtype == torch.float32
        assert torch.isfinite(audio).all()


def test_deterministic_and_decode_matches_codes(codec: Codec, speech_clips) -> None:
    wav = _speech(speech_clips)
    a, b = codec.encode(wav, 24_000), codec.encode(wav.clone(), 24_000)
    assert torch.equal(a, b)
    torch.testing.assert_close(codec.decode(a), codec.decode(b), rtol=0, atol=0)
    # Codes survive a round trip through numpy (what a dataset cache would store).
    assert torch.equal(codec.encode(wav.numpy(), 24_000), a)


def test_batch_equals_single_for_equal_lengths(codec: Codec, speech_clips) -> None:
    speech = _speech(speech_clips, seconds=0.6)
    batch = torch.cat([speech, 0.5 * speech.flip(-1), torch.randn_like(speech) * 0.05])
    codes = codec.encode(batch, 24_000)
    audio = codec.decode(codes)
    for i in range(len(batch)):
        single = codec.encode(batch[i : i + 1], 24_000)
        assert torch.equal(codes[i : i + 1], single), f"item {i} codes differ in a batch"
        torch.testing.assert_close(audio[i : i + 1], codec.decode(single), rtol=1e-4, atol=1e-5)


def test_encode_list_pads_and_trims(codec: Codec, speech_clips) -> None:
    speech = _speech(speech_clips, seconds=0.8)[0]
    short, long = speech[: 7 * codec.samples_per_frame + 5], speech
    out = codec.encode_list([short, long.numpy()], 24_000)
    assert [c.shape[-1] for c in out] == [codec.frames_for(len(short)), codec.frames_for(len(long))]
    assert torch.equal(out[1], codec.encode(long[None], 24_000)[0])
    alone = codec.encode(short[None], 24_000)[0]
    if codec.name.startswith("encodec"):  # causal: padding after the clip changes nothing
        assert torch.equal(out[0], alone)
    else:  # non-causal: only frames near the end may see the padding
        assert torch.equal(out[0][:, :4], alone[:, :4])
    with pytest.raises(AudioInputError, match="clip 0 is too short"):
        codec.encode_list([speech[:10], speech], 24_000)


@pytest.mark.parametrize("sr", [16_000, 22_050, 44_100, 48_000])
def test_resamples_other_rates(codec: Codec, speech_clips, sr: int) -> None:
    native = _speech(speech_clips, seconds=0.5, sr=24_000)
    other = _speech(speech_clips, seconds=0.5, sr=sr)
    codes = codec.encode(other, sr)
    assert codes.shape[-1] == codec.frames_for(other.shape[-1], sr)
    assert codec.frames_for(other.shape[-1], sr) == -(
        -resampled_length(other.shape[-1], sr, 24_000) // codec.samples_per_frame
    )
    # Same speech at another rate gives (nearly) the same codes as at the native rate.
    same = codec.encode(native, 24_000)
    n = min(codes.shape[-1], same.shape[-1]) - 1
    agreement = (codes[..., :n] == same[..., :n]).float().mean().item()
    assert agreement > 0.5, f"codes at {sr} Hz agree with 24 kHz codes on only {agreement:.0%}"


def test_stereo_is_mixed_to_mono(codec: Codec, speech_clips) -> None:
    speech = _speech(speech_clips)
    stereo = torch.stack([speech, speech], dim=1)  # [1, 2, T], identical channels
    assert torch.equal(codec.encode(stereo, 24_000), codec.encode(speech, 24_000))
    mixed = torch.stack([speech, torch.zeros_like(speech)], dim=1)  # mean = speech / 2
    assert torch.equal(codec.encode(mixed, 24_000), codec.encode(speech / 2, 24_000))


def test_bad_audio_raises_typed_errors(codec: Codec) -> None:
    spf = codec.samples_per_frame
    with pytest.raises(AudioInputError, match="too short"):
        codec.encode(torch.zeros(1, 0), 24_000)
    with pytest.raises(AudioInputError, match="too short"):
        codec.encode(torch.zeros(1, spf - 1), 24_000)
    with pytest.raises(
        AudioInputError, match="too short"
    ):  # 1 frame at 24 kHz is fewer samples at 16 kHz
        codec.encode(torch.zeros(1, spf * 2 // 3 - 2), 16_000)
    bad = torch.zeros(1, 2 * spf)
    bad[0, 3] = float("nan")
    with pytest.raises(AudioInputError, match="NaN/Inf"):
        codec.encode(bad, 24_000)
    bad[0, 3] = float("inf")
    with pytest.raises(AudioInputError, match="NaN/Inf"):
        codec.encode(bad, 24_000)
    with pytest.raises(AudioInputError, match=r"wav\[None\]"):
        codec.encode(torch.zeros(2 * spf), 24_000)
    with pytest.raises(AudioInputError, match="shaped"):
        codec.encode(torch.zeros(1, 1, 1, 2 * spf), 24_000)
    with pytest.raises(AudioInputError, match="empty batch"):
        codec.encode(torch.zeros(0, 2 * spf), 24_000)
    with pytest.raises(AudioInputError, match="floating point"):
        codec.encode(torch.zeros(1, 2 * spf, dtype=torch.int16), 24_000)
    with pytest.raises(AudioInputError, match="sample rate"):
        codec.encode(torch.zeros(1, 2 * spf), 0)
    with pytest.raises(AudioInputError, match="torch.Tensor or numpy"):
        codec.encode([0.0] * 2 * spf, 24_000)


def test_bad_codes_raise_typed_errors(codec: Codec) -> None:
    k, size = codec.n_codebooks, codec.codebook_size
    good = torch.zeros(1, k, 3, dtype=torch.long)
    assert codec.decode(good).shape == (1, 3 * codec.samples_per_frame)
    with pytest.raises(AudioInputError, match="range"):
        codec.decode(torch.full((1, k, 3), size))
    with pytest.raises(AudioInputError, match="range"):
        codec.decode(torch.full((1, k, 3), -1))
    with pytest.raises(AudioInputError, match=f"uses {k}"):
        codec.decode(torch.zeros(1, k + 1, 3, dtype=torch.long))
    with pytest.raises(AudioInputError, match="integers"):
        codec.decode(torch.zeros(1, k, 3))
    with pytest.raises(AudioInputError, match="shaped"):
        codec.decode(torch.zeros(k, 3, dtype=torch.long))
    with pytest.raises(AudioInputError, match="empty"):
        codec.decode(torch.zeros(1, k, 0, dtype=torch.long))


def test_to_device_and_inference_mode(codec: Codec) -> None:
    assert codec.to("cpu") is codec and codec.device.type == "cpu"
    wav = torch.randn(1, 3 * codec.samples_per_frame, requires_grad=True)
    codes = codec.encode(wav, 24_000)
    audio = codec.decode(codes)
    assert not audio.requires_grad and codes.device.type == "cpu"
    assert np.isfinite(audio.numpy()).all()
