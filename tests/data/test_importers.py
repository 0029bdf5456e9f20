"""Kaldi and LJSpeech importers read transcripts, speakers and header durations."""

from __future__ import annotations

from pathlib import Path

import pytest
from datakit import write_tone

from tts.data import audio_duration, import_kaldi_dir, import_ljspeech
from tts.errors import ManifestError


def _kaldi(folder: Path, with_segments: bool = False) -> Path:
    write_tone(folder / "audio" / "r1.wav", 0.5)
    write_tone(folder / "audio" / "r2.flac", 0.75, freq=330)
    (folder / "wav.scp").write_text("r1 audio/r1.wav\nr2 audio/r2.flac\n")
    if with_segments:
        (folder / "segments").write_text("u1 r1 0.00 0.20\nu2 r1 0.20 0.45\nu3 r2 0.1 0.7\n")
        (folder / "text").write_text("u1 hello there\nu2 good night\nu3 see you\n")
        (folder / "utt2spk").write_text("u1 alice\nu2 alice\nu3 bob\n")
    else:
        (folder / "text").write_text("r1 hello there\nr2 good night\n")
        (folder / "utt2spk").write_text("r1 alice\nr2 bob\n")
    return folder


def test_kaldi_dir_without_segments(tmp_path: Path) -> None:
    entries = import_kaldi_dir(_kaldi(tmp_path / "k"), "en", speaker_prefix="corp-")
    assert [e.text for e in entries] == ["hello there", "good night"]
    assert [e.speaker for e in entries] == ["corp-alice", "corp-bob"]
    assert [round(e.duration, 3) for e in entries] == [0.5, 0.75]
    assert all(e.audio.is_absolute() and e.audio.is_file() for e in entries)


def test_kaldi_segments_are_noted_not_cut(tmp_path: Path) -> None:
    entries = import_kaldi_dir(_kaldi(tmp_path / "k", with_segments=True), "en")
    by_id = {e.extra["utterance_id"]: e for e in entries}
    assert by_id["u2"].extra["start"] == 0.2 and by_id["u2"].extra["end"] == 0.45
    assert by_id["u2"].duration == pytest.approx(0.25)
    assert by_id["u2"].extra["recording"] == "r1" and by_id["u2"].audio.name == "r1.wav"
    assert by_id["u3"].speaker == "bob"


def test_kaldi_errors_are_typed(tmp_path: Path) -> None:
    folder = _kaldi(tmp_path / "k")
    (folder / "wav.scp").write_text("r1 sox audio/r1.wav -t wav - |\nr2 audio/r2.flac\n")
    with pytest.raises(ManifestError, match="piped command"):
        import_kaldi_dir(folder, "en")
    folder = _kaldi(tmp_path / "k2")
    (folder / "text").write_text("r1 hello there\n")
    with pytest.raises(ManifestError, match="'r2' has no transcript"):
        import_kaldi_dir(folder, "en")
    (folder / "utt2spk").unlink()
    with pytest.raises(ManifestError, match="no utt2spk"):
        import_kaldi_dir(folder, "en")
    with pytest.raises(ManifestError, match="unsupported|unknown language"):
        import_kaldi_dir(_kaldi(tmp_path / "k3"), "xx")


def test_ljspeech_uses_normalized_text(tmp_path: Path) -> None:
    write_tone(tmp_path / "wavs" / "LJ001.wav", 0.3)
    write_tone(tmp_path / "wavs" / "LJ002.wav", 0.4)
    (tmp_path / "metadata.csv").write_text(
        "LJ001|It cost $5.|It cost five dollars.\nLJ002|Plain text.\n", encoding="utf-8"
    )
    entries = import_ljspeech(tmp_path, "en", "lj")
    assert [e.text for e in entries] == ["It cost five dollars.", "Plain text."]
    assert entries[0].extra["raw_text"] == "It cost $5." and "raw_text" not in entries[1].extra
    assert [round(e.duration, 2) for e in entries] == [0.3, 0.4]
    (tmp_path / "metadata.csv").write_text("LJ001\n")
    with pytest.raises(ManifestError, match=r"metadata.csv:1"):
        import_ljspeech(tmp_path, "en", "lj")


def test_audio_duration_errors(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not found"):
        audio_duration(tmp_path / "none.wav")
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    with pytest.raises(ManifestError, match="cannot read"):
        audio_duration(tmp_path / "junk.wav")
