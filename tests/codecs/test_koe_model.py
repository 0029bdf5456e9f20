"""Our 25 Hz codec: FSQ, inverse STFT, model shapes, configs, checkpoint round trip."""

from __future__ import annotations

import itertools

import pytest
import torch

from tts.codecs import CodecConfig, CodecModel, KoeCodec, load_codec, preset_config
from tts.codecs.fsq import FSQ
from tts.codecs.model import PRESETS, inverse_stft
from tts.config import config_to_dict
from tts.errors import CheckpointError, ConfigError


def test_fsq_codes_cover_the_codebook_and_decode_exactly() -> None:
    fsq = FSQ((8, 5, 3), n_codebooks=2)
    assert fsq.codebook_size == 120 and fsq.dim == 6
    # Drive every channel through its whole range: every code of each codebook must appear.
    grid = torch.tensor(list(itertools.product(torch.linspace(-4, 4, 40).tolist(), repeat=3)))
    z = grid.T.repeat(2, 1)[None]  # [1, 6, 64000], both codebooks see the same grid
    quantised, codes = fsq(z)
    assert codes.shape == (1, 2, grid.shape[0])
    assert set(codes[0, 0].tolist()) == set(range(120))
    assert torch.equal(fsq.decode(codes), quantised)
    assert quantised.abs().max() <= 1.0


def test_fsq_passes_gradients_straight_through() -> None:
    fsq = FSQ((5, 5), n_codebooks=1)
    z = torch.randn(2, 2, 7, requires_grad=True)
    quantised, _ = fsq(z)
    quantised.sum().backward()
    assert z.grad is not None and (z.grad > 0).all()  # d tanh > 0 everywhere


def test_inverse_stft_inverts_a_matching_stft() -> None:
    n_fft, hop, frames = 960, 240, 20
    window = torch.hann_window(n_fft)
    x = torch.randn(2, frames * hop)
    pad = (n_fft - hop) // 2
    chunks = torch.nn.functional.pad(x, (pad, pad)).unfold(-1, n_fft, hop)  # [2, frames, n_fft]
    spec = torch.fft.rfft(chunks * window, dim=-1).transpose(1, 2)
    y = inverse_stft(spec, n_fft, hop, window)
    assert y.shape == x.shape
    torch.testing.assert_close(y, x, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets(preset: str) -> None:
    cfg = preset_config(preset)
    assert cfg.hop == 960 and cfg.frame_rate == 25.0
    if preset != "base":  # the base preset is large; its config is enough here
        model = CodecModel(cfg)
        params = sum(p.numel() for p in model.parameters())
        assert params < {"tiny": 1e6, "small": 8e6}[preset]
        recon, codes, _ = model(torch.randn(1, 1, 3 * 960) * 0.1)
        assert recon.shape == (1, 3 * 960) and codes.shape == (1, cfg.n_codebooks, 3)


def test_invalid_configs() -> None:
    with pytest.raises(ConfigError, match="unknown codec preset"):
        preset_config("huge")
    with pytest.raises(ConfigError, match="divisible"):
        CodecConfig(decoder_upsample=18).validate()
    with pytest.raises(ConfigError, match="1 or even"):
        CodecConfig(decoder_upsample=3).validate()


def test_save_and_load_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    codec = load_codec("koe-tiny", pretrained=False)
    wav = torch.randn(2, 24_000) * 0.1
    codes = codec.encode(wav, 24_000)
    audio = codec.decode(codes)
    codec.save(tmp_path / "ckpt")
    assert {p.name for p in (tmp_path / "ckpt").iterdir()} == {"model.safetensors", "config.json"}
    loaded = load_codec(tmp_path / "ckpt")
    assert isinstance(loaded, KoeCodec) and loaded.pretrained
    assert config_to_dict(loaded.config) == config_to_dict(codec.config)
    assert torch.equal(loaded.encode(wav, 24_000), codes)
    torch.testing.assert_close(loaded.decode(codes), audio, rtol=0, atol=0)
    assert loaded.frame_rate == 25.0 and loaded.tokens_per_second == 50.0


def test_broken_checkpoints(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        KoeCodec.load(tmp_path / "missing")
    codec = load_codec("koe-tiny", pretrained=False)
    codec.save(tmp_path / "a")
    (tmp_path / "a" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_codec(tmp_path / "a")
    other = KoeCodec.from_config(CodecConfig(**{**config_to_dict(codec.config), "n_codebooks": 3}))
    other.save(tmp_path / "b")
    state_b = (tmp_path / "b" / "model.safetensors").read_bytes()
    codec.save(tmp_path / "c")
    (tmp_path / "c" / "model.safetensors").write_bytes(state_b)  # weights of another shape
    with pytest.raises(CheckpointError, match="does not match|size mismatch"):
        load_codec(tmp_path / "c")


@pytest.mark.parametrize("preset", ["tiny", "small", "base"])
def test_fresh_codec_gives_speech_many_codes(preset, speech_clips):
    # Guards the init: with a vanishing encoder signal every frame got the same code, and the
    # codes never started to carry information.
    torch.manual_seed(0)
    codec = load_codec(f"koe-{preset}", pretrained=False)
    clip = speech_clips[0]
    codes = codec.encode(torch.from_numpy(clip.wav)[None], clip.sr)[0]
    frames = codes.shape[1]
    for k in range(codes.shape[0]):
        assert len(torch.unique(codes[k])) >= frames // 8, (preset, k, codes[k])


def test_the_mel_filterbank_is_librosas_without_librosa() -> None:
    """codecs/losses.py builds Slaney's filterbank itself (a lent GPU has no librosa): it must
    be the one the codec was trained with, librosa's, for every resolution the loss uses."""
    import librosa
    import numpy as np

    from tts.codecs.losses import DEFAULT_RESOLUTIONS, mel_filterbank

    cases = [(24_000, n, m, 0.0, None) for n, _, m in DEFAULT_RESOLUTIONS]
    cases += [(16_000, 400, 80, 0.0, 8_000.0), (22_050, 1024, 80, 50.0, 7_600.0)]
    for sr, n_fft, n_mels, f_min, f_max in cases:
        ours = mel_filterbank(sr, n_fft, n_mels, f_min, f_max)
        theirs = librosa.filters.mel(
            sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max or sr / 2
        )
        assert ours.shape == theirs.shape == (n_mels, n_fft // 2 + 1) and ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-7)
        assert (ours.sum(axis=1) > 0).all()  # no empty filter
