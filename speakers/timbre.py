"""Timbre correction: undo what the codec does to a reference voice's long-term spectrum.

Why: the codec colours voices. On koe-proof-v8's held-out clips the reference scored 0.907
against the clip itself and 0.842 against the clip encoded and decoded by the codec, so the
codec alone cost a voice 0.065 of Resemblyzer similarity before the LM did anything. For each
reference we can see exactly how it colours that voice: encode and decode the reference and
compare the two long-term spectra. The synthesizer then filters its output by the difference.

    correction(f) = smooth(LTAS(reference))(f) - smooth(LTAS(codec(reference)))(f)

LTAS is the mean power spectrum of the active frames (within 40 dB of the loudest), smoothed
over 1/3 octave so that only the colouring is corrected and never what was said; the
correction keeps the overall power of the coloured spectrum and stays within +-6 dB.

It is one fixed minimum-phase FIR filter per reference, applied causally with its state
carried from piece to piece, so streamed pieces concatenate to exactly what one-shot synthesis
gives. Measured on koe-proof-v10 before it shipped, on development voices
(`recipes/dev_similarity.py`: 4 training voices per language made into new ones by +-3
semitones, 3 development sentences each, ja and en): Resemblyzer similarity to another clip
of the same new voice 0.695 -> 0.717 (21 of 24 utterances closer), to the reference 0.713 ->
0.731, Whisper CER 0.191 -> 0.194. On the held-out voices of `tts eval` it did not carry over:
similarity to the reference 0.797 -> 0.794 (ja +0.02, en +0.01, de +0.01, ko -0.02, vi -0.03),
so the shipped model leaves it off (`PipelineConfig.timbre`; `recipes/ship_model.py --timbre`
turns it on in a bundle).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter, stft

from tts.errors import AudioInputError, ConfigError

ACTIVE_DB = 40.0  # frames within this of the loudest frame are speech


@dataclass(frozen=True)
class TimbreConfig:
    n_fft: int = 1024  # analysis frame (43 ms at 24 kHz): 23 Hz bins
    octaves: float = 1 / 3  # smoothing width
    limit_db: float = 6.0  # the most the correction lifts or cuts any band
    taps: int = 512  # FIR length (21 ms at 24 kHz)

    def __post_init__(self) -> None:
        if self.n_fft < 64 or self.n_fft & (self.n_fft - 1):
            raise ConfigError(f"timbre n_fft must be a power of two >= 64, got {self.n_fft}")
        if not (0 < self.octaves <= 2 and math.isfinite(self.octaves)):
            raise ConfigError(f"timbre smoothing must be in (0, 2] octaves, got {self.octaves}")
        if not (0 < self.limit_db <= 24 and math.isfinite(self.limit_db)):
            raise ConfigError(f"timbre limit must be in (0, 24] dB, got {self.limit_db}")
        if not 16 <= self.taps <= self.n_fft:
            raise ConfigError(f"timbre taps must lie in [16, n_fft={self.n_fft}], got {self.taps}")


def long_term_spectrum(wav: np.ndarray, sample_rate: int, n_fft: int) -> np.ndarray:
    """Mean power (dB) per rfft bin [n_fft / 2 + 1] over the active frames of mono `wav`."""
    x = np.asarray(wav, dtype=np.float64)
    if x.ndim != 1 or x.size < n_fft or not np.all(np.isfinite(x)):
        raise AudioInputError(f"need at least {n_fft} finite mono samples, got shape {x.shape}")
    _, _, spec = stft(x, sample_rate, nperseg=n_fft, noverlap=n_fft * 3 // 4)
    power = np.abs(spec) ** 2
    frame_db = 10 * np.log10(power.sum(axis=0) + 1e-20)
    active = frame_db > frame_db.max() - ACTIVE_DB
    return 10 * np.log10(power[:, active].mean(axis=1) + 1e-20)


def smooth_octaves(db: np.ndarray, sample_rate: int, octaves: float) -> np.ndarray:
    """Each bin replaced by the mean over the bins within +-octaves/2 of it (50 Hz floor)."""
    freqs = np.linspace(0.0, sample_rate / 2, db.size)
    centre = np.maximum(freqs, 50.0)
    low = np.searchsorted(freqs, centre * 2 ** (-octaves / 2), side="left")
    high = np.searchsorted(freqs, centre * 2 ** (octaves / 2), side="right")
    cumulative = np.concatenate([[0.0], np.cumsum(db)])
    return (cumulative[high] - cumulative[low]) / np.maximum(high - low, 1)


def correction_db(
    reference: np.ndarray, coloured: np.ndarray, sample_rate: int, config: TimbreConfig
) -> np.ndarray:
    """Gain per rfft bin (dB) that takes `coloured`'s long-term spectrum to `reference`'s
    shape: smoothed, with `coloured`'s total power kept (before the +-limit clip)."""
    want = smooth_octaves(long_term_spectrum(reference, sample_rate, config.n_fft), sample_rate,
                          config.octaves)  # fmt: skip
    have = smooth_octaves(long_term_spectrum(coloured, sample_rate, config.n_fft), sample_rate,
                          config.octaves)  # fmt: skip
    gain = want - have
    weight = 10 ** (have / 10)  # where the power is: the total power stays where it was
    gain = gain - 10 * math.log10(float((weight * 10 ** (gain / 10)).sum() / weight.sum()))
    return np.clip(gain, -config.limit_db, config.limit_db)


def minimum_phase_fir(gain_db: np.ndarray, taps: int) -> np.ndarray:
    """A causal FIR [taps] whose magnitude follows `gain_db` (rfft bins of an n_fft grid), by
    folding the real cepstrum of its log magnitude; tapered to `taps` samples."""
    n_fft = 2 * (gain_db.size - 1)
    log_magnitude = gain_db * (math.log(10) / 20)
    cepstrum = np.fft.irfft(log_magnitude, n_fft)
    folded = np.zeros(n_fft)
    folded[0] = cepstrum[0]
    folded[1 : n_fft // 2] = 2 * cepstrum[1 : n_fft // 2]
    folded[n_fft // 2] = cepstrum[n_fft // 2]
    impulse = np.fft.irfft(np.exp(np.fft.rfft(folded)), n_fft)[:taps]
    taper = np.ones(taps)
    tail = taps // 4  # a half-Hann on the last quarter: no step where the response is cut
    taper[-tail:] = 0.5 * (1 + np.cos(np.linspace(0, math.pi, tail)))
    return impulse * taper


class TimbreFilter:
    """A fixed equaliser for one reference voice (`gain_db` per rfft bin of `config.n_fft`)."""

    def __init__(self, gain_db: np.ndarray, config: TimbreConfig | None = None) -> None:
        self.config = config or TimbreConfig()
        gain_db = np.asarray(gain_db, dtype=np.float64)
        if gain_db.shape != (self.config.n_fft // 2 + 1,) or not np.all(np.isfinite(gain_db)):
            raise ConfigError(
                f"timbre gains must be {self.config.n_fft // 2 + 1} finite values, got "
                f"shape {gain_db.shape}"
            )
        self.gain_db = gain_db
        self.fir = minimum_phase_fir(gain_db, self.config.taps)

    @classmethod
    def from_reference(
        cls,
        reference: np.ndarray,
        sample_rate: int,
        resynthesize: Callable[[np.ndarray], np.ndarray],
        config: TimbreConfig | None = None,
    ) -> TimbreFilter:
        """The filter that undoes `resynthesize` (the codec's encode + decode, same rate) on
        this reference's long-term spectrum."""
        config = config or TimbreConfig()
        coloured = np.asarray(resynthesize(reference), dtype=np.float64)[: len(reference)]
        return cls(correction_db(reference, coloured, sample_rate, config), config)

    def stream(self) -> Callable[[np.ndarray], np.ndarray]:
        """A function that filters successive pieces of one signal, carrying the filter's
        state: the pieces come out exactly as the whole signal filtered at once would."""
        state = np.zeros(self.fir.size - 1)

        def apply(piece: np.ndarray) -> np.ndarray:
            nonlocal state
            if piece.size == 0:
                return piece
            out, state = lfilter(self.fir, [1.0], np.asarray(piece, np.float64), zi=state)
            return out.astype(np.float32)

        return apply

    def apply(self, wav: np.ndarray) -> np.ndarray:
        """Filter a whole signal."""
        return self.stream()(wav)
