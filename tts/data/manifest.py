"""The one manifest format every training and evaluation recipe reads: JSON Lines.

Each line is one utterance:

    {"audio": "wavs/a.wav", "text": "Hello.", "language": "en", "speaker": "flite-slt",
     "emotion": "happy", "intensity": 0.66, "duration": 1.92, "extra": {"split": "train"}}

- `audio`: a path; a relative path is resolved against the manifest's own folder, so a corpus
  folder with its manifest can be moved or copied as a whole.
- `text`: what is spoken (non-empty).
- `language`: one of `tts.labels.LANGUAGES` (codes like "en-US" are normalised to "en").
- `speaker`: a string id, unique across corpora by convention ("<corpus>-<id>").
- `emotion`: one of `tts.labels.EMOTIONS`; optional, default "neutral".
- `intensity`: float >= 0; optional. The default is 0.0 for "neutral" (no departure from
  neutral) and 1.0 for any other emotion (the labelled, full-strength emotion). Values above 1
  mean exaggerated.
- `duration`: seconds, > 0.
- `extra`: optional dict for anything else (source engine, voice, prosody parameters, split,
  segment start/end, ...). Unknown top-level keys are an error, so typos do not pass silently.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tts.errors import ManifestError, TTSError
from tts.labels import EMOTIONS, LANGUAGES, check_emotion, check_language

REQUIRED_FIELDS = ("audio", "text", "language", "speaker", "duration")
OPTIONAL_FIELDS = ("emotion", "intensity", "extra")


def default_intensity(emotion: str) -> float:
    """0.0 for neutral, 1.0 (full labelled strength) for every other emotion."""
    return 0.0 if emotion == "neutral" else 1.0


@dataclass
class ManifestEntry:
    """One utterance. `audio` is absolute once read from a manifest file."""

    audio: Path
    text: str
    language: str
    speaker: str
    duration: float
    emotion: str = "neutral"
    intensity: float | None = None  # None -> default_intensity(emotion)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem is not None:
            name, message = problem
            raise ManifestError(f"invalid manifest entry: field {name!r}: {message}")
        self.audio = Path(self.audio)
        self.language = check_language(self.language)
        self.emotion = check_emotion(self.emotion)
        if self.intensity is None:
            self.intensity = default_intensity(self.emotion)
        self.intensity = float(self.intensity)
        self.duration = float(self.duration)

    def to_dict(self, base_dir: Path | None = None) -> dict[str, Any]:
        """JSON-ready dict; `audio` relative to `base_dir` when it lies inside it."""
        audio = Path(self.audio)
        if base_dir is not None:
            audio = audio.resolve()  # a relative path in memory is relative to the cwd
            base = Path(base_dir).resolve()
            if audio.is_relative_to(base):  # outside the manifest's folder: keep it absolute
                audio = audio.relative_to(base)
        out: dict[str, Any] = {
            "audio": audio.as_posix(),
            "text": self.text,
            "language": self.language,
            "speaker": self.speaker,
            "emotion": self.emotion,
            "intensity": round(float(self.intensity or 0.0), 6),
            "duration": round(self.duration, 6),
        }
        if self.extra:
            out["extra"] = self.extra
        return out

    def with_extra(self, **values: Any) -> ManifestEntry:
        """A copy with `values` merged into `extra`."""
        return replace(self, extra={**self.extra, **values})


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _problem(entry: ManifestEntry) -> tuple[str, str] | None:
    """(field, message) for the first invalid field, or None when the entry is fine."""
    if not isinstance(entry.audio, (str, os.PathLike)) or not str(entry.audio).strip():
        return "audio", f"must be a non-empty path string, got {entry.audio!r}"
    if not isinstance(entry.text, str) or not entry.text.strip():
        return "text", f"must be a non-empty string, got {entry.text!r}"
    try:
        check_language(entry.language)
    except TTSError:
        return "language", f"unknown language {entry.language!r}; use one of {list(LANGUAGES)}"
    if not isinstance(entry.speaker, str) or not entry.speaker.strip():
        return "speaker", f"must be a non-empty string id, got {entry.speaker!r}"
    try:
        check_emotion(entry.emotion)
    except TTSError:
        return "emotion", f"unknown emotion {entry.emotion!r}; use one of {list(EMOTIONS)}"
    if entry.intensity is not None and (
        not _is_number(entry.intensity) or not math.isfinite(entry.intensity) or entry.intensity < 0
    ):
        return "intensity", f"must be a finite number >= 0, got {entry.intensity!r}"
    if not _is_number(entry.duration) or not math.isfinite(entry.duration):
        return "duration", f"must be a number of seconds, got {entry.duration!r}"
    if entry.duration <= 0:
        return "duration", f"must be > 0 seconds, got {entry.duration!r}"
    if not isinstance(entry.extra, dict):
        return "extra", f"must be a JSON object, got {type(entry.extra).__name__}"
    return None


def entry_from_dict(obj: object, base_dir: Path, check_audio: bool = False) -> ManifestEntry:
    """Build and validate one entry; ManifestError names the bad field (not the line)."""
    if not isinstance(obj, dict):
        raise ManifestError(f"expected a JSON object, got {type(obj).__name__}")
    missing = [name for name in REQUIRED_FIELDS if name not in obj]
    if missing:
        raise ManifestError(f"missing required field(s) {missing}")
    unknown = sorted(set(obj) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise ManifestError(f"unknown field(s) {unknown}; put extra information under 'extra'")
    if not isinstance(obj["audio"], str):
        raise ManifestError(f"field 'audio': must be a path string, got {obj['audio']!r}")
    audio = Path(obj["audio"])
    if not audio.is_absolute():
        audio = (base_dir / audio).resolve()
    entry = ManifestEntry(
        audio=audio,
        text=obj["text"],
        language=obj["language"],
        speaker=obj["speaker"],
        duration=obj["duration"],
        emotion=obj.get("emotion", "neutral"),
        intensity=obj.get("intensity"),
        extra=obj.get("extra", {}),
    )
    if check_audio and not entry.audio.is_file():
        raise ManifestError(f"field 'audio': file not found: {entry.audio}")
    return entry


def read_manifest(path: str | Path, check_audio: bool = False) -> list[ManifestEntry]:
    """Read and validate a JSONL manifest; blank lines are skipped.

    Raises ManifestError("FILE:LINE: ...") for bad JSON, a missing or mistyped field, an unknown
    language or emotion, a non-positive duration, or (with `check_audio`) a missing audio file.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}")
    base_dir = path.resolve().parent
    entries = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ManifestError(f"{path}:{number}: invalid JSON: {exc.msg}") from None
            try:
                entries.append(entry_from_dict(obj, base_dir, check_audio=check_audio))
            except ManifestError as exc:
                message = str(exc).removeprefix("invalid manifest entry: ")
                raise ManifestError(f"{path}:{number}: {message}") from None
    return entries


def write_manifest(path: str | Path, entries: Iterable[ManifestEntry]) -> Path:
    """Write entries as JSONL (UTF-8, one object a line), atomically.

    Audio paths inside the manifest's folder are written relative to it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    base_dir = path.resolve().parent
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for entry in entries:
            if not isinstance(entry, ManifestEntry):
                raise ManifestError(f"expected ManifestEntry, got {type(entry).__name__}")
            f.write(json.dumps(entry.to_dict(base_dir), ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def merge_manifests(paths: Iterable[str | Path], out: str | Path) -> list[ManifestEntry]:
    """Concatenate manifests into one at `out` (audio paths re-based; nothing is copied).

    An audio file listed twice (within or across manifests) is a mistake and raises
    ManifestError naming both sources.
    """
    merged: list[ManifestEntry] = []
    seen: dict[Path, Path] = {}
    for path in paths:
        for entry in read_manifest(path):
            if entry.audio in seen:
                raise ManifestError(
                    f"{entry.audio} is listed in both {seen[entry.audio]} and {path}"
                )
            seen[entry.audio] = Path(path)
            merged.append(entry)
    if not merged:
        raise ManifestError("nothing to merge: the manifests are empty")
    write_manifest(out, merged)
    return merged
