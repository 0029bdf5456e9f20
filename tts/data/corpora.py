"""Helpers shared by the corpus preparers in `recipes/data/` (one CLI per corpus).

Each preparer defines `prepare(root, **options) -> list[ManifestEntry]` (building entries with
`tts.data.importers.make_entry` and reading transcripts with `read_delimited`) and calls
`preparer_main(prepare, __doc__, add_options)`, which gives it the common command line:

    python recipes/data/<corpus>.py --root /path/to/unpacked --out manifests/<corpus>.jsonl
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from tts.data.manifest import ManifestEntry, write_manifest
from tts.data.stats import format_summary, summarize
from tts.errors import ManifestError, TTSError


def find_root(root: str | Path, marker: str, max_depth: int = 2) -> Path:
    """`root` or the first folder below it (up to `max_depth` levels) that contains `marker`.

    Archives unpack with or without a top folder (`jsut_ver1.1/`, `LibriTTS_R/`, ...); this
    accepts both.
    """
    root = Path(root)
    if not root.is_dir():
        raise ManifestError(f"corpus root {root} is not a folder")
    frontier = [root]
    for _ in range(max_depth + 1):
        for folder in frontier:
            if (folder / marker).exists():
                return folder
        frontier = sorted(p for f in frontier for p in f.iterdir() if p.is_dir())
    raise ManifestError(f"cannot find {marker!r} under {root}; is this the unpacked corpus?")


def subsets_option(subsets: tuple[str, ...]) -> Callable[[argparse.ArgumentParser], None]:
    """An `add_options` for preparers whose corpus comes in subsets: `--subsets a,b,c`."""

    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--subsets",
            type=lambda s: tuple(s.split(",")),
            default=subsets,
            help=f"comma-separated, from {','.join(subsets)} (default: all)",
        )

    return add


def preparer_main(
    prepare: Callable[..., list[ManifestEntry]],
    description: str | None,
    add_options: Callable[[argparse.ArgumentParser], None] | None = None,
    argv: Iterable[str] | None = None,
) -> list[ManifestEntry]:
    """Parse --root/--out (+ corpus options), run `prepare`, write and summarise the manifest."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, required=True, help="the unpacked corpus folder")
    parser.add_argument("--out", type=Path, required=True, help="manifest to write (.jsonl)")
    if add_options is not None:
        add_options(parser)
    args = vars(parser.parse_args(None if argv is None else list(argv)))
    root, out = args.pop("root"), args.pop("out")
    try:
        entries = prepare(root, **args)
        if not entries:
            raise ManifestError(f"no utterances found under {root}")
        write_manifest(out, entries)
    except TTSError as exc:
        sys.exit(f"error: {exc}")
    print(format_summary(summarize(entries)))
    print(f"\nwrote {len(entries)} entries to {out}")
    return entries
