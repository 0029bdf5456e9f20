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
    PitchRange,
    SourceFilterDecoder,
    forward_stft,
    harmonic_power,
    harmonic_source,
    init_head_from_istft,
    pitch_losses,
    pitch_targets,
    upsample_frames,
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


def test_upsample_frames_interpolates_linearly_and_the_same_in_every_window():
    torch.manual_seed(0)
    f0 = 100 + 100 * torch.rand(2, 30)
    full = upsample_frames(f0, 240)
    linear = torch.nn.functional.interpolate(f0[:, None], scale_factor=240, mode="linear")[:, 0]
    torch.testing.assert_close(full, linear, rtol=1e-5, atol=0)
    # a window cut on a frame boundary: bit for bit the same samples away from its ends
    window = upsample_frames(f0[:, 7:20], 240)
    assert torch.equal(window[:, 240:-240], full[:, 8 * 240 : 19 * 240])


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


def test_pitch_range_scales_log_f0_about_the_voiced_median():
    log_f0 = torch.log(torch.tensor([100.0, 200.0, 800.0, 50.0]))
    voicing = torch.tensor([1.0, 0.9, 0.8, 0.2])  # the unvoiced frame's F0 does not count
    pitch = PitchRange(0.5)
    assert torch.equal(pitch.apply(log_f0), log_f0)  # nothing observed yet: unchanged
    pitch.observe(log_f0, voicing)
    centre = math.log(200.0)  # the median (the mean would be log 252)
    assert pitch.centre == pytest.approx(centre)
    torch.testing.assert_close(pitch.apply(log_f0), centre + 0.5 * (log_f0 - centre))
    pitch.observe(torch.log(torch.tensor([400.0, 400.0])), torch.ones(2))  # a running centre
    assert pitch.centre == pytest.approx(math.log(400.0))  # median of 100, 200, 400, 400, 800
    flat = PitchRange(0.0)
    torch.testing.assert_close(flat.apply(log_f0), log_f0)  # no frames observed
    flat.observe(log_f0, voicing)
    torch.testing.assert_close(flat.apply(log_f0), torch.full((4,), centre))
    for bad in (True, "2", -0.1, 3.5, float("nan")):
        with pytest.raises(ConfigError, match="pitch range"):
            PitchRange(bad)


def gliding_codec() -> KoeCodec:
    """A random source-filter codec whose head is always voiced, with F0 that moves, and
    (almost) no noise, so a pitch tracker can follow its output."""
    torch.manual_seed(0)
    codec = KoeCodec.from_config(sf_config())
    n = codec.model.decoder.n_bins
    with torch.no_grad():
        codec.model.decoder.head.weight[n : 2 * n] = 0.0
        codec.model.decoder.head.bias[n : 2 * n] = -8.0
        codec.model.decoder.head.bias[-1] = 8.0
        codec.model.decoder.head.weight[-1] *= 0.05
        codec.model.decoder.head.weight[-2] *= 0.3
    return codec


def rendered_log_f0(codec, monkeypatch):
    """Patch the decoder's render to record the F0 (Hz, per STFT frame) it is handed."""
    seen = []
    render = codec.model.decoder.render

    def spy(controls, f0=None, *args, **kwargs):
        seen.append((controls["log_f0"] if f0 is None else f0.log())[0].clone())
        return render(controls, f0, *args, **kwargs)

    monkeypatch.setattr(codec.model.decoder, "render", spy)
    return seen


def test_decode_window_applies_the_pitch_range(monkeypatch):
    codec = gliding_codec()
    codes = torch.randint(0, codec.codebook_size, (1, codec.n_codebooks, 40))
    seen = rendered_log_f0(codec, monkeypatch)
    plain, _ = codec.decode_window(codes, 0, 0, 0.0)
    wide, _ = codec.decode_window(codes, 0, 0, 0.0, pitch=PitchRange(1.8))
    flat, _ = codec.decode_window(codes, 0, 0, 0.0, pitch=PitchRange(0.5))
    base, widened, flattened = seen
    assert base.std() > 0.05  # the contour moves (~1 st or more)
    torch.testing.assert_close(widened.std() / base.std(), torch.tensor(1.8), rtol=1e-3, atol=0)
    torch.testing.assert_close(flattened.std() / base.std(), torch.tensor(0.5), rtol=1e-3, atol=0)
    torch.testing.assert_close(widened.median(), base.median(), atol=0.02, rtol=0)  # level kept
    assert plain.shape == wide.shape == flat.shape
    assert not torch.allclose(plain, wide)

    # The audio itself follows: WORLD's F0 of the output spreads with the factor.
    def spread(wav):
        return np.nanstd(semitones(wav[0].numpy()))

    assert spread(flat) < spread(plain) < spread(wide)
    with pytest.raises(ConfigError, match="observe"):
        codec.decode_window(codes, 0, 0, 0.0, pitch=PitchRange(2.0), observe=(5, 41))
    istft = KoeCodec.from_config(tiny_config())
    with pytest.raises(ConfigError, match="source-filter"):
        istft.decode_window(codes, 0, 0, 0.0, pitch=PitchRange(2.0))
    assert not istft.controls_pitch and codec.controls_pitch


def semitones(wav: np.ndarray) -> np.ndarray:
    """WORLD's F0 of `wav` in semitones (re 1 Hz), NaN where unvoiced."""
    from tts.data.prosody import world_f0

    f0, _ = world_f0(np.asarray(wav, dtype=np.float64), SR)
    return np.where(f0 > 0, 12 * np.log2(np.maximum(f0, 1e-3)), np.nan)


def test_streaming_applies_the_pitch_range_with_a_running_centre():
    codec = gliding_codec()
    codes = torch.randint(0, codec.codebook_size, (codec.n_codebooks, 60))

    def stream(factor):
        decoder = StreamingDecoder(codec, pitch_range=factor)
        parts = [decoder.push(codes[:, i : i + 4]) for i in range(0, 60, 4)]
        return np.concatenate([*parts, decoder.flush()])

    flat, plain, wide = (semitones(stream(r)) for r in (0.5, 1.0, 2.0))
    assert np.nanstd(flat) < np.nanstd(plain) < np.nanstd(wide)
    one_shot, _ = codec.decode_window(codes[None], 0, 0, 0.0, pitch=PitchRange(2.0))
    # The running centre has seen the frames emitted so far; by the second half it is close to
    # the whole sequence's, so the streamed contour follows the one-shot contour.
    half = len(wide) // 2
    gap = np.abs(wide - semitones(one_shot[0].numpy()))[half:]
    assert np.nanmedian(gap) < 0.5
    with pytest.raises(ConfigError, match="source-filter"):
        StreamingDecoder(KoeCodec.from_config(tiny_config()), pitch_range=1.5)
    with pytest.raises(ConfigError, match="pitch range"):
        StreamingDecoder(codec, pitch_range=-1.0)


def test_pitch_shift_moves_the_whole_contour():
    log_f0 = torch.log(torch.tensor([100.0, 200.0, 400.0]))
    up = PitchRange(1.0, 12.0)  # an octave up, no range change: needs no centre
    torch.testing.assert_close(up.apply(log_f0), log_f0 + math.log(2.0))
    both = PitchRange(0.5, -3.0)
    both.observe(log_f0, torch.ones(3))
    centre = math.log(200.0)
    expected = centre + 0.5 * (log_f0 - centre) - 3 * math.log(2.0) / 12
    torch.testing.assert_close(both.apply(log_f0), expected)
    assert PitchRange().is_identity and not up.is_identity
    for bad in (True, "1", 13.0, float("inf")):
        with pytest.raises(ConfigError, match="pitch shift"):
            PitchRange(1.0, bad)


def test_decode_window_shifts_the_pitch(monkeypatch):
    codec = gliding_codec()
    codes = torch.randint(0, codec.codebook_size, (1, codec.n_codebooks, 30))
    seen = rendered_log_f0(codec, monkeypatch)
    plain, _ = codec.decode_window(codes, 0, 0, 0.0)
    higher, _ = codec.decode_window(codes, 0, 0, 0.0, pitch=PitchRange(1.0, 2.0))
    torch.testing.assert_close(seen[1] - seen[0], torch.full_like(seen[0], 2 * math.log(2) / 12))
    gap = np.nanmedian(semitones(higher[0].numpy())) - np.nanmedian(semitones(plain[0].numpy()))
    assert gap == pytest.approx(2.0, abs=0.3)  # WORLD hears it in the audio


def test_moving_f0_keeps_the_loudness():
    """Without `gains_f0` the source's power goes as 1 / F0 (one unit cosine per harmonic); with
    it a pitch shift leaves the loudness where the gains put it."""
    decoder = SourceFilterDecoder(sf_config())
    frames = 40
    controls = {
        "harmonic_gain": torch.zeros(1, decoder.n_bins, frames),
        "noise_gain": torch.full((1, decoder.n_bins, frames), -20.0),
        "log_f0": torch.full((1, frames), math.log(150.0)),
        "voicing_logit": torch.full((1, frames), 20.0),
    }

    def power_db(hz: float, gains_hz: float | None = None) -> float:
        f0 = torch.full((1, frames), hz)
        gains_f0 = None if gains_hz is None else torch.full((1, frames), gains_hz)
        wav, _ = decoder.render(controls, f0=f0, gains_f0=gains_f0)
        return 10 * math.log10(float(wav[0, 2000:-2000].double().square().mean()))

    # flat gains: the power is the number of harmonics below the ceiling, as 1 / F0
    powers = harmonic_power(controls["harmonic_gain"], torch.tensor([[100.0, 150.0, 4000.0]]), SR)
    assert powers.tolist() == [[114.0, 76.0, 2.0]]  # floor(0.95 * 12000 / f0)
    base = power_db(150.0)
    up, down = 150.0 * 2 ** (4 / 12), 150.0 * 2 ** (-4 / 12)
    assert power_db(up) == pytest.approx(base - 10 * math.log10(up / 150.0), abs=0.3)
    assert power_db(up, 150.0) == pytest.approx(base, abs=0.2)
    assert power_db(down, 150.0) == pytest.approx(base, abs=0.2)
    # decode_window hands the predicted F0 over: with flat gains a shifted decode is as loud
    codec = gliding_codec()
    with torch.no_grad():
        codec.model.decoder.head.weight[: codec.model.decoder.n_bins] = 0.0
        codec.model.decoder.head.bias[: codec.model.decoder.n_bins] = 0.0
    codes = torch.randint(0, codec.codebook_size, (1, codec.n_codebooks, 40))

    def rms_db(wav: torch.Tensor) -> float:
        return 10 * math.log10(float(wav[0, 2000:-2000].double().square().mean()))

    plain, _ = codec.decode_window(codes, 0, 0, 0.0)
    for shift in (-4.0, 4.0):
        moved, _ = codec.decode_window(codes, 0, 0, 0.0, pitch=PitchRange(1.0, shift))
        assert rms_db(moved) == pytest.approx(rms_db(plain), abs=0.3)


def test_tempo_lays_the_frames_out_at_another_hop_with_f0_kept():
    codec = gliding_codec()
    decoder = codec.model.decoder
    codes = torch.randint(0, codec.codebook_size, (1, codec.n_codebooks, 40))
    plain, _ = codec.decode_window(codes, 0, 0, 0.0)
    assert decoder.tempo_hop(1.0) == decoder.hop == 240
    assert decoder.tempo_hop(0.8) == 300 and decoder.tempo_hop(1.25) == 192
    for tempo in (0.8, 1.25):
        wav, phases = codec.decode_window(codes, 0, 0, 0.0, tempo=tempo)
        per_frame = codec.samples_per_frame_at(tempo)
        assert per_frame == decoder.tempo_hop(tempo) * codec.samples_per_frame // decoder.hop
        assert wav.shape == (1, 40 * per_frame) and phases.shape == (41,)
        assert wav.shape[1] / plain.shape[1] == pytest.approx(1 / tempo, rel=0.01)
        # The melody and level stay; only the time axis changes.
        f0_plain, f0_now = (np.nanmedian(semitones(w[0].numpy())) for w in (plain, wav))
        assert f0_now == pytest.approx(f0_plain, abs=0.3)
        rms = [float(w.square().mean().sqrt()) for w in (plain, wav)]
        assert rms[1] == pytest.approx(rms[0], rel=0.1)
    # Out of the overlap-add's range, and on a decoder that cannot: typed errors, or None.
    assert decoder.tempo_hop(0.4) is None and codec.samples_per_frame_at(0.4) is None
    assert decoder.tempo_hop(2.5) is None and decoder.tempo_hop(2.0) == 120
    with pytest.raises(ConfigError, match="tempo"):
        codec.decode_window(codes, 0, 0, 0.0, tempo=0.4)
    with pytest.raises(ConfigError, match="tempo"):
        decoder.tempo_hop(-1.0)
    for bad in (241, 0, 482):
        with pytest.raises(ConfigError, match="synthesis hop"):
            decoder.check_hop(bad)
    istft = KoeCodec.from_config(tiny_config())
    assert istft.samples_per_frame_at(1.2) is None
    with pytest.raises(ConfigError, match="tempo"):
        istft.decode_window(codes, 0, 0, 0.0, tempo=1.2)
    with pytest.raises(ConfigError, match="tempo"):
        StreamingDecoder(istft, tempo=1.2)


@pytest.mark.parametrize("tempo", [0.5, 0.85, 1.2, 2.0])
def test_streaming_at_another_tempo_matches_one_shot_decoding(tempo):
    # The codec of the streaming test above (conv-only: windows can match exactly).
    torch.manual_seed(0)
    codec = KoeCodec.from_config(sf_config())
    with torch.no_grad():
        codec.model.decoder.head.bias[-1] = 8.0
        codec.model.decoder.head.weight[-2:] *= 0.05
    codes = torch.randint(0, codec.codebook_size, (codec.n_codebooks, 60))
    full, _ = codec.decode_window(codes[None], 0, 0, 0.0, tempo=tempo)
    decoder = StreamingDecoder(codec, tempo=tempo)
    parts = [decoder.push(codes[:, i : i + 4]) for i in range(0, 60, 4)]
    streamed = np.concatenate([*parts, decoder.flush()])
    assert streamed.shape == (full.shape[1],)
    np.testing.assert_allclose(streamed, full[0].numpy(), atol=1e-4 * float(full.abs().max()))
