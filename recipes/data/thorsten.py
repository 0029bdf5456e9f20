"""Thorsten-Voice: German single male speaker, neutral (LJSpeech-style) and emotional datasets.

    python recipes/data/thorsten.py --root /data/thorsten --out manifests/thorsten.jsonl

Looks for either or both layouts under `--root` (up to two folder levels down):

- Neutral dataset (e.g. thorsten-de / ThorstenVoice-Dataset_2022.10), LJSpeech-style:
  `metadata.csv` ("id|text" or "id|text|normalized") with `wavs/<id>.wav`.
- Emotional dataset (`thorsten-emotional_v02`): `thorsten-emotional-metadata.csv`
  ("<md5 hash>|text") with one folder per style holding `<hash>.wav`: amused angry disgusted
  drunk neutral sleepy surprised whisper.

Emotion mapping (ours <- Thorsten): happy <- amused, angry <- angry, surprised <- surprised,
whisper <- whisper, neutral <- neutral, calm <- sleepy (an approximation: low arousal, slow and
soft; disable with --no-sleepy). Dropped: disgusted and drunk (no label of ours). The original
style is kept in `extra["source_emotion"]`. Speaker id "thorsten" for both datasets (same man).

Licence: CC0 1.0 (public domain dedication) per the Thorsten-Voice project; partly verified
(third-party preparers in the search index annotate the emotional dataset as CC0).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tts.data.corpora import find_root, preparer_main
from tts.data.importers import import_ljspeech, make_entry, read_delimited
from tts.data.manifest import ManifestEntry
from tts.errors import ManifestError

EMOTION_MAP = {
    "amused": "happy",
    "angry": "angry",
    "surprised": "surprised",
    "whisper": "whisper",
    "neutral": "neutral",
    "sleepy": "calm",
}
DROPPED = ("disgusted", "drunk")
EMOTIONAL_METADATA = "thorsten-emotional-metadata.csv"


def prepare(root: Path, no_sleepy: bool = False) -> list[ManifestEntry]:
    entries: list[ManifestEntry] = []
    try:
        neutral = find_root(root, "metadata.csv")
        for e in import_ljspeech(neutral, "de", "thorsten", skip_missing=True):
            entries.append(e.with_extra(corpus="thorsten", dataset="neutral"))
    except ManifestError:
        neutral = None
    try:
        emotional = find_root(root, EMOTIONAL_METADATA)
    except ManifestError:
        emotional = None
    if neutral is None and emotional is None:
        raise ManifestError(f"neither metadata.csv nor {EMOTIONAL_METADATA} found under {root}")
    if emotional is not None:
        texts = {row[0]: row[1] for row in read_delimited(emotional / EMOTIONAL_METADATA, "|", 2)}
        mapping = {k: v for k, v in EMOTION_MAP.items() if not (no_sleepy and k == "sleepy")}
        for style, emotion in mapping.items():
            for wav in sorted((emotional / style).glob("*.wav")):
                if wav.stem not in texts:
                    continue
                entries.append(
                    make_entry(wav, texts[wav.stem], "de", "thorsten", emotion, corpus="thorsten",
                               dataset="emotional", source_emotion=style, utterance_id=wav.stem)
                )  # fmt: skip
    return entries


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-sleepy", action="store_true", help="drop 'sleepy' instead of -> calm")


def main(argv: list[str] | None = None) -> list[ManifestEntry]:
    return preparer_main(prepare, __doc__, _options, argv)


if __name__ == "__main__":
    main()
