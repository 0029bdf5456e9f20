"""Summary statistics of a manifest: hours per language, speaker and emotion.

python -m tts.data.stats manifests/jsut.jsonl [more.jsonl ...] [--plot summary.png]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from tts.data.manifest import ManifestEntry, read_manifest

GROUPS = ("language", "speaker", "emotion")


def summarize(entries: Iterable[ManifestEntry]) -> dict[str, dict[str, dict[str, float]]]:
    """{group: {value: {"utterances": n, "hours": h}}} for language, speaker and emotion."""
    out: dict[str, dict[str, dict[str, float]]] = {g: defaultdict(lambda: {"utterances": 0, "hours": 0.0}) for g in GROUPS}  # fmt: skip
    for e in entries:
        for group in GROUPS:
            row = out[group][getattr(e, group)]
            row["utterances"] += 1
            row["hours"] += e.duration / 3600.0
    return {g: dict(sorted(rows.items())) for g, rows in out.items()}


def format_summary(summary: dict[str, dict[str, dict[str, float]]], max_rows: int = 30) -> str:
    """A plain-text table per group (the largest `max_rows` rows each) plus the total."""
    lines = []
    for group in GROUPS:
        rows = sorted(summary[group].items(), key=lambda kv: -kv[1]["hours"])
        width = max([len(group), *(len(k) for k, _ in rows[:max_rows])])
        lines.append(f"{group:<{width}}  {'utts':>8}  {'hours':>9}")
        lines.append("-" * (width + 21))
        for key, row in rows[:max_rows]:
            lines.append(f"{key:<{width}}  {int(row['utterances']):>8}  {row['hours']:>9.3f}")
        if len(rows) > max_rows:
            lines.append(f"... and {len(rows) - max_rows} more")
        lines.append("")
    total_u = sum(r["utterances"] for r in summary["language"].values())
    total_h = sum(r["hours"] for r in summary["language"].values())
    lines.append(f"total: {int(total_u)} utterances, {total_h:.3f} hours")
    return "\n".join(lines)


def plot_summary(summary: dict[str, dict[str, dict[str, float]]], path: str | Path) -> Path:
    """Bar charts of hours per language and per emotion (speakers are usually too many)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, group in zip(axes, ("language", "emotion"), strict=True):
        keys = list(summary[group])
        ax.bar(keys, [summary[group][k]["hours"] for k in keys], color="tab:blue")
        ax.set_title(f"hours per {group}")
        ax.set_ylabel("hours")
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("manifests", nargs="+", type=Path)
    parser.add_argument("--plot", type=Path, help="also save a bar chart PNG here")
    args = parser.parse_args(argv)
    entries = [e for m in args.manifests for e in read_manifest(m)]
    summary = summarize(entries)
    print(format_summary(summary))
    if args.plot:
        print(f"plot: {plot_summary(summary, args.plot)}")


if __name__ == "__main__":
    main()
