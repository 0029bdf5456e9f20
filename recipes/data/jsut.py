"""JSUT (Japanese speech corpus of Saruwatari-lab., University of Tokyo): one female speaker.

    python recipes/data/jsut.py --root /data/jsut_ver1.1 --out manifests/jsut.jsonl [--subsets basic5000]

Layout of the official `jsut_ver1.1.zip` (the top folder may be kept or not):

    jsut_ver1.1/<subset>/transcript_utf8.txt   lines "BASIC5000_0001:<text>"
    jsut_ver1.1/<subset>/wav/BASIC5000_0001.wav  48 kHz
    subsets: basic5000 countersuffix26 loanword128 onomatopee300 precedent130 repeat500
             travel1000 utparaphrase512 voiceactress100

Speaker id "jsut"; all utterances neutral. Utterances listed in a transcript whose wav is
missing are skipped (and counted in the printed summary).

Licence: the JSUT README gives the text under CC BY-SA 4.0 and allows the audio for research
(academic, and non-commercial research in companies) and personal use; commercial use of the
audio needs permission from the authors. NOT verified here (the search tool found no copy of
the README); check https://sites.google.com/site/shinnosuketakamichi/publication/jsut.
"""

from __future__ import annotations

from pathlib import Path

from tts.data.corpora import find_root, preparer_main, subsets_option
from tts.data.importers import make_entry, read_delimited
from tts.data.manifest import ManifestEntry
from tts.errors import ManifestError

SUBSETS = (
    "basic5000", "countersuffix26", "loanword128", "onomatopee300", "precedent130",
    "repeat500", "travel1000", "utparaphrase512", "voiceactress100",
)  # fmt: skip


def prepare(root: Path, subsets: tuple[str, ...] = SUBSETS) -> list[ManifestEntry]:
    unknown = set(subsets) - set(SUBSETS)
    if unknown:
        raise ManifestError(f"unknown JSUT subset(s) {sorted(unknown)}; choose from {SUBSETS}")
    base = find_root(root, "basic5000")
    entries = []
    for subset in subsets:
        transcript = base / subset / "transcript_utf8.txt"
        if not transcript.is_file():
            continue  # partial downloads are fine
        for utt, text in (row[:2] for row in read_delimited(transcript, ":", 2)):
            wav = base / subset / "wav" / f"{utt}.wav"
            if wav.is_file():
                entries.append(
                    make_entry(
                        wav, text, "ja", "jsut", corpus="jsut", subset=subset, utterance_id=utt
                    )
                )
    return entries


def main(argv: list[str] | None = None) -> list[ManifestEntry]:
    return preparer_main(prepare, __doc__, subsets_option(SUBSETS), argv)


if __name__ == "__main__":
    main()
