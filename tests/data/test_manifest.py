"""Manifest format: round trips, defaults, and typed errors naming file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datakit import write_tone

from tts.data import (
    ManifestEntry,
    default_intensity,
    merge_manifests,
    read_manifest,
    write_manifest,
)
from tts.errors import ManifestError


def _good(audio: str = "wavs/a.wav", **over: object) -> dict:
    row = {"audio": audio, "text": "Hello.", "language": "en", "speaker": "s1", "duration": 1.5}
    row.update(over)
    return row


def _write_lines(path: Path, rows: list) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows)
        + "\n",
        encoding="utf-8",
    )
    return path


def test_round_trip_keeps_fields_and_writes_relative_paths(tmp_path: Path) -> None:
    wav = write_tone(tmp_path / "corpus" / "wavs" / "a.wav")
    outside = write_tone(tmp_path / "elsewhere" / "b.wav")
    entries = [
        ManifestEntry(
            wav, "こんにちは。", "JA-jp", "spk-1", 0.25, "happy", 0.66, {"split": "train"}
        ),
        ManifestEntry(outside, "Hallo.", "de", "spk-2", 0.25),
    ]
    path = write_manifest(tmp_path / "corpus" / "manifest.jsonl", entries)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["audio"] == "wavs/a.wav"  # inside the manifest folder: relative
    assert lines[0]["text"] == "こんにちは。"  # UTF-8, not escaped
    assert Path(lines[1]["audio"]).is_absolute()  # outside: stays absolute
    back = read_manifest(path, check_audio=True)
    assert [e.audio for e in back] == [wav.resolve(), outside.resolve()]
    assert back[0].language == "ja" and back[0].emotion == "happy" and back[0].intensity == 0.66
    assert back[0].extra == {"split": "train"}
    assert back[1].emotion == "neutral" and back[1].intensity == 0.0


def test_default_intensity_depends_on_emotion(tmp_path: Path) -> None:
    path = _write_lines(
        tmp_path / "m.jsonl",
        [_good(), _good(emotion="sad"), "", _good(emotion="calm", intensity=0.3)],
    )
    entries = read_manifest(path)  # the blank line is skipped
    assert [e.intensity for e in entries] == [0.0, 1.0, 0.3]
    assert default_intensity("neutral") == 0.0 and default_intensity("whisper") == 1.0


def test_relative_audio_resolves_against_manifest_folder_not_cwd(
    tmp_path: Path, monkeypatch
) -> None:
    (tmp_path / "sub").mkdir()
    path = _write_lines(tmp_path / "sub" / "m.jsonl", [_good("x/y.wav")])
    monkeypatch.chdir(tmp_path)
    assert read_manifest(path)[0].audio == (tmp_path / "sub" / "x" / "y.wav").resolve()


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ('{"audio": "a.wav", "text": ', None, "invalid JSON"),
        (
            {k: v for k, v in _good().items() if k != "speaker"},
            None,
            "missing required field(s) ['speaker']",
        ),
        (_good(duration="long"), "duration", "number of seconds"),
        (_good(duration=-1.0), "duration", "> 0"),
        (_good(duration=0), "duration", "> 0"),
        (_good(language="fr"), "language", "unknown language 'fr'"),
        (_good(emotion="bored"), "emotion", "unknown emotion 'bored'"),
        (_good(intensity=-0.5), "intensity", ">= 0"),
        (_good(text="  "), "text", "non-empty"),
        (_good(speaker=7), "speaker", "string id"),
        (_good(extra=[1]), "extra", "JSON object"),
        (_good(audio=3), "audio", "path string"),
        ({**_good(), "emotoin": "happy"}, None, "unknown field(s) ['emotoin']"),
        ("[1, 2]", None, "expected a JSON object"),
    ],
)
def test_bad_lines_raise_with_file_line_and_field(tmp_path: Path, row, field, words) -> None:
    path = _write_lines(tmp_path / "bad.jsonl", [_good(), row])
    with pytest.raises(ManifestError) as info:
        read_manifest(path)
    message = str(info.value)
    assert message.startswith(f"{path}:2: ")
    assert words in message
    if field:
        assert f"field {field!r}" in message


def test_missing_audio_only_checked_on_request(tmp_path: Path) -> None:
    path = _write_lines(tmp_path / "m.jsonl", [_good("nowhere.wav")])
    assert len(read_manifest(path)) == 1
    with pytest.raises(ManifestError, match=r"m.jsonl:1: field 'audio': file not found"):
        read_manifest(path, check_audio=True)


def test_missing_manifest_and_bad_entry_in_code(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest not found"):
        read_manifest(tmp_path / "none.jsonl")
    with pytest.raises(ManifestError, match="field 'duration'"):
        ManifestEntry(tmp_path / "a.wav", "hi", "en", "s", -2.0)
    with pytest.raises(ValueError):  # ManifestError is also a ValueError
        ManifestEntry(tmp_path / "a.wav", "hi", "xx", "s", 1.0)


def test_merge_rebases_paths_keeps_splits_and_rejects_duplicates(tmp_path: Path) -> None:
    import subprocess
    import sys

    a_wav = write_tone(tmp_path / "a" / "wavs" / "x.wav")
    b_wav = write_tone(tmp_path / "b" / "wavs" / "x.wav")  # same name, other corpus
    a = write_manifest(tmp_path / "a" / "m.jsonl", [ManifestEntry(a_wav, "Hi.", "en", "s1", 0.25, extra={"split": "test"})])  # fmt: skip
    b = write_manifest(tmp_path / "b" / "m.jsonl", [ManifestEntry(b_wav, "やあ。", "ja", "s2", 0.25)])  # fmt: skip
    out = tmp_path / "all" / "merged.jsonl"
    merged = merge_manifests([a, b], out)
    back = read_manifest(out, check_audio=True)
    assert (
        [e.audio for e in back] == [a_wav.resolve(), b_wav.resolve()] == [e.audio for e in merged]
    )
    assert back[0].extra == {"split": "test"} and back[1].language == "ja"
    with pytest.raises(ManifestError, match="listed in both"):
        merge_manifests([a, b, a], tmp_path / "dup.jsonl")
    with pytest.raises(ManifestError, match="not found"):
        merge_manifests([a, tmp_path / "missing.jsonl"], tmp_path / "x.jsonl")
    root = Path(__file__).resolve().parents[2]
    cli = tmp_path / "cli.jsonl"
    run = subprocess.run(
        [sys.executable, str(root / "recipes/data/merge.py"), str(a), str(b), "--out", str(cli)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "2 entries" in run.stdout and len(read_manifest(cli)) == 2
    assert cli.with_suffix(".png").stat().st_size > 1000
