import numpy as np
import pytest
import soundfile as sf

from tts.audio import Audio, encode_audio_bytes, load_audio, resample, save_audio, to_mono
from tts.errors import AudioInputError


def _tone(sr, seconds=0.5, freq=440.0):
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("sr_in", [16000, 22050, 44100, 48000])
def test_resample_keeps_duration_and_pitch(sr_in):
    wav = _tone(sr_in)
    out = resample(wav, sr_in, 24000)
    assert abs(len(out) - 12000) <= 2
    spectrum = np.abs(np.fft.rfft(out))
    peak_hz = np.argmax(spectrum) * 24000 / len(out)
    assert abs(peak_hz - 440) < 5


def test_resample_multichannel_and_bad_rates():
    stereo = np.stack([_tone(48000), _tone(48000, freq=880)])
    out = resample(stereo, 48000, 16000)
    assert out.shape == (2, 8000)
    with pytest.raises(AudioInputError, match="outside the supported range"):
        resample(stereo, 10, 16000)
    with pytest.raises(AudioInputError, match="integer"):
        resample(stereo, 16000.5, 16000)


def test_file_round_trip_and_stereo_mixdown(tmp_path):
    stereo = np.stack([_tone(24000), np.zeros(12000, np.float32)])
    save_audio(tmp_path / "s.flac", stereo, 24000)
    wav, sr = load_audio(tmp_path / "s.flac")
    assert sr == 24000 and wav.ndim == 1
    np.testing.assert_allclose(wav, stereo.mean(0), atol=1e-3)
    both, _ = load_audio(tmp_path / "s.flac", mono=False)
    assert both.shape == (2, 12000)
    data = encode_audio_bytes(_tone(16000), 16000)
    back, sr = load_audio(data)
    assert sr == 16000 and len(back) == 8000


def test_unreadable_and_nan_audio_give_typed_errors(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"RIFF....not audio")
    with pytest.raises(AudioInputError, match="cannot read"):
        load_audio(tmp_path / "x.wav")
    with pytest.raises(AudioInputError, match="not found"):
        load_audio(tmp_path / "missing.wav")
    with pytest.raises(AudioInputError, match="NaN"):
        save_audio(tmp_path / "n.wav", np.array([0.0, np.nan], np.float32), 16000)
    with pytest.raises(AudioInputError, match="shape"):
        to_mono(np.zeros((1, 2, 3)))


def test_audio_dataclass(tmp_path):
    audio = Audio(_tone(24000, 1.0), 24000)
    assert audio.duration == pytest.approx(1.0)
    path = audio.save(tmp_path / "a.wav")
    assert sf.info(str(path)).samplerate == 24000
