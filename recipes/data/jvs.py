"""JVS (Japanese versatile speech) corpus: 100 speakers, normal, whispered and falsetto speech.

    python recipes/data/jvs.py --root /data/jvs_ver1 --out manifests/jvs.jsonl [--include-falsetto]

Layout of the official `jvs_ver1.zip`:

    jvs_ver1/jvs001/parallel100/transcripts_utf8.txt   lines "VOICEACTRESS100_001:<text>"
    jvs_ver1/jvs001/parallel100/wav24kHz16bit/VOICEACTRESS100_001.wav
    jvs_ver1/jvs001/{nonpara30,whisper10,falset10}/...  same structure

Emotion mapping: parallel100 and nonpara30 -> "neutral"; whisper10 -> "whisper" (intensity 1);
falset10 (falsetto) has no label of ours and is dropped unless `--include-falsetto`, which keeps
it as "neutral" with `extra["style"] = "falsetto"`. Speaker ids "jvs-jvs001" ... "jvs-jvs100".
A few wavs listed in the transcripts are missing from the release (e.g. jvs030
VOICEACTRESS100_045); such lines are skipped.

Licence: the JVS page states the text is CC BY-SA 4.0 and the audio may be used for research
and personal use, with commercial use needing permission (like JSUT). NOT verified here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tts.data.corpora import find_root, preparer_main
from tts.data.importers import make_entry, read_delimited
from tts.data.manifest import ManifestEntry

SUBSET_EMOTION = {"parallel100": "neutral", "nonpara30": "neutral", "whisper10": "whisper"}


def prepare(root: Path, include_falsetto: bool = False) -> list[ManifestEntry]:
    base = find_root(root, "jvs001")
    subsets = dict(SUBSET_EMOTION)
    if include_falsetto:
        subsets["falset10"] = "neutral"
    entries = []
    for speaker_dir in sorted(p for p in base.iterdir() if p.is_dir() and p.name.startswith("jvs")):
        for subset, emotion in subsets.items():
            transcript = speaker_dir / subset / "transcripts_utf8.txt"
            if not transcript.is_file():
                continue
            for utt, text in (row[:2] for row in read_delimited(transcript, ":", 2)):
                wav = speaker_dir / subset / "wav24kHz16bit" / f"{utt}.wav"
                if not wav.is_file():
                    continue
                extra = {"corpus": "jvs", "subset": subset, "utterance_id": utt}
                if subset == "falset10":
                    extra["style"] = "falsetto"
                entries.append(
                    make_entry(wav, text, "ja", f"jvs-{speaker_dir.name}", emotion, **extra)
                )
    return entries


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--include-falsetto", action="store_true")


def main(argv: list[str] | None = None) -> list[ManifestEntry]:
    return preparer_main(prepare, __doc__, _options, argv)


if __name__ == "__main__":
    main()
