"""VIVOS: Vietnamese read speech (AILAB, VNUHCM University of Science), 65 speakers, 16 kHz.

    python recipes/data/vivos.py --root /data/vivos --out manifests/vivos.jsonl

Layout of the official `vivos.tar.gz`:

    vivos/{train,test}/prompts.txt    lines "VIVOSSPK01_R001 KHÁCH SẠN ..." (upper case)
    vivos/{train,test}/genders.txt    lines "VIVOSSPK01 m"
    vivos/{train,test}/waves/VIVOSSPK01/VIVOSSPK01_R001.wav

Prompts are upper case; `text` is lower-cased (Python's Unicode lower() keeps the diacritics).
The corpus's own train/test partition is kept in `extra["corpus_split"]`, gender in
`extra["gender"]`. Speaker ids "vivos-VIVOSSPK01" ...

Licence: sources disagree. A Hugging Face loader script lists CC BY-SA 4.0; the Zenodo record
(doi 10.5281/zenodo.7068130) used by another copy lists CC BY-NC-SA 4.0 and the description says
"should only be used for academic purposes". Treat it as non-commercial (CC BY-NC-SA 4.0).
"""

from __future__ import annotations

from pathlib import Path

from tts.data.corpora import find_root, preparer_main
from tts.data.importers import make_entry
from tts.data.manifest import ManifestEntry


def prepare(root: Path) -> list[ManifestEntry]:
    base = find_root(root, "train")
    entries = []
    for part in ("train", "test"):
        folder = base / part
        if not (folder / "prompts.txt").is_file():
            continue
        genders = {}
        if (folder / "genders.txt").is_file():
            for line in (folder / "genders.txt").read_text(encoding="utf-8").splitlines():
                if line.split():
                    key, *value = line.split()
                    genders[key] = value[0] if value else ""
        for line in (folder / "prompts.txt").read_text(encoding="utf-8-sig").splitlines():
            if not line.strip():
                continue
            utt, _, text = line.strip().partition(" ")
            speaker = utt.split("_")[0]
            wav = folder / "waves" / speaker / f"{utt}.wav"
            if not wav.is_file() or not text.strip():
                continue
            entries.append(
                make_entry(wav, text.strip().lower(), "vi", f"vivos-{speaker}", corpus="vivos",
                           corpus_split=part, gender=genders.get(speaker, ""), utterance_id=utt)
            )  # fmt: skip
    return entries


def main(argv: list[str] | None = None) -> list[ManifestEntry]:
    return preparer_main(prepare, __doc__, None, argv)


if __name__ == "__main__":
    main()
