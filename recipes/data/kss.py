"""KSS (Korean Single Speaker speech dataset): one female voice actress, 44.1 kHz.

    python recipes/data/kss.py --root /data/kss --out manifests/kss.jsonl

Layout (Kaggle / official release):

    transcript.v.1.4.txt    lines "1/1_0000.wav|<original>|<expanded>|<decomposed>|<seconds>|<English>"
    kss/1/1_0000.wav ... kss/4/4_xxxx.wav   (the wav folders 1-4 may also sit directly in root)

Older transcripts (v1.0-1.2) have four columns "path|original|decomposed|seconds". `text` is the
expanded script (numbers and symbols written out) when the file has it (6 columns), otherwise
the original script; the jamo-decomposed column is never used. Speaker id "kss".

Licence: CC BY-NC-SA 4.0, non-commercial - verified against a copy of the KSS README ("NC-SA
4.0. You CANNOT use this dataset for ANY COMMERCIAL purpose").
"""

from __future__ import annotations

from pathlib import Path

from tts.data.corpora import preparer_main
from tts.data.importers import make_entry, read_delimited
from tts.data.manifest import ManifestEntry
from tts.errors import ManifestError


def _version(path: Path) -> tuple[int, ...]:
    digits = path.name.removeprefix("transcript.v.").removesuffix(".txt").split(".")
    return tuple(int(d) for d in digits if d.isdigit())


def prepare(root: Path) -> list[ManifestEntry]:
    root = Path(root)
    transcripts = sorted(root.glob("transcript.v.*.txt"), key=_version)
    if not transcripts:
        raise ManifestError(f"no transcript.v.*.txt in {root}")
    transcript = transcripts[-1]
    entries = []
    for row in read_delimited(transcript, "|", 3):
        rel = row[0]
        text = row[2] if len(row) >= 6 and row[2] else row[1]
        audio = next((b / rel for b in (root / "kss", root) if (b / rel).is_file()), None)
        if audio is None:
            continue
        entries.append(make_entry(audio, text, "ko", "kss", corpus="kss", utterance_id=Path(rel).stem, transcript=transcript.name))  # fmt: skip
    return entries


def main(argv: list[str] | None = None) -> list[ManifestEntry]:
    return preparer_main(prepare, __doc__, None, argv)


if __name__ == "__main__":
    main()
