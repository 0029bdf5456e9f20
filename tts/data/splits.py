"""Deterministic train/valid/test splits and duration filtering for manifests."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from tts.data.manifest import ManifestEntry
from tts.errors import ManifestError

SPLITS = ("train", "valid", "test")


def _check_fractions(valid: float, test: float) -> None:
    for name, value in (("valid", valid), ("test", test)):
        if not 0.0 <= value < 1.0:
            raise ManifestError(f"{name} fraction must be in [0, 1), got {value}")
    if valid + test >= 1.0:
        raise ManifestError(
            f"valid + test fractions must leave some training data ({valid + test})"
        )


def split_manifest(
    entries: Sequence[ManifestEntry],
    by: str = "utterance",
    valid: float = 0.05,
    test: float = 0.05,
    seed: int = 0,
    held_out_speakers: Iterable[str] = (),
) -> dict[str, list[ManifestEntry]]:
    """Split into {"train", "valid", "test"}; each entry gets `extra["split"]`.

    by="speaker": whole speakers go to one split (unseen-speaker evaluation).
    by="utterance": utterances are shuffled regardless of speaker.
    `held_out_speakers` always go to "test", whatever `by` is. The same entries and seed always
    give the same split (ordering is by sorted ids, not by input order).
    """
    if by not in ("speaker", "utterance"):
        raise ManifestError(f"split 'by' must be 'speaker' or 'utterance', got {by!r}")
    _check_fractions(valid, test)
    held = set(held_out_speakers)
    unknown = held - {e.speaker for e in entries}
    if unknown:
        raise ManifestError(f"held-out speaker(s) {sorted(unknown)} are not in the manifest")
    rng = random.Random(seed)
    assignment: dict[int, str] = {}
    rest = [i for i, e in enumerate(entries) if e.speaker not in held]
    for i, e in enumerate(entries):
        if e.speaker in held:
            assignment[i] = "test"
    if by == "speaker":
        speakers = sorted({entries[i].speaker for i in rest})
        rng.shuffle(speakers)
        n_valid, n_test = _counts(len(speakers), valid, test)
        chosen = {s: "valid" for s in speakers[:n_valid]}
        chosen.update({s: "test" for s in speakers[n_valid : n_valid + n_test]})
        for i in rest:
            assignment[i] = chosen.get(entries[i].speaker, "train")
    else:
        # Sort by a stable key first so the input order does not change the result.
        rest.sort(key=lambda i: (str(entries[i].audio), entries[i].extra.get("start", 0.0)))
        rng.shuffle(rest)
        n_valid, n_test = _counts(len(rest), valid, test)
        for rank, i in enumerate(rest):
            assignment[i] = (
                "valid" if rank < n_valid else "test" if rank < n_valid + n_test else "train"
            )
    out: dict[str, list[ManifestEntry]] = {name: [] for name in SPLITS}
    for i, e in enumerate(entries):
        out[assignment[i]].append(e.with_extra(split=assignment[i]))
    return out


def _counts(n: int, valid: float, test: float) -> tuple[int, int]:
    """Items for valid and test: at least one each when the fraction is > 0 and n allows."""
    n_valid = round(n * valid) if valid > 0 else 0
    n_test = round(n * test) if test > 0 else 0
    if valid > 0 and n_valid == 0 and n >= 3:
        n_valid = 1
    if test > 0 and n_test == 0 and n >= 3:
        n_test = 1
    return n_valid, n_test


def filter_by_duration(
    entries: Iterable[ManifestEntry], min_seconds: float = 0.0, max_seconds: float = float("inf")
) -> list[ManifestEntry]:
    """Entries with min_seconds <= duration <= max_seconds."""
    if min_seconds < 0 or max_seconds <= min_seconds:
        raise ManifestError(
            f"need 0 <= min_seconds < max_seconds, got {min_seconds}, {max_seconds}"
        )
    return [e for e in entries if min_seconds <= e.duration <= max_seconds]
