"""Deterministic splits, duration filtering and summary statistics."""

from __future__ import annotations

from pathlib import Path

import pytest

from tts.data import ManifestEntry, filter_by_duration, format_summary, split_manifest, summarize
from tts.data.stats import main as stats_main
from tts.data.stats import plot_summary
from tts.errors import ManifestError


def _entries(n_speakers: int = 10, per_speaker: int = 6) -> list[ManifestEntry]:
    return [
        ManifestEntry(Path(f"/c/s{s}/{u}.wav"), f"text {u}", "en" if s % 2 else "ja", f"s{s}",
                      1.0 + u, "happy" if u % 3 == 0 else "neutral")
        for s in range(n_speakers)
        for u in range(per_speaker)
    ]  # fmt: skip


def test_split_by_speaker_keeps_speakers_together_and_holds_out(tmp_path: Path) -> None:
    entries = _entries()
    parts = split_manifest(
        entries, by="speaker", valid=0.2, test=0.2, seed=3, held_out_speakers=["s0"]
    )
    speakers = {name: {e.speaker for e in part} for name, part in parts.items()}
    assert "s0" in speakers["test"]
    assert not (speakers["train"] & speakers["valid"]) and not (
        speakers["train"] & speakers["test"]
    )
    assert not (speakers["valid"] & speakers["test"])
    assert sum(len(p) for p in parts.values()) == len(entries)
    assert all(e.extra["split"] == name for name, part in parts.items() for e in part)
    assert len(speakers["valid"]) == 2 and len(speakers["test"]) == 3  # 2 drawn + held-out s0


def test_split_is_deterministic_and_order_independent() -> None:
    entries = _entries()
    a = split_manifest(entries, by="utterance", valid=0.1, test=0.1, seed=7)
    b = split_manifest(list(reversed(entries)), by="utterance", valid=0.1, test=0.1, seed=7)
    c = split_manifest(entries, by="utterance", valid=0.1, test=0.1, seed=8)
    key = lambda part: sorted(str(e.audio) for e in part)  # noqa: E731
    assert all(key(a[n]) == key(b[n]) for n in a)
    assert key(a["test"]) != key(c["test"])
    assert len(a["valid"]) == 6 and len(a["test"]) == 6 and len(a["train"]) == 48


def test_split_rejects_bad_arguments() -> None:
    with pytest.raises(ManifestError, match="fractions"):
        split_manifest(_entries(), valid=0.6, test=0.5)
    with pytest.raises(ManifestError, match="'speaker' or 'utterance'"):
        split_manifest(_entries(), by="chapter")
    with pytest.raises(ManifestError, match="not in the manifest"):
        split_manifest(_entries(), held_out_speakers=["nobody"])


def test_filter_by_duration() -> None:
    kept = filter_by_duration(_entries(), min_seconds=2.0, max_seconds=4.0)
    assert {e.duration for e in kept} == {2.0, 3.0, 4.0}
    with pytest.raises(ManifestError):
        filter_by_duration(_entries(), 5.0, 1.0)


def test_summary_hours_table_and_plot(tmp_path: Path, capsys) -> None:
    entries = _entries(n_speakers=2, per_speaker=3)  # durations 1, 2, 3 s per speaker
    summary = summarize(entries)
    assert summary["language"]["en"]["hours"] == pytest.approx(6 / 3600)
    assert summary["speaker"]["s0"]["utterances"] == 3
    assert summary["emotion"]["happy"]["utterances"] == 2
    table = format_summary(summary)
    assert "language" in table and "total: 6 utterances" in table and "happy" in table
    assert plot_summary(summary, tmp_path / "s.png").stat().st_size > 1000

    from tts.data import write_manifest

    manifest = write_manifest(tmp_path / "m.jsonl", entries)
    stats_main([str(manifest), "--plot", str(tmp_path / "p.png")])
    out = capsys.readouterr().out
    assert "total: 6 utterances, 0.003 hours" in out and (tmp_path / "p.png").is_file()
