import logging

import numpy as np
import pytest

from tts.errors import AudioInputError
from tts.watermark import Watermarker, maybe_watermark


@pytest.fixture(scope="module")
def speech():
    import pyopenjtalk

    wav, sr = pyopenjtalk.tts("今日はいい天気ですね。散歩に行きましょう。")
    return (wav / 32768.0).astype(np.float32), int(sr)


@pytest.fixture(scope="module")
def marker():
    return Watermarker()


@pytest.mark.parametrize("sr", [24000, 44100, 16000])
def test_mark_is_detected_and_clean_audio_is_not(speech, marker, sr):
    from tts.audio import resample

    wav = resample(speech[0], speech[1], sr)
    marked = marker.apply(wav, sr)
    assert marked.shape == wav.shape and marked.dtype == np.float32
    assert marker.detect(marked, sr) > 0.9
    assert marker.detect(wav, sr) < 0.1
    # imperceptible-ish: the mark is well below the speech level
    snr = 10 * np.log10(np.sum(wav**2) / np.sum((marked - wav) ** 2))
    assert snr > 10


def test_mark_survives_16bit_file_round_trip(speech, marker, tmp_path):
    from tts.audio import load_audio, save_audio

    marked = marker.apply(speech[0], speech[1])
    save_audio(tmp_path / "m.wav", marked, speech[1])
    back, sr = load_audio(tmp_path / "m.wav")
    assert marker.is_watermarked(back, sr)


def test_opting_out_is_explicit_and_logged(speech, caplog):
    with caplog.at_level(logging.WARNING, logger="tts.watermark"):
        out = maybe_watermark(speech[0], speech[1], enabled=False)
    assert np.array_equal(out, speech[0])
    assert "DISABLED" in caplog.text


def test_bad_input(marker):
    with pytest.raises(AudioInputError, match="too short"):
        marker.detect(np.zeros(100, np.float32), 24000)
    with pytest.raises(AudioInputError, match="NaN"):
        marker.apply(np.array([0.0, np.nan] * 5000, np.float32), 24000)
    with pytest.raises(AudioInputError, match="mono"):
        marker.apply(np.zeros((2, 5000), np.float32), 24000)
    short = marker.apply(np.zeros(50, np.float32), 24000)
    assert short.shape == (50,)


def test_detect_watermark_command(speech, marker, tmp_path, capsys):
    from tts.audio import save_audio
    from tts.cli import main

    save_audio(tmp_path / "marked.wav", marker.apply(*speech), speech[1])
    save_audio(tmp_path / "clean.wav", speech[0], speech[1])
    assert main(["detect-watermark", str(tmp_path / "marked.wav")]) == 0
    assert "marked.wav: watermarked" in capsys.readouterr().out
    assert (
        main(["detect-watermark", str(tmp_path / "marked.wav"), str(tmp_path / "clean.wav")]) == 1
    )
    assert "clean.wav: no watermark" in capsys.readouterr().out
    assert main(["detect-watermark", str(tmp_path / "missing.wav")]) == 1
    assert "not found" in capsys.readouterr().err


def test_audio_that_cannot_hold_the_mark_is_reported(speech, caplog):
    # a steady 3 kHz tone gives Perth nothing to hide its mark in (measured confidence ~0.25)
    t = np.arange(48000) / 24000
    tone = (0.3 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    with caplog.at_level(logging.WARNING, logger="tts.watermark"):
        marked = maybe_watermark(tone, 24000)
    assert Watermarker().detect(marked, 24000) < 0.5
    assert "did not take" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tts.watermark"):
        unchecked = maybe_watermark(tone, 24000, verify=False)
    np.testing.assert_array_equal(unchecked, marked)  # marked all the same, just not checked
    assert "did not take" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="tts.watermark"):
        maybe_watermark(*speech)
    assert "did not take" not in caplog.text
