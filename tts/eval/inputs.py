"""What an evaluation runs on: a manifest's held-out utterances (neutral, taken from each
language's held-out voices in turn), the reference clip the model gets for each (another clip
of the same voice, never the one it is scored against), a fingerprint of that set and of the
machine, so that two runs are known to be comparable, and sentences for a language the
manifest lacks.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tts.audio import load_audio
from tts.data.manifest import ManifestEntry
from tts.errors import ConfigError, ManifestError
from tts.labels import LANGUAGES, check_language

HELD_OUT_SPLITS = ("test", "valid")

# Sentences used when the manifest has none in a language (written for this harness).
SENTENCES = {
    "ja": [
        "駅の近くに新しいパン屋さんが開店しました。",
        "明日の朝は早く起きて、川沿いを走るつもりです。",
        "この本は祖父が若いころに読んでいたものです。",
        "窓を開けると、涼しい風が部屋に入ってきました。",
    ],
    "en": ["The library opens at nine on weekdays.", "Please leave the keys on the table."],
    "ko": ["오늘 저녁에는 친구와 영화를 볼 거예요.", "이 길을 따라가면 역이 나옵니다."],
    "vi": ["Hôm nay trời rất đẹp và có nắng.", "Tôi muốn đặt một bàn cho hai người."],
    "de": ["Der Zug fährt um acht Uhr ab.", "Wir treffen uns morgen im Park."],
}


def held_out_entries(
    entries: Sequence[ManifestEntry],
    splits: Sequence[str] = HELD_OUT_SPLITS,
    languages: Sequence[str] | None = None,
    max_per_language: int | None = None,
) -> list[ManifestEntry]:
    """Neutral utterances of the given splits (`extra["split"]`), at most N per language,
    taken from the language's speakers in turn (manifest order within each), so that every
    held-out voice is heard rather than the first one N times."""
    wanted = {check_language(lang) for lang in (languages or LANGUAGES)}
    by_speaker: dict[str, dict[str, list[ManifestEntry]]] = defaultdict(dict)
    for entry in entries:
        split = entry.extra.get("split")
        if split not in splits or entry.language not in wanted or entry.emotion != "neutral":
            continue
        by_speaker[entry.language].setdefault(entry.speaker, []).append(entry)
    picked = []
    for speakers in by_speaker.values():
        queues = [list(clips) for clips in speakers.values()]
        taken = 0
        while any(queues) and (max_per_language is None or taken < max_per_language):
            for queue in queues:
                if queue and (max_per_language is None or taken < max_per_language):
                    picked.append(queue.pop(0))
                    taken += 1
    if not picked:
        raise ManifestError(
            f"no neutral utterances with split in {list(splits)} and language in "
            f"{sorted(wanted)} in the manifest"
        )
    return picked


def pick_reference(entry: ManifestEntry, pool: Sequence[ManifestEntry]) -> ManifestEntry | None:
    """Another neutral clip of the same speaker with a different text: same language first,
    then the longest (a reference needs at least 2 s of speech)."""
    candidates = [
        e
        for e in pool
        if e.speaker == entry.speaker
        and e.emotion == "neutral"
        and e.text != entry.text
        and Path(e.audio) != Path(entry.audio)
    ]
    candidates.sort(key=lambda e: (e.language != entry.language, -e.duration, str(e.audio)))
    return candidates[0] if candidates else None


def held_out_fingerprint(
    entries: Sequence[ManifestEntry], pool: Sequence[ManifestEntry]
) -> dict[str, Any]:
    """Which held-out set a run scored, as two short hashes: `texts` of its (voice, language,
    text) list in order, and `audio` of the bytes of its clips and of the reference clip each
    is synthesised from. The corpus is rebuilt on every fresh machine; two runs' figures
    compare only when `texts` match, and their source-engine CER only when `audio` does too
    (a new version of an engine changes its audio). At stop 32 a rebuild made with the same
    commands read the engines' English at 0.027 against the table's 0.043, and nothing
    recorded then could tell whether its sentences, its audio or its machine differed."""
    texts, audio = hashlib.sha256(), hashlib.sha256()
    for entry in entries:
        texts.update(json.dumps([entry.speaker, entry.language, entry.text]).encode() + b"\n")
        ref = pick_reference(entry, pool)
        for clip in (entry.audio, ref.audio if ref is not None else None):
            audio.update(Path(clip).read_bytes() if clip is not None else b"-")
            audio.update(b"\n")
    return {"n": len(entries), "texts": texts.hexdigest()[:12], "audio": audio.hexdigest()[:12]}


def machine_info() -> dict[str, str]:
    """What ran the judges and the model: the CPU, its instruction set as torch sees it, and
    the torch and CTranslate2 versions. A rerun on one machine repeats every figure, but the
    same model and seeds read a development CER (ja / en) of 0.140 / 0.293, 0.133 / 0.311 and
    0.138 / 0.308 in three sessions, and what differed between them was not recorded. So two
    models compare best when run on one machine, and a run says which it was."""
    import platform
    from importlib import metadata

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)  # fmt: skip
    except OSError:
        pass
    import torch  # a dependency; imported here so that the module itself does not load it

    info = {"cpu": cpu, "torch": f"{torch.__version__} ({torch.backends.cpu.get_cpu_capability()})"}
    try:
        info["ctranslate2"] = metadata.version("ctranslate2")
    except metadata.PackageNotFoundError:
        info["ctranslate2"] = "not installed"
    return info


def longest_neutral_clips(
    pool: Sequence[ManifestEntry], language: str, splits: Sequence[str]
) -> dict[str, ManifestEntry]:
    """Per speaker of `language` in `splits`, its longest neutral clip (a reference voice)."""
    best: dict[str, ManifestEntry] = {}
    for e in pool:
        if e.language != language or e.emotion != "neutral" or e.extra.get("split") not in splits:
            continue
        if e.speaker not in best or e.duration > best[e.speaker].duration:
            best[e.speaker] = e
    return best


def emotion_references(
    pool: Sequence[ManifestEntry], language: str, splits: Sequence[str], voices: int
) -> list[ManifestEntry]:
    """Neutral reference clips of up to `voices` held-out speakers of `language` (the longest
    clip each), so emotion control is measured on voices the LM never saw, as CER and SIM are.
    A manifest without such speakers falls back to its first neutral clip of the language."""
    if voices < 1:
        raise ConfigError(f"emotion evaluation needs at least one voice, got {voices}")
    best = longest_neutral_clips(pool, language, splits)
    if best:
        return [best[name] for name in sorted(best)[:voices]]
    first = next((e for e in pool if e.language == language and e.emotion == "neutral"), None)
    return [first] if first is not None else []


def load_entry(entry: ManifestEntry) -> tuple[np.ndarray, int]:
    """An utterance's audio and sample rate."""
    return load_audio(entry.audio)


def mean_finite(values: Sequence[float]) -> float | None:
    """The mean of the finite values (None and NaN left out); None when there are none."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None
