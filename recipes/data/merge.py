"""Merge prepared manifests into one training manifest (e.g. JSUT + JVS + a synthetic corpus).

    python recipes/data/merge.py data/synthetic/manifest.jsonl data/kokoro/manifest.jsonl \\
        --out data/all.jsonl

Entries keep their fields (splits included); audio paths are re-based on the output's folder,
no audio is copied. Prints per-language hours and writes a summary plot next to the output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tts.data import format_summary, merge_manifests, plot_summary, summarize


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("manifests", nargs="+", help="JSONL manifests to concatenate")
    p.add_argument("--out", required=True, help="merged manifest to write")
    a = p.parse_args(argv)
    entries = merge_manifests(a.manifests, a.out)
    summary = summarize(entries)
    print(format_summary(summary))
    plot_summary(summary, Path(a.out).with_suffix(".png"))
    print(f"wrote {a.out} ({len(entries)} entries)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
