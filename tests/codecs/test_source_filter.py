"""The source-filter decoder: its DSP parts, pitch targets, and phase-continuous streaming."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from tts.codecs.koe import KoeCodec
from tts.codecs.model import CodecModel, inverse_stft, tiny_config
from tts.codecs.source_filter import (
    SourceFilterDecoder,
    forward_stft,
    harmonic_source,
    init_head_from_istft,
    pitch_losses,
    pitch_targets,
)
from tts.errors import ConfigError
from tts.streaming import StreamingDecoder, decoder_context_frames

SR = 24_000


def sf_config(**changes):
    return dataclasses.replace(tiny_config(), decoder_kind="source_filter", **changes)


def test_forward_stft_is_what_inverse_stft_undoes():
    torch.manual_seed(0)
    window = torch.hann_window(960)
    wav = torch.randn(2, 240 * 30)
    spec = forward_stft(wav, 960, 240, window)
    assert spec.shape == (2, 481, 30)
    torch.testing.assert_close(inverse_stft(spec, 960, 240, window), wav, atol=1e-5, rtol=0)


def test_harmonic_source_equals_the_explicit_sum_of_harmonics_below_the_ceiling():
    f0 = torch.tensor([[97.0, 200.0, 1500.0, 4000.0]]).repeat_interleave(50, dim=1)
    phase = torch.linspace(0, 40 * math.pi, f0.shape[1])[None].double()
    phase[0, 7] = 2 * math.pi * 3  # exactly on a multiple of 2 pi: the limit K, not 0/0
    got = harmonic_source(phase, f0, SR)
    k_max = torch.floor(0.95 * SR / 2 / f0)
    ks = torch.arange(1, 200, dtype=torch.float64)
    terms = torch.cos(ks[:, None] * phase[0][None]) * (ks[:, None] <= k_max[0][None])
    torch.testing.assert_close(got[0], terms.sum(0), atol=1e-6, rtol=1e-6)
    assert got[0, 7] == pytest.approx(float(k_max[0, 7]))


def test_render_is_periodic_at_the_given_f0():
    torch.manual_seed(0)
    decoder = SourceFilterDecoder(sf_config())
    frames = 40
    controls = {
        "harmonic_gain": torch.zeros(1, decoder.n_bins, frames),
        "noise_gain": torch.full((1, decoder.n_bins, frames), -20.0),  # practically no noise
        "log_f0": torch.full((1, frames), math.log(200.0)),
        "voicing_logit": torch.full((1, frames), 20.0),
    }
    wav, phase = decoder.render(controls)
    assert wav.shape == (1, frames * 240) and phase.shape == (1, frames * 240 + 1)
    x = wav[0, 2000:8000].double()
    period = SR // 200  # 120 samples
    assert torch.allclose(x[period:], x[:-period], atol=1e-3 * x.abs().max())
    f0, voiced = pitch_targets(wav[0].numpy(), SR, 240)
    assert voiced[5:-5].all() and np.allclose(f0[5:-5], 200.0, rtol=0.01)
    # unvoiced: the same controls with voicing off leave only the (tiny) noise
    controls["voicing_logit"] = torch.full((1, frames), -20.0)
    assert decoder.render(controls)[0].abs().max() < 1e-3 * x.abs().max()
    with pytest.raises(ConfigError, match="anchor_sample"):
        decoder.render(controls, anchor_sample=frames * 240 + 1)


def test_pitch_targets_of_a_tone_and_of_silence():
    t = np.arange(SR) / SR
    tone = 0.3 * np.sign(np.sin(2 * np.pi * 150 * t)).astype(np.float32)  # rich in harmonics
    f0, voiced = pitch_targets(tone, SR, 240)
    assert f0.shape == voiced.shape == (100,)
    assert voiced[5:-5].all() and np.allclose(f0[5:-5], 150.0, rtol=0.02)
    f0, voiced = pitch_targets(np.zeros(SR, np.float32), SR, 240)
    assert not voiced.any() and not f0.any()


def test_pitch_losses():
    f0 = torch.tensor([[100.0, 200.0, 0.0]])
    voiced = torch.tensor([[1.0, 1.0, 0.0]])
    exact = {
        "log_f0": torch.log(torch.tensor([[100.0, 200.0, 300.0]])),
        "voicing_logit": torch.tensor([[30.0, 30.0, -30.0]]),
    }
    losses = pitch_losses(exact, f0, voiced)
    assert losses["f0"].item() == pytest.approx(0.0, abs=1e-5)  # unvoiced frame not judged
    assert losses["voicing"].item() < 1e-6
    octave_up = dict(exact, log_f0=exact["log_f0"] + math.log(2))
    assert pitch_losses(octave_up, f0, voiced)["f0"].item() == pytest.approx(12.0, rel=1e-4)


def test_istft_head_starts_both_gain_spectra():
    torch.manual_seed(0)
    istft = CodecModel(tiny_config()).decoder
    decoder = SourceFilterDecoder(sf_config())
    init_head_from_istft(decoder, istft.head.state_dict())
    n = decoder.n_bins
    torch.testing.assert_close(decoder.head.weight[:n], istft.head.weight[:n])
    torch.testing.assert_close(decoder.head.weight[n : 2 * n], istft.head.weight[:n])
    assert decoder.head.weight[2 * n :].abs().sum() == 0


@pytest.mark.parametrize("step", [1, 4, 9])
def test_streaming_continues_the_phase_and_matches_one_shot_decoding(step):
    # A conv-only source-filter decoder has a finite reach, so streaming must equal decoding
    # the whole sequence; that holds only because each window continues the emitted phase.
    torch.manual_seed(0)
    codec = KoeCodec.from_config(sf_config())
    with torch.no_grad():  # a voiced, gliding F0 around 200 Hz, whatever the random trunk says
        codec.model.decoder.head.bias[-1] = 8.0
        codec.model.decoder.head.weight[-2:] *= 0.05
    assert codec.continues_phase
    before, after = decoder_context_frames(codec)
    assert before == after > decoder_context_frames(KoeCodec.from_config(tiny_config()))[0]
    codes = torch.randint(0, codec.codebook_size, (codec.n_codebooks, 60))
    full = codec.decode(codes[None])[0].numpy()
    decoder = StreamingDecoder(codec)
    parts = [decoder.push(codes[:, i : i + step]) for i in range(0, 60, step)]
    streamed = np.concatenate([*parts, decoder.flush()])
    assert streamed.shape == full.shape
    np.testing.assert_allclose(streamed, full, atol=1e-4 * np.abs(full).max())
    # Without the phase hand-over the seams would not match.
    unchained = StreamingDecoder(codec)
    unchained.chain_phase = False
    pieces = [unchained.push(codes[:, i : i + step]) for i in range(0, 60, step)]
    broken = np.concatenate([*pieces, unchained.flush()])
    assert np.abs(broken - full).max() > 0.05 * np.abs(full).max()


def test_decode_window_checks_its_input():
    codec = KoeCodec.from_config(sf_config())
    codes = torch.zeros(2, codec.n_codebooks, 5, dtype=torch.long)
    with pytest.raises(ConfigError, match="one sequence"):
        codec.decode_window(codes, 0, 0, 0.0)
    wav, phases = codec.decode_window(codes[:1], 3, 0, 1.0)
    assert wav.shape == (1, 5 * codec.samples_per_frame) and phases.shape == (6,)
    assert phases[0].item() == pytest.approx(1.0)


def test_config_validation():
    with pytest.raises(ConfigError, match="decoder_kind"):
        dataclasses.replace(tiny_config(), decoder_kind="wavenet").validate()
    with pytest.raises(ConfigError, match="f0_min_hz"):
        sf_config(f0_min_hz=900.0).validate()
