"""2. Voice similarity: a speaker encoder's cosine between the output and the reference clip for
held-out voices, next to a same-voice baseline (two real clips of one voice) and a
different-voice baseline (real clips of two voices); cross-lingual: a Japanese reference clip
speaking the other languages. More judges can score the same outputs and clips.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from tts.data.manifest import ManifestEntry
from tts.errors import AudioInputError, ConfigError, ManifestError
from tts.eval.inputs import (
    HELD_OUT_SPLITS,
    SENTENCES,
    load_entry,
    mean_finite,
    pick_reference,
)
from tts.labels import LANGUAGES


def cosine(a: Any, b: Any) -> float:
    """Cosine similarity of two embedding vectors (torch or numpy)."""
    a = np.asarray(a.detach().cpu() if hasattr(a, "detach") else a, dtype=np.float64).ravel()
    b = np.asarray(b.detach().cpu() if hasattr(b, "detach") else b, dtype=np.float64).ravel()
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    if denom == 0.0:
        raise AudioInputError("cosine of a zero embedding is undefined")
    return float(np.dot(a, b) / denom)


def clip_similarity(encoder: Any, a: tuple[np.ndarray, int], b: tuple[np.ndarray, int]) -> float:
    """Speaker-embedding cosine between two (wav, sr) clips."""
    return cosine(encoder.embed(a[0], a[1]), encoder.embed(b[0], b[1]))


SIM_KEYS = ("model", "model_vs_clip", "same_voice", "different_voice")


def evaluate_similarity(
    synth: Any | None,
    entries: Sequence[ManifestEntry],
    pool: Sequence[ManifestEntry],
    encoder: Any,
    seed: int = 0,
    cross_lingual_source: str = "ja",
    utterances: int = 4,
    judges: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Output-vs-reference cosine per held-out voice, with same/different-voice baselines.

    Per speaker of `entries`, up to `utterances` of its entries (seeds seed, seed + 1, ...):
    the reference is one of its other clips (`pick_reference`), the output speaks the entry's
    text. same_voice: reference vs the entry's real clip; different_voice: reference vs a real
    clip of the next speaker; model_vs_clip: the output vs the entry's real clip (another
    recording of the voice than the reference). A voice's figures are the means over its
    utterances: one utterance per voice moved the mean of five voices by +-0.05 from one
    sampling setting to the next. Cross-lingual: a `cross_lingual_source` reference of a speaker speaking
    `utterances` sentences of every other language.

    `encoder` gives the figures at the top level. Each of `judges` (name -> speaker encoder)
    scores the same outputs and clips again, under result["judges"][name] (its means and
    cross-lingual figures): a second opinion from a model that synthesis does not consult.
    """
    if utterances < 1:
        raise ConfigError(f"utterances must be >= 1, got {utterances}")
    by_speaker: dict[str, list[ManifestEntry]] = {}
    for entry in entries:
        picked = by_speaker.setdefault(entry.speaker, [])
        if len(picked) < utterances and pick_reference(entry, pool) is not None:
            picked.append(entry)
    by_speaker = {k: v for k, v in by_speaker.items() if v}
    if not by_speaker:
        raise ManifestError("similarity needs a speaker with two different neutral clips")
    # Synthesis once; then every judge scores the same audio.
    outputs: dict[tuple[str, int], tuple[np.ndarray, int]] = {}
    if synth is not None:
        bar = tqdm(total=sum(map(len, by_speaker.values())), desc="sim", leave=False)
        for speaker, picked in by_speaker.items():
            for i, entry in enumerate(picked):
                reference = load_entry(pick_reference(entry, pool))  # type: ignore[arg-type]
                out = synth.synthesize(
                    entry.text, reference=reference, language=entry.language, seed=seed + i
                )
                outputs[speaker, i] = (out.wav, out.sample_rate)
                bar.update()
        bar.close()
    cross = (
        _cross_lingual_outputs(synth, pool, seed, cross_lingual_source, utterances)
        if synth is not None
        else None
    )
    result = _score_similarity(encoder, by_speaker, pool, outputs, cross)
    result["utterances_per_voice"] = utterances
    if judges:
        result["judges"] = {}
        for name, judge in judges.items():
            scored = _score_similarity(judge, by_speaker, pool, outputs, cross)
            result["judges"][name] = {k: v for k, v in scored.items() if k != "voices"}
            result["judges"][name]["per_voice"] = {
                r["speaker"]: {k: r.get(k) for k in SIM_KEYS} for r in scored["voices"]
            }
    return result


def _score_similarity(
    encoder: Any,
    by_speaker: dict[str, list[ManifestEntry]],
    pool: Sequence[ManifestEntry],
    outputs: dict[tuple[str, int], tuple[np.ndarray, int]],
    cross: dict[str, Any] | None,
) -> dict[str, Any]:
    """One judge's cosines of the outputs and the real clips (`evaluate_similarity`)."""
    others = sorted({e.speaker for e in pool if e.emotion == "neutral"})
    rows = []
    for speaker, picked in by_speaker.items():
        row: dict[str, Any] = {"speaker": speaker, "language": picked[0].language}
        # Different voice: the first utterance's reference against the next speaker's clip.
        other = next(
            (s for s in others[others.index(speaker) + 1 :] + others if s != speaker), None
        )
        if other is not None:
            first_ref = pick_reference(picked[0], pool)
            assert first_ref is not None
            other_entry = next(e for e in pool if e.speaker == other and e.emotion == "neutral")
            row["different_voice"] = clip_similarity(
                encoder, load_entry(first_ref), load_entry(other_entry)
            )
        items = []
        for i, entry in enumerate(picked):
            ref_entry = pick_reference(entry, pool)
            assert ref_entry is not None
            reference = load_entry(ref_entry)
            item: dict[str, Any] = {
                "text": entry.text,
                "reference": str(ref_entry.audio),
                "same_voice": clip_similarity(encoder, reference, load_entry(entry)),
            }
            if (speaker, i) in outputs:
                out = outputs[speaker, i]
                item["model"] = clip_similarity(encoder, reference, out)
                # against the entry's real clip, a recording the model never heard: a check
                # that the output sounds like the voice, not only like the reference clip
                item["model_vs_clip"] = clip_similarity(encoder, load_entry(entry), out)
            items.append(item)
        row["same_voice"] = mean_finite([x["same_voice"] for x in items])
        if outputs:
            row["model"] = mean_finite([x["model"] for x in items])
            row["model_vs_clip"] = mean_finite([x["model_vs_clip"] for x in items])
        row["utterances"] = items
        rows.append(row)
    result: dict[str, Any] = {k: mean_finite([r.get(k) for r in rows]) for k in SIM_KEYS}
    result["voices"] = rows
    if cross is not None:
        result["cross_lingual"] = _score_cross_lingual(encoder, cross)
    return result


def _cross_lingual_outputs(
    synth: Any, pool: Sequence[ManifestEntry], seed: int, source: str, utterances: int = 1
) -> dict[str, Any]:
    """A `source` reference (the first clip of the held-out splits when there is one: a
    held-out sentence, whose voice may be a training voice) speaking `utterances` sentences
    of every other language: the reference and the outputs, for any judge to score."""
    refs = [e for e in pool if e.language == source and e.emotion == "neutral"]
    if not refs:
        return {"source": source, "outputs": {}, "note": f"no {source} clip in the manifest"}
    ref_entry = next((e for e in refs if e.extra.get("split") in HELD_OUT_SPLITS), refs[0])
    reference = load_entry(ref_entry)
    outputs = {}
    for lang in tqdm([x for x in LANGUAGES if x != source], desc="cross-lingual", leave=False):
        outputs[lang] = []
        for i, text in enumerate(SENTENCES[lang][:utterances]):
            out = synth.synthesize(text, reference=reference, language=lang, seed=seed + i)
            outputs[lang].append((out.wav, out.sample_rate))
    return {"source": source, "speaker": ref_entry.speaker, "reference": reference,
            "outputs": outputs}  # fmt: skip


def _score_cross_lingual(encoder: Any, cross: dict[str, Any]) -> dict[str, Any]:
    if "note" in cross:
        return {"source": cross["source"], "per_language": {}, "note": cross["note"]}
    per_language = {
        lang: mean_finite([clip_similarity(encoder, cross["reference"], out) for out in outs])
        for lang, outs in cross["outputs"].items()
    }
    return {
        "source": cross["source"],
        "speaker": cross["speaker"],
        "per_language": per_language,
        "mean": mean_finite(list(per_language.values())),
    }
