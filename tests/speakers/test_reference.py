"""Reference-clip loading: validation, VAD cropping, loudness, warnings, properties."""

from __future__ import annotations

import warnings

import numpy as np
import pyloudnorm
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tts.audio import encode_audio_bytes, resample, save_audio
from tts.errors import ReferenceAudioError
from tts.speakers.reference import (
    CODEC_SAMPLE_RATE,
    SAMPLE_RATE,
    TARGET_LUFS,
    ReferenceAudioWarning,
    load_reference,
)


def _silence(seconds: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    return np.zeros(int(seconds * sr), dtype=np.float32)


def _assert_valid(clip) -> None:
    assert clip.sample_rate == SAMPLE_RATE
    assert clip.wav.ndim == 1 and clip.wav.dtype == np.float32
    assert 3 * SAMPLE_RATE <= len(clip.wav) <= 10 * SAMPLE_RATE
    assert np.all(np.isfinite(clip.wav)) and np.max(np.abs(clip.wav)) <= 1.0
    assert abs(len(clip.wav_24k) - len(clip.wav) * CODEC_SAMPLE_RATE / SAMPLE_RATE) <= 2
    assert clip.speech_seconds >= 2.0
    assert len(clip.content_hash) == 64


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sr=st.sampled_from([8_000, 11_025, 16_000, 22_050, 24_000, 44_100, 48_000]),
    channels=st.integers(1, 3),
    lead=st.floats(0.0, 2.0),
    tail=st.floats(0.0, 2.0),
    repeats=st.integers(0, 3),
    speech_fraction=st.floats(0.1, 1.0),
    noise=st.sampled_from([0.0, 0.003, 0.3]),
    gain=st.floats(0.05, 1.0),
    poison=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_any_input_gives_a_valid_clip_or_a_typed_error(
    speech_16k, sr, channels, lead, tail, repeats, speech_fraction, noise, gain, poison, seed
):
    rng = np.random.default_rng(seed)
    speech = speech_16k[: int(len(speech_16k) * speech_fraction)]
    parts = [_silence(lead)]
    for _ in range(repeats):
        parts += [speech, _silence(0.4)]
    parts.append(_silence(tail))
    mono = np.concatenate(parts) * gain
    mono = resample(mono, SAMPLE_RATE, sr) if len(mono) else mono
    wav = np.stack([mono * (1 - 0.2 * c) for c in range(channels)]) if channels > 1 else mono
    wav = wav + noise * rng.standard_normal(wav.shape).astype(np.float32)
    if poison and wav.size:
        wav.reshape(-1)[rng.integers(wav.size)] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReferenceAudioWarning)
        try:
            clip = load_reference(wav.astype(np.float32), sr=sr)
        except ReferenceAudioError as exc:
            assert str(exc)  # the message names the problem
            return
    assert not poison, "NaN input must be rejected"
    _assert_valid(clip)


def test_resampled_noisy_stereo_with_silence_is_accepted(speech_16k):
    mono = resample(np.concatenate([_silence(1.5), speech_16k, _silence(1.0)]), SAMPLE_RATE, 44_100)
    stereo = np.stack([mono, 0.5 * mono])
    stereo += 0.002 * np.random.default_rng(1).standard_normal(stereo.shape).astype(np.float32)
    clip = load_reference(stereo, sr=44_100)
    _assert_valid(clip)
    assert clip.duration < len(speech_16k) / SAMPLE_RATE + 0.5


def test_silence_is_rejected():
    with pytest.raises(ReferenceAudioError, match="no speech"):
        load_reference(_silence(5.0), sr=SAMPLE_RATE)


def test_white_noise_is_rejected():
    noise = 0.3 * np.random.default_rng(0).standard_normal(5 * SAMPLE_RATE).astype(np.float32)
    with pytest.raises(ReferenceAudioError, match="speech"):
        load_reference(noise, sr=SAMPLE_RATE)


def test_too_little_speech_is_rejected(speech_16k):
    short = np.concatenate([_silence(2.0), speech_16k[: int(1.2 * SAMPLE_RATE)], _silence(2.0)])
    with pytest.raises(ReferenceAudioError, match="speech"):
        load_reference(short, sr=SAMPLE_RATE)
    with pytest.raises(ReferenceAudioError, match="only 1.00 s long"):
        load_reference(speech_16k[:SAMPLE_RATE], sr=SAMPLE_RATE)


@pytest.mark.parametrize(
    ("wav", "sr", "match"),
    [
        (np.zeros(0, np.float32), 16_000, "empty"),
        (np.zeros((2, 0), np.float32), 16_000, "empty"),
        (np.zeros((1, 2, 48_000), np.float32), 16_000, "shape"),
        (np.zeros((48_000, 2), np.float32), 16_000, "channels"),
        (np.full(48_000, np.inf, np.float32), 16_000, "NaN/Inf"),
        (np.zeros(48_000, np.float32), 100, "sample rate"),
        (np.zeros(48_000, np.float32), 10_000_000, "sample rate"),
        (np.zeros(48_000, np.float32), None, "sample rate"),
        (np.zeros(48_000, np.complex64), 16_000, "real numbers"),
        ([0.0] * 48_000, 16_000, "numpy array"),
    ],
)
def test_bad_arrays_raise_typed_errors(wav, sr, match):
    with pytest.raises(ReferenceAudioError, match=match):
        load_reference(wav, sr=sr)


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage" * 10)
    with pytest.raises(ReferenceAudioError, match="unreadable"):
        load_reference(bad)
    with pytest.raises(ReferenceAudioError, match="unreadable"):
        load_reference(b"definitely not audio")
    with pytest.raises(ReferenceAudioError, match="not found"):
        load_reference(tmp_path / "missing.flac")


def test_file_bytes_tensor_and_array_agree(tmp_path, speech_16k):
    from_array = load_reference(speech_16k, sr=SAMPLE_RATE)
    path = tmp_path / "ref.flac"
    save_audio(path, speech_16k, SAMPLE_RATE)
    from_file = load_reference(path)
    from_bytes = load_reference(encode_audio_bytes(speech_16k, SAMPLE_RATE, "FLAC"))
    from_tensor = load_reference(torch.from_numpy(speech_16k), sr=SAMPLE_RATE)
    assert from_tensor.content_hash == from_array.content_hash
    assert from_file.content_hash == from_bytes.content_hash
    # FLAC stores 16-bit PCM: the same clip up to quantisation noise.
    n = min(len(from_file.wav), len(from_array.wav))
    assert np.max(np.abs(from_file.wav[:n] - from_array.wav[:n])) < 2e-3
    assert from_file.source.endswith("ref.flac")


def test_int16_pcm_and_stereo_are_accepted(speech_16k):
    ref = load_reference(speech_16k, sr=SAMPLE_RATE)
    pcm = (speech_16k * 32767).astype(np.int16)
    assert np.max(np.abs(load_reference(pcm, sr=SAMPLE_RATE).wav - ref.wav)) < 2e-3
    stereo = np.stack([speech_16k, speech_16k])
    assert load_reference(stereo, sr=SAMPLE_RATE).content_hash == ref.content_hash


def test_processing_is_deterministic_and_level_invariant(speech_16k):
    a = load_reference(speech_16k * 0.05, sr=SAMPLE_RATE)
    b = load_reference(speech_16k * 0.05, sr=SAMPLE_RATE)
    c = load_reference(speech_16k * 0.7, sr=SAMPLE_RATE)
    assert a.content_hash == b.content_hash
    np.testing.assert_allclose(a.wav, c.wav, atol=1e-3)
    loudness = pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(a.wav.astype(np.float64))
    assert abs(loudness - TARGET_LUFS) < 0.5


def test_dc_offset_is_removed(speech_16k):
    clip = load_reference(speech_16k + 0.2, sr=SAMPLE_RATE)
    assert abs(float(clip.wav.mean())) < 0.01


def test_leading_and_trailing_silence_are_trimmed(speech_16k):
    padded = np.concatenate([_silence(3.0), speech_16k, _silence(3.0)])
    clip = load_reference(padded, sr=SAMPLE_RATE)
    assert clip.duration < len(speech_16k) / SAMPLE_RATE + 0.5
    assert clip.speech_seconds > 0.8 * clip.duration


def test_long_clip_is_cropped_at_speech_boundaries(voice_clips):
    sentences = [resample(w, s, SAMPLE_RATE) for w, s in voice_clips["en_m3"]]
    long = np.concatenate([np.concatenate([s, _silence(0.8)]) for s in sentences * 2])
    assert len(long) > 25 * SAMPLE_RATE
    clip = load_reference(long, sr=SAMPLE_RATE)
    _assert_valid(clip)
    assert clip.speech_seconds >= 6.0
    # The window starts and ends in (near) silence, not in the middle of a word.
    edge = int(0.02 * SAMPLE_RATE)
    rms = np.sqrt(np.mean(clip.wav**2))
    assert np.sqrt(np.mean(clip.wav[:edge] ** 2)) < 0.2 * rms
    assert np.sqrt(np.mean(clip.wav[-edge:] ** 2)) < 0.2 * rms


def test_short_input_is_padded_to_three_seconds(speech_16k):
    with pytest.warns(ReferenceAudioWarning, match="speech"):
        clip = load_reference(speech_16k[: int(2.5 * SAMPLE_RATE)], sr=SAMPLE_RATE)
    _assert_valid(clip)
    assert len(clip.wav) == 3 * SAMPLE_RATE
    assert any("speech" in w for w in clip.warnings)


def test_clipping_is_a_warning_not_an_error(speech_16k):
    hot = np.clip(speech_16k * 50, -1, 1)
    with pytest.warns(ReferenceAudioWarning, match="clipped"):
        clip = load_reference(hot, sr=SAMPLE_RATE)
    assert any("clipped" in w for w in clip.warnings)
    _assert_valid(clip)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReferenceAudioWarning)
        assert load_reference(speech_16k, sr=SAMPLE_RATE).warnings == []


def test_existing_clip_is_returned_unchanged(speech_16k):
    clip = load_reference(speech_16k, sr=SAMPLE_RATE)
    assert load_reference(clip) is clip


def test_a_repeated_clip_is_processed_once(speech_16k, monkeypatch):
    """Repeats are served from the memo of processed clips: same result, no second VAD pass,
    the warnings again, and arrays the caller may modify without touching the next result."""
    import tts.speakers.reference as reference

    calls = []
    segments = reference.speech_segments
    monkeypatch.setattr(
        reference, "speech_segments", lambda *a, **k: calls.append(1) or segments(*a, **k)
    )
    hot = np.clip(speech_16k * 50, -1, 1) * 0.99 + 0.0  # a new input, not memoised yet
    hot[:200] = 1.0
    with pytest.warns(ReferenceAudioWarning, match="clipped"):
        first = load_reference(hot, sr=SAMPLE_RATE)
    first.wav[:] = 0.0  # the caller's copy only
    with pytest.warns(ReferenceAudioWarning, match="clipped"):
        again = load_reference(hot.copy(), sr=SAMPLE_RATE)
    assert len(calls) == 1
    assert again.content_hash == first.content_hash and np.abs(again.wav).max() > 0.01
    assert again.warnings == first.warnings and again.warnings
    load_reference(hot[: len(hot) - 1], sr=SAMPLE_RATE)  # different samples: processed anew
    assert len(calls) == 2


def test_loading_a_reference_keeps_torch_threads() -> None:
    """silero_vad's import sets torch to one thread; loading a reference must not (fresh process,
    so the import really happens here)."""
    import subprocess
    import sys

    code = (
        "import numpy as np, torch\n"
        "torch.set_num_threads(2)\n"
        "from tts.speakers.vad import speech_segments\n"
        "speech_segments(np.zeros(16000, dtype=np.float32))\n"
        "print(torch.get_num_threads())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "2"
