"""VCTK 0.92 (CSTR VCTK Corpus): 110 English speakers with various accents, 48 kHz FLAC.

    python recipes/data/vctk.py --root /data/VCTK-Corpus-0.92 --out manifests/vctk.jsonl [--mic mic1]

Layout of the official `VCTK-Corpus-0.92.zip`:

    wav48_silence_trimmed/p225/p225_001_mic1.flac   (and _mic2: a second microphone)
    txt/p225/p225_001.txt                           one line of text
    speaker-info.txt

One microphone is used (`--mic`, default mic1) so each sentence appears once per speaker.
Recordings without a text file (p315 has none; a few others miss some) are skipped.
Speaker ids "vctk-p225" ...

Licence: CC BY 4.0 (stated in the corpus README). NOT verified here with the search tool.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tts.data.corpora import find_root, preparer_main
from tts.data.importers import make_entry
from tts.data.manifest import ManifestEntry
from tts.errors import ManifestError


def prepare(root: Path, mic: str = "mic1") -> list[ManifestEntry]:
    if mic not in ("mic1", "mic2"):
        raise ManifestError(f"--mic must be mic1 or mic2, got {mic!r}")
    base = find_root(root, "wav48_silence_trimmed")
    entries = []
    for audio in sorted((base / "wav48_silence_trimmed").glob(f"*/*_{mic}.flac")):
        speaker = audio.parent.name
        utt = audio.stem.removesuffix(f"_{mic}")
        text_file = base / "txt" / speaker / f"{utt}.txt"
        if not text_file.is_file():
            continue
        text = text_file.read_text(encoding="utf-8").strip()
        if text:
            entries.append(
                make_entry(
                    audio, text, "en", f"vctk-{speaker}", corpus="vctk", mic=mic, utterance_id=utt
                )
            )
    return entries


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mic", default="mic1", choices=("mic1", "mic2"))


def main(argv: list[str] | None = None) -> list[ManifestEntry]:
    return preparer_main(prepare, __doc__, _options, argv)


if __name__ == "__main__":
    main()
