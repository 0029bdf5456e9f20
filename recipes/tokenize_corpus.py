"""Encode a manifest's audio once into LM training shards (codes, phoneme ids, conditioning).

    python recipes/tokenize_corpus.py --manifest data/synthetic/manifest.jsonl \\
        --codec runs/codec --out data/synthetic_tokens
    python recipes/tokenize_corpus.py --manifest train.jsonl --codec encodec-24k@6 \\
        --style-encoder runs/style --out tokens/ --shard-size 512 --device cuda

--codec is a codec checkpoint folder (ours, recipes/train_codec.py) or a registry name
("encodec-24k@6", "dac-24k"); the bundle exported after training references it the same way.
Rerunning the same command resumes: finished shards are skipped. See tts/data/shards.py for
the format. (Named tokenize_corpus.py, not tokenize.py: a recipes/tokenize.py would shadow the
standard library's `tokenize` module for every script run from this folder.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tts.codecs import load_codec
from tts.data.shards import tokenize_manifest
from tts.speakers import StyleEncoder, load_speaker_encoder
from tts.text import SymbolInventory


def codec_source(name_or_path: str) -> str:
    """An existing folder is referenced by its absolute path, anything else by name."""
    path = Path(name_or_path).expanduser()
    return str(path.resolve()) if path.exists() else name_or_path


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--manifest", required=True, help="JSONL manifest (tts.data.manifest format)")
    p.add_argument("--out", required=True, help="shard folder")
    p.add_argument("--codec", required=True, help="codec checkpoint folder or registry name")
    p.add_argument("--speaker-encoder", default="resemblyzer", help="resemblyzer or ECAPA dir")
    p.add_argument("--style-encoder", default=None, help="style encoder checkpoint folder")
    p.add_argument("--inventory", default=None, help="inventory.json (default: the front end's)")
    p.add_argument("--shard-size", type=int, default=256, help="utterances per shard")
    p.add_argument("--max-symbols", type=int, default=400, help="skip longer utterances")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)

    source = codec_source(a.codec)
    codec = load_codec(source, device=a.device)
    speaker_source = codec_source(a.speaker_encoder)
    speaker_encoder = load_speaker_encoder(speaker_source, device=a.device)
    style_encoder = style_source = None
    if a.style_encoder:
        style_source = str(Path(a.style_encoder).resolve())
        style_encoder = StyleEncoder.load(style_source, device=a.device)
    inventory = SymbolInventory.load(a.inventory) if a.inventory else None
    index = tokenize_manifest(
        a.manifest,
        a.out,
        codec,
        source,
        speaker_encoder,
        speaker_source,
        style_encoder,
        style_source,
        inventory=inventory,
        shard_size=a.shard_size,
        max_symbols=a.max_symbols,
        progress=not a.no_progress,
    )
    summary = {k: index[k] for k in ("count", "frames", "hours", "skipped", "splits")}
    summary["shards"] = len(index["shards"])
    summary["speakers"] = len(index["speakers"])
    print(json.dumps(summary, ensure_ascii=False))
    return index


if __name__ == "__main__":
    main(sys.argv[1:])
