"""LibriTTS-R: the restored (speech-enhanced) LibriTTS, English audiobooks, 24 kHz.

    python recipes/data/libritts_r.py --root /data/LibriTTS_R --out manifests/libritts_r.jsonl \\
        [--subsets train-clean-100,dev-clean]

Layout of the official tarballs (openslr 141):

    LibriTTS_R/<subset>/<speaker>/<chapter>/<speaker>_<chapter>_<seg>_<seg>.wav
    LibriTTS_R/<subset>/<speaker>/<chapter>/<same stem>.normalized.txt   (what is said)
    LibriTTS_R/<subset>/<speaker>/<chapter>/<same stem>.original.txt

`text` is the `.normalized.txt` (numbers and abbreviations expanded). Utterances without it are
skipped. Speaker ids "libritts-<speaker>"; the subset is kept in `extra["subset"]`.

Licence: CC BY 4.0 - verified via the dataset cards of LibriTTS-R copies on the Hugging Face hub
(license: cc-by-4.0); the original is at https://www.openslr.org/141/.
"""

from __future__ import annotations

from pathlib import Path

from tts.data.corpora import preparer_main, subsets_option
from tts.data.importers import make_entry
from tts.data.manifest import ManifestEntry
from tts.errors import ManifestError

SUBSETS = (
    "train-clean-100", "train-clean-360", "train-other-500",
    "dev-clean", "dev-other", "test-clean", "test-other",
)  # fmt: skip


def prepare(root: Path, subsets: tuple[str, ...] = SUBSETS) -> list[ManifestEntry]:
    root = Path(root)
    bases = [root, root / "LibriTTS_R"]
    entries = []
    for subset in subsets:
        if subset not in SUBSETS:
            raise ManifestError(f"unknown LibriTTS-R subset {subset!r}; choose from {SUBSETS}")
        folder = next((b / subset for b in bases if (b / subset).is_dir()), None)
        if folder is None:
            continue
        for wav in sorted(folder.glob("*/*/*.wav")):
            text_file = wav.with_suffix(".normalized.txt")
            if not text_file.is_file():
                continue
            text = text_file.read_text(encoding="utf-8").strip()
            if not text:
                continue
            speaker, chapter = wav.parent.parent.name, wav.parent.name
            entries.append(
                make_entry(wav, text, "en", f"libritts-{speaker}", corpus="libritts_r",
                           subset=subset, chapter=chapter, utterance_id=wav.stem)
            )  # fmt: skip
    return entries


def main(argv: list[str] | None = None) -> list[ManifestEntry]:
    return preparer_main(prepare, __doc__, subsets_option(SUBSETS), argv)


if __name__ == "__main__":
    main()
