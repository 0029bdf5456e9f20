"""Turn common corpus layouts into manifest entries.

- Kaldi-style data folders: `wav.scp`, `text`, `utt2spk`, optional `segments`.
- LJSpeech-style folders: `metadata.csv` (`id|text|normalized_text`) with `wavs/<id>.wav`.

`read_delimited` (transcript lines) and `make_entry` (an entry for an audio file) are also the
building blocks of the corpus preparers in `recipes/data/`.

Durations come from `soundfile.info` (reads the header only, no decoding). Kaldi `segments` are
noted, not cut: each segment becomes one entry whose `audio` is the whole recording, with
`extra = {"start": s, "end": e, "recording": rec_id}` and `duration = e - s`; loaders that see
`start`/`end` read only that span (soundfile can seek, so no copy is needed).
"""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

from tts.data.manifest import ManifestEntry
from tts.errors import ManifestError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


def audio_files(folder: str | Path) -> list[Path]:
    """The audio files (by suffix, see AUDIO_SUFFIXES) anywhere below `folder`, sorted."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)


def audio_duration(path: str | Path) -> float:
    """Seconds of audio in `path` from its header; ManifestError if unreadable or empty."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"audio file not found: {path}")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise ManifestError(f"cannot read audio header of {path}: {exc}") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise ManifestError(f"audio file {path} is empty")
    return info.frames / info.samplerate


def read_delimited(
    path: Path, sep: str | None, min_fields: int, non_empty: int = 0
) -> list[list[str]]:
    """Non-empty lines split on `sep` (None: any whitespace), fields stripped, BOM dropped.

    ManifestError names file:line when a line has fewer than `min_fields` fields or one of its
    first `non_empty` fields is empty.
    """
    what = "whitespace" if sep is None else repr(sep)
    rows = []
    with path.open(encoding="utf-8-sig") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = [x.strip() for x in line.split(sep)]
            if len(fields) < min_fields:
                raise ManifestError(
                    f"{path}:{number}: expected at least {min_fields} {what}-separated fields, "
                    f"got {len(fields)}"
                )
            if not all(fields[:non_empty]):
                raise ManifestError(
                    f"{path}:{number}: the first {non_empty} fields must not be empty"
                )
            rows.append(fields)
    return rows


def read_kaldi_table(path: Path, min_fields: int = 2) -> dict[str, list[str]]:
    """`key value...` lines -> {key: [values]}; ManifestError names file and line if short."""
    return {row[0]: row[1:] for row in read_delimited(path, None, min_fields)}


def make_entry(
    audio: Path,
    text: str,
    language: str,
    speaker: str,
    emotion: str = "neutral",
    intensity: float | None = None,
    duration: float | None = None,
    **extra: object,
) -> ManifestEntry:
    """A validated entry for an audio file; `duration` defaults to the file header's."""
    return ManifestEntry(
        audio=audio.resolve(),
        text=text,
        language=language,
        speaker=speaker,
        duration=audio_duration(audio) if duration is None else duration,
        emotion=emotion,
        intensity=intensity,
        extra=extra,
    )


def import_kaldi_dir(
    folder: str | Path,
    language: str,
    speaker_prefix: str = "",
    emotion: str = "neutral",
) -> list[ManifestEntry]:
    """Entries from a Kaldi data folder. Relative wav paths are resolved against `folder`.

    Only plain file paths in `wav.scp` are supported; piped commands ("sox ... |") raise
    ManifestError, because converting audio is the preparer's job, not the loader's.
    """
    folder = Path(folder)
    for name in ("wav.scp", "text", "utt2spk"):
        if not (folder / name).is_file():
            raise ManifestError(f"Kaldi folder {folder} has no {name}")
    wavs = read_kaldi_table(folder / "wav.scp")
    texts = read_kaldi_table(folder / "text", min_fields=1)
    speakers = read_kaldi_table(folder / "utt2spk")
    for key, value in wavs.items():
        if value[-1] == "|" or len(value) > 1:
            raise ManifestError(
                f"{folder / 'wav.scp'}: recording {key!r} is a piped command; convert it to "
                "a file first (only plain paths are supported)"
            )
    paths = {
        key: (p if p.is_absolute() else folder / p)
        for key, value in wavs.items()
        for p in [Path(value[0])]
    }
    # (utterance, audio file, duration or None = whole file, extra)
    if (folder / "segments").is_file():
        spans = []
        segments = read_kaldi_table(folder / "segments", min_fields=4)
        for utt, (recording, start, end) in ((u, v[:3]) for u, v in segments.items()):
            if recording not in paths:
                raise ManifestError(f"segment {utt!r} refers to unknown recording {recording!r}")
            begin, finish = float(start), float(end)
            extra = {"start": begin, "end": finish, "recording": recording}
            spans.append((utt, paths[recording], finish - begin, extra))
    else:
        spans = [(utt, path, None, {}) for utt, path in paths.items()]
    entries = []
    for utt, path, duration, extra in spans:
        if utt not in texts or not texts[utt]:
            raise ManifestError(f"utterance {utt!r} has no transcript in 'text'")
        if utt not in speakers:
            raise ManifestError(f"utterance {utt!r} has no speaker in 'utt2spk'")
        speaker = speaker_prefix + speakers[utt][0]
        entries.append(
            make_entry(path, " ".join(texts[utt]), language, speaker, emotion,
                       duration=duration, utterance_id=utt, **extra)
        )  # fmt: skip
    return entries


def read_ljspeech_metadata(path: Path) -> list[tuple[str, str, str]]:
    """`metadata.csv` rows as (id, text, normalized_text); normalized falls back to text."""
    return [
        (fields[0], fields[1], fields[2] if len(fields) > 2 and fields[2] else fields[1])
        for fields in read_delimited(path, "|", min_fields=2, non_empty=2)
    ]


def import_ljspeech(
    folder: str | Path,
    language: str,
    speaker: str,
    emotion: str = "neutral",
    metadata: str = "metadata.csv",
    wav_dir: str = "wavs",
    skip_missing: bool = False,
) -> list[ManifestEntry]:
    """Entries from an LJSpeech-style folder.

    `text` is the normalized column (numbers and abbreviations spelled out: what was actually
    said); the raw column is kept as `extra["raw_text"]` when it differs.
    """
    folder = Path(folder)
    if not (folder / metadata).is_file():
        raise ManifestError(f"{folder} has no {metadata}")
    entries = []
    for utt, raw, normalized in read_ljspeech_metadata(folder / metadata):
        path = folder / wav_dir / f"{utt}.wav"
        if skip_missing and not path.is_file():
            continue
        extra = {"utterance_id": utt}
        if raw != normalized:
            extra["raw_text"] = raw
        entries.append(make_entry(path, normalized, language, speaker, emotion, **extra))
    return entries
