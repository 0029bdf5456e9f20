"""Timbre correction (tts.speakers.timbre): the spectra it compares, the filter it builds, and
the synthesizer applying it (tests/synthesis/test_synthesizer.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.signal import lfilter

from tts.errors import AudioInputError, ConfigError
from tts.speakers.timbre import (
    TimbreConfig,
    TimbreFilter,
    correction_db,
    long_term_spectrum,
    minimum_phase_fir,
    smooth_octaves,
)

SR = 24_000


def noise(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(int(SR * seconds)) * 0.1


def darker(x: np.ndarray) -> np.ndarray:
    """A codec that dulls a voice: a one-pole low-pass (-3 dB near 2 kHz)."""
    return lfilter([0.4], [1.0, -0.6], x)


def test_long_term_spectrum_finds_a_tone_and_refuses_bad_audio() -> None:
    t = np.arange(SR * 2) / SR
    tone = np.sin(2 * np.pi * 1000 * t)
    tone[: SR // 2] *= 1e-4  # a near-silent lead-in is not speech: it does not count
    spectrum = long_term_spectrum(tone, SR, 1024)
    assert spectrum.shape == (513,)
    assert abs(int(np.argmax(spectrum)) - round(1000 / (SR / 1024))) <= 1
    for bad in (np.zeros(100), np.full(4096, np.nan), np.zeros((2, 4096))):
        with pytest.raises(AudioInputError):
            long_term_spectrum(bad, SR, 1024)


def test_smoothing_keeps_a_flat_spectrum_and_spreads_a_peak() -> None:
    flat = np.full(513, -20.0)
    np.testing.assert_allclose(smooth_octaves(flat, SR, 1 / 3), flat)
    peak = flat.copy()
    peak[200] = 0.0
    smoothed = smooth_octaves(peak, SR, 1 / 3)
    assert smoothed[200] < 0.0 and smoothed[195] > -20.0 and smoothed[20] == -20.0


def test_the_correction_undoes_a_colouring_and_keeps_the_level() -> None:
    config = TimbreConfig()
    reference = noise()
    coloured = darker(reference)
    gain = correction_db(reference, coloured, SR, config)
    assert gain.shape == (513,) and np.all(np.abs(gain) <= config.limit_db + 1e-9)
    # the low-pass took the highs down: the correction lifts them relative to the lows
    assert gain[400] > gain[20] + 5
    have = smooth_octaves(long_term_spectrum(coloured, SR, 1024), SR, 1 / 3)
    weight = 10 ** (have / 10)

    def power_change_db(g: np.ndarray) -> float:
        return 10 * np.log10(float((weight * 10 ** (g / 10)).sum() / weight.sum()))

    assert power_change_db(gain) == pytest.approx(0.0, abs=0.5)
    # unclipped it keeps the power exactly
    wide = correction_db(reference, coloured, SR, TimbreConfig(limit_db=24.0))
    assert np.abs(wide).max() > config.limit_db  # the low-pass took more than 6 dB somewhere
    assert power_change_db(wide) == pytest.approx(0.0, abs=1e-9)


def test_the_minimum_phase_filter_follows_the_gains_and_acts_early() -> None:
    freqs = np.linspace(0, SR / 2, 513)
    gain = 4.0 * np.tanh((freqs - 3000) / 1500)  # a smooth tilt, -4 .. +4 dB
    fir = minimum_phase_fir(gain, 512)
    response = 20 * np.log10(np.abs(np.fft.rfft(fir, 1024)))
    np.testing.assert_allclose(response[10:-10], gain[10:-10], atol=0.5)
    energy = np.cumsum(fir**2) / np.sum(fir**2)
    assert energy[32] > 0.9  # no bulk delay: most of it in the first 1.3 ms


def test_a_filter_from_a_reference_brings_the_coloured_voice_back() -> None:
    reference = noise(seed=1)
    made = TimbreFilter.from_reference(reference, SR, darker)
    # another utterance of the same voice through the same codec, corrected
    other = darker(noise(seed=2))
    fixed = made.apply(other)

    def gap(x: np.ndarray) -> float:
        a = smooth_octaves(long_term_spectrum(x, SR, 1024), SR, 1 / 3)
        b = smooth_octaves(long_term_spectrum(reference, SR, 1024), SR, 1 / 3)
        d = (a - a.mean()) - (b - b.mean())
        return float(np.abs(d[20:480]).mean())

    assert gap(fixed) < 0.5 * gap(other)
    assert fixed.dtype == np.float32 and fixed.shape == other.shape
    # level kept: within 0.5 dB of the uncorrected power
    assert 10 * np.log10(np.mean(fixed**2) / np.mean(other**2)) == pytest.approx(0, abs=0.5)


def test_streamed_pieces_are_filtered_exactly_as_the_whole() -> None:
    made = TimbreFilter.from_reference(noise(seed=3), SR, darker)
    x = noise(seed=4).astype(np.float32)
    whole = made.apply(x)
    shape = made.stream()
    cuts = [0, 1, 700, 700, 5000, 23_999, x.size]
    pieces = [shape(x[a:b]) for a, b in itertools.pairwise(cuts)]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)


def test_bad_settings_and_gains_are_refused() -> None:
    for bad in (dict(n_fft=1000), dict(octaves=0.0), dict(limit_db=30.0), dict(taps=2048)):
        with pytest.raises(ConfigError):
            TimbreConfig(**bad)
    with pytest.raises(ConfigError, match="513 finite"):
        TimbreFilter(np.zeros(100))
    with pytest.raises(ConfigError, match="513 finite"):
        TimbreFilter(np.full(513, np.nan))
