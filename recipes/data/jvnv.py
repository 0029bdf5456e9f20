"""JVNV: Japanese emotional speech with verbal content and nonverbal vocalizations.

    python recipes/data/jvnv.py --root /data/jvnv_ver1 --out manifests/jvnv.jsonl

Layout of the official `jvnv_ver1.zip`:

    jvnv_v1/transcription.csv            lines "anger_free_01|<nonverbal phrase>|<full text>"
    jvnv_v1/<speaker>/<emotion>/<style>/<speaker>_<emotion>_<style>_<nn>.wav
    speakers F1 F2 M1 M2; emotions anger disgust fear happy sad surprise; 48 kHz
    jvnv_v1/nv_label/...                 nonverbal-vocalisation timings (not used)

The transcription key is the file name without the speaker prefix. `text` is the full text
(verbal content including the nonverbal phrase); the nonverbal phrase alone is kept in
`extra["nonverbal"]`.

Emotion mapping (ours <- JVNV): angry <- anger, happy <- happy, sad <- sad,
surprised <- surprise. JVNV's disgust and fear have no label of ours and are dropped (the
printed summary shows what was kept). Intensity 1.0 (acted, full-strength emotions).
Speaker ids "jvnv-F1", "jvnv-F2", "jvnv-M1", "jvnv-M2".

Licence: CC BY-SA 4.0 according to the JVNV corpus page. NOT verified here (one third-party
recipe lists the licence as "unknown").
"""

from __future__ import annotations

from pathlib import Path

from tts.data.corpora import find_root, preparer_main
from tts.data.importers import make_entry, read_delimited
from tts.data.manifest import ManifestEntry
from tts.errors import ManifestError

EMOTION_MAP = {"anger": "angry", "happy": "happy", "sad": "sad", "surprise": "surprised"}
DROPPED = ("disgust", "fear")


def prepare(root: Path) -> list[ManifestEntry]:
    base = find_root(root, "transcription.csv")
    texts = {row[0]: (row[1], row[2]) for row in read_delimited(base / "transcription.csv", "|", 3)}
    entries = []
    for wav in sorted(base.rglob("*.wav")):
        parts = wav.stem.split("_")  # F1_anger_free_01
        if len(parts) < 4 or parts[1] not in EMOTION_MAP:
            continue  # disgust / fear (dropped) or not a JVNV utterance file
        speaker, source_emotion = parts[0], parts[1]
        key = "_".join(parts[1:])
        if key not in texts:
            raise ManifestError(f"{wav.name}: no line {key!r} in {base / 'transcription.csv'}")
        nonverbal, text = texts[key]
        entries.append(
            make_entry(
                wav, text, "ja", f"jvnv-{speaker}", EMOTION_MAP[source_emotion], 1.0, corpus="jvnv",
                source_emotion=source_emotion, style=parts[2], nonverbal=nonverbal, utterance_id=wav.stem,
            )
        )  # fmt: skip
    return entries


def main(argv: list[str] | None = None) -> list[ManifestEntry]:
    return preparer_main(prepare, __doc__, None, argv)


if __name__ == "__main__":
    main()
