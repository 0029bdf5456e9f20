"""Turn common corpus layouts into manifest entries.

- Kaldi-style data folders: `wav.scp`, `text`, `utt2spk`, optional `segments`.
- LJSpeech-style folders: `metadata.csv` (`id|text|normalized_text`) with `wavs/<id>.wav`.

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


def read_kaldi_table(path: Path, min_fields: int = 2) -> dict[str, list[str]]:
    """`key value...` lines -> {key: [values]}; ManifestError names file and line if short."""
    table: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) < min_fields:
                raise ManifestError(
                    f"{path}:{number}: expected at least {min_fields} whitespace-separated "
                    f"fields, got {len(fields)}"
                )
            table[fields[0]] = fields[1:]
    return table


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
    entries = []
    if (folder / "segments").is_file():
        segments = read_kaldi_table(folder / "segments", min_fields=4)
        for utt, (recording, start, end) in ((u, v[:3]) for u, v in segments.items()):
            if recording not in paths:
                raise ManifestError(f"segment {utt!r} refers to unknown recording {recording!r}")
            begin, finish = float(start), float(end)
            entries.append(
                _kaldi_entry(
                    utt, paths[recording], finish - begin, texts, speakers, language,
                    speaker_prefix, emotion,
                    {"start": begin, "end": finish, "recording": recording},
                )
            )  # fmt: skip
    else:
        for utt, path in paths.items():
            duration = audio_duration(path)
            entries.append(
                _kaldi_entry(
                    utt, path, duration, texts, speakers, language, speaker_prefix, emotion, {}
                )
            )
    return entries


def _kaldi_entry(
    utt: str,
    path: Path,
    duration: float,
    texts: dict[str, list[str]],
    speakers: dict[str, list[str]],
    language: str,
    speaker_prefix: str,
    emotion: str,
    extra: dict,
) -> ManifestEntry:
    if utt not in texts or not texts[utt]:
        raise ManifestError(f"utterance {utt!r} has no transcript in 'text'")
    if utt not in speakers:
        raise ManifestError(f"utterance {utt!r} has no speaker in 'utt2spk'")
    return ManifestEntry(
        audio=path.resolve(),
        text=" ".join(texts[utt]),
        language=language,
        speaker=speaker_prefix + speakers[utt][0],
        duration=duration,
        emotion=emotion,
        extra={"utterance_id": utt, **extra},
    )


def read_ljspeech_metadata(path: Path) -> list[tuple[str, str, str]]:
    """`metadata.csv` rows as (id, text, normalized_text); normalized falls back to text."""
    rows = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\n\r")
            if not line.strip():
                continue
            fields = line.split("|")
            if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
                raise ManifestError(f"{path}:{number}: expected 'id|text[|normalized_text]'")
            normalized = fields[2] if len(fields) > 2 and fields[2].strip() else fields[1]
            rows.append((fields[0].strip(), fields[1].strip(), normalized.strip()))
    return rows


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
        entries.append(
            ManifestEntry(
                audio=path.resolve(),
                text=normalized,
                language=language,
                speaker=speaker,
                duration=audio_duration(path),
                emotion=emotion,
                extra=extra,
            )
        )
    return entries
