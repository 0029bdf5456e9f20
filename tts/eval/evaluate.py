"""The evaluation harness: intelligibility, voice similarity, emotion control and speed.

Each measurement is a function that returns a plain dict (JSON-ready); `run_evaluation` runs the
selected ones, `markdown_report` turns the results into README tables and `main(argv)` is the
command line (`tts eval`, `recipes/evaluate.py`):

    python recipes/evaluate.py --model runs/bundle --manifest data/synthetic/manifest.jsonl \\
        --out eval/ --max-sentences 4 --languages ja,en --only cer,sim,emotion,speed

1. cer:     Whisper-base CER per language on held-out utterances (manifest splits test/valid,
            neutral only) for the model's output, next to the CER of the manifest's own audio of
            the same utterances (the source engine: the ceiling the model learned from);
            `--cer-seeds N` has the model speak each sentence with N seeds (mean and each).
2. sim:     Resemblyzer cosine between the output and the reference clip for held-out voices,
            next to a same-voice baseline (two real clips of one voice) and a different-voice
            baseline (real clips of two voices); cross-lingual: a Japanese reference clip
            speaking the other languages. Up to `--sim-utterances` (4) per voice and language.
3. emotion: per emotion and intensity, the shift of F0 mean/range (semitones), energy (dB),
            duration per phoneme and articulation time per phoneme (%, pauses left out) against
            neutral, same text, voice and seed; whether the shifts grow monotonically with
            intensity in the direction `EMOTION_PROSODY` sets (the rate is judged on the
            articulation time: `JUDGED`).
4. speed:   RTF and streaming first-chunk latency of the model, next to Kokoro-82M ONNX on the
            same Japanese sentences in the same run (Kokoro cannot stream: its first chunk is
            the full audio).

The model's reference clip for a manifest utterance is another neutral clip of the same speaker
(a different sentence, the same language when there is one), so the model never sees the audio
it is scored against.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import math
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from tts.audio import load_audio
from tts.config import apply_overrides, config_to_dict
from tts.data.manifest import ManifestEntry, read_manifest
from tts.errors import AudioInputError, ConfigError, ManifestError
from tts.labels import EMOTIONS, LANGUAGES, check_emotion, check_language
from tts.timing import STAGE_NAMES, stage_rtf

if TYPE_CHECKING:  # torch loads with the synthesizer, not with this module
    import torch

MEASUREMENTS = ("cer", "sim", "emotion", "speed")
HELD_OUT_SPLITS = ("test", "valid")
DEFAULT_INTENSITIES = (0.0, 0.5, 1.0)

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

# Tolerances below which a shift counts as "no change" (measurement noise of pyworld/RMS).
TOLERANCE = {
    "f0_mean_st": 0.1,
    "f0_range_st": 0.05,
    "energy_db": 0.2,
    "duration_pct": 1.0,
    "articulation_pct": 1.0,
}
# The quantities an emotion is judged by. The speaking rate is judged on the articulation time
# (speech without its pauses), not on the duration with pauses: whether the LM pauses at a
# comma, for 0.3-1 s, is a draw per utterance, and those few draws decide the mean. Measured
# on v11's whisper (18 utterances per condition): the per-utterance shift of the duration has
# a standard deviation of 7.5%, the articulation time's 3-4%; neutral paused 0.38 s per
# utterance, whisper at 0.5 0.21 s, which made whisper's duration 3.6% shorter while its
# articulation was 1.5% slower. The label's own tempo stretches speech and pauses alike, so
# the articulation time shows it as well. The duration with pauses is still reported.
JUDGED = ("f0_mean_st", "f0_range_st", "energy_db", "articulation_pct")
# A pause: at least PAUSE_S of frames PAUSE_DB or more below the loudest frame, inside the
# speech (between its first and last active frame).
PAUSE_S, PAUSE_DB = 0.15, 35.0


# ----------------------------------------------------------------------------- manifest


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


def _load(entry: ManifestEntry) -> tuple[np.ndarray, int]:
    return load_audio(entry.audio)


def _mean(values: Sequence[float]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


# ----------------------------------------------------------------------------- 1. CER


def evaluate_intelligibility(
    synth: Any | None,
    entries: Sequence[ManifestEntry],
    pool: Sequence[ManifestEntry],
    judge: Any,
    seed: int = 0,
    n_seeds: int = 1,
) -> dict[str, Any]:
    """CER of the model's output (when `synth` is given), of the manifest's own audio, and of
    that audio passed through the model's codec (encode + decode: what the codec alone loses,
    a ceiling on the LM's output that the engine's CER does not show).

    `entries`: the utterances to score; `pool`: where reference clips are looked up. The model
    speaks each sentence with `n_seeds` seeds (seed, seed + 1, ...), one item per draw: one
    seed's 16 sentences a language moved the mean by 0.07 between seeds (en 0.232 / 0.161),
    so the means of several say more; the engine's and codec's audio are scored once.
    Returns {"per_language": {lang: {n (sentences), draws, model_cer, engine_cer, codec_cer,
    their capped means, model_cer_by_seed}}, "per_voice": {lang: {speaker: the same}},
    "seeds": [...], "items": [...]}.
    """
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ConfigError(f"n_seeds must be a positive integer, got {n_seeds!r}")
    seeds = [seed + k for k in range(n_seeds)]
    items = []
    for entry in tqdm(entries, desc="cer", leave=False):
        wav, sr = _load(entry)
        engine_text, engine_cer = judge.score(wav, sr, entry.text, entry.language)
        item: dict[str, Any] = {
            "audio": str(entry.audio),
            "speaker": entry.speaker,
            "language": entry.language,
            "split": entry.extra.get("split"),
            "text": entry.text,
            "engine_transcript": engine_text,
            "engine_cer": engine_cer,
        }
        if synth is not None:
            ref = pick_reference(entry, pool)
            reference = _load(ref) if ref is not None else None
            # a decoder that reads the voice gets what synthesis would give it for this voice
            speaker = synth.decoder_speaker(reference, entry.language)
            resynth = codec_resynthesis(synth.codec, wav, sr, speaker)
            item["codec_transcript"], item["codec_cer"] = judge.score(
                resynth, synth.codec.sample_rate, entry.text, entry.language
            )
            item["reference"] = str(ref.audio) if ref is not None else None
            for draw in seeds:  # every draw repeats the entry's engine and codec scores
                out = synth.synthesize(
                    entry.text, reference=reference, language=entry.language, seed=draw
                )
                items.append({**item, "seed": draw, **_model_scores(out, entry, judge)})
        else:
            items.append(item)
    per_language, per_voice = {}, {}
    for lang in sorted({i["language"] for i in items}, key=LANGUAGES.index):
        rows = [i for i in items if i["language"] == lang]
        per_language[lang] = _cer_means(rows)
        # Per voice: where the model's output is well under the codec alone, the decoder gains
        # from the LM's units and the codec is what limits it; where it is well over, the LM.
        voices = sorted({r["speaker"] for r in rows})
        per_voice[lang] = {v: _cer_means([r for r in rows if r["speaker"] == v]) for v in voices}
    return {"per_language": per_language, "per_voice": per_voice, "seeds": seeds, "items": items}


def _model_scores(out: Any, entry: ManifestEntry, judge: Any) -> dict[str, Any]:
    """One synthesis's CER item fields: transcript and CER (silence scores 1), and per chunk
    the takes drawn, the reader's score of the kept one (None: unread) and its voice's
    similarity when the voice chose (SamplingConfig.voice_margin)."""
    if out.wav.size == 0 or not np.any(np.abs(out.wav) > 1e-4):
        model_text, model_cer = "", 1.0
    else:
        model_text, model_cer = judge.score(out.wav, out.sample_rate, entry.text, entry.language)
    return {
        "model_transcript": model_text,
        "model_cer": model_cer,
        "takes": [segment.takes for segment in out.segments],
        "reader_scores": [segment.reader_score for segment in out.segments],
        "voice_similarities": [segment.voice_similarity for segment in out.segments],
    }


def _cer_means(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean CER of the model, engine and codec columns, also with each sentence's CER capped
    at 1 ("*_cer_capped"): when Whisper loops on unclear audio one sentence can score 5-12,
    more than the rest of a 16-sentence mean together; capped, a loop counts as one miss.
    Every draw of a sentence is a row (the engine's and codec's scores repeated, so their
    means are per sentence); `model_cer_by_seed`: the model's mean at each seed."""
    out: dict[str, Any] = {"n": len({r["audio"] for r in rows}), "draws": len(rows)}
    for column in ("model_cer", "engine_cer", "codec_cer"):
        values = [r[column] for r in rows if column in r]
        out[column] = _mean(values)
        out[f"{column}_capped"] = _mean([min(v, 1.0) for v in values if v is not None])
    seeds = sorted({r["seed"] for r in rows if "seed" in r})
    out["model_cer_by_seed"] = {
        str(s): _mean([r["model_cer"] for r in rows if r.get("seed") == s]) for s in seeds
    }
    return out


def codec_resynthesis(
    codec: Any, wav: np.ndarray, sr: int, speaker: torch.Tensor | None = None
) -> np.ndarray:
    """A clip encoded and decoded by `codec` (mono float32 at the codec's sample rate);
    `speaker`: the voice's embedding, for a decoder that reads one."""
    mono = np.asarray(wav, dtype=np.float32)
    if mono.ndim > 1:
        mono = mono.mean(axis=-1)
    if speaker is None:
        return codec.resynthesize(mono, sr)
    return codec.resynthesize(mono, sr, speaker=speaker)


# ----------------------------------------------------------------------------- 2. similarity


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
                reference = _load(pick_reference(entry, pool))  # type: ignore[arg-type]
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
            row["different_voice"] = clip_similarity(encoder, _load(first_ref), _load(other_entry))
        items = []
        for i, entry in enumerate(picked):
            ref_entry = pick_reference(entry, pool)
            assert ref_entry is not None
            reference = _load(ref_entry)
            item: dict[str, Any] = {
                "text": entry.text,
                "reference": str(ref_entry.audio),
                "same_voice": clip_similarity(encoder, reference, _load(entry)),
            }
            if (speaker, i) in outputs:
                out = outputs[speaker, i]
                item["model"] = clip_similarity(encoder, reference, out)
                # against the entry's real clip, a recording the model never heard: a check
                # that the output sounds like the voice, not only like the reference clip
                item["model_vs_clip"] = clip_similarity(encoder, _load(entry), out)
            items.append(item)
        row["same_voice"] = _mean([x["same_voice"] for x in items])
        if outputs:
            row["model"] = _mean([x["model"] for x in items])
            row["model_vs_clip"] = _mean([x["model_vs_clip"] for x in items])
        row["utterances"] = items
        rows.append(row)
    result: dict[str, Any] = {k: _mean([r.get(k) for r in rows]) for k in SIM_KEYS}
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
    reference = _load(ref_entry)
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
        lang: _mean([clip_similarity(encoder, cross["reference"], out) for out in outs])
        for lang, outs in cross["outputs"].items()
    }
    return {
        "source": cross["source"],
        "speaker": cross["speaker"],
        "per_language": per_language,
        "mean": _mean(list(per_language.values())),
    }


# ----------------------------------------------------------------------------- 3. emotion


def prosody_features(wav: np.ndarray, sr: int, n_phonemes: int) -> dict[str, float | None]:
    """F0 mean and range (semitones re 100 Hz; median and std of voiced frames), energy (mean
    power of the active frames, dB), seconds of speech per phoneme (first to last active
    frame), the seconds of pause inside it (`PAUSE_S`, `PAUSE_DB`) and the seconds of speech
    without them per phoneme (the articulation time)."""
    import librosa

    from tts.data.prosody import world_f0

    x = np.asarray(wav, dtype=np.float64)
    if x.ndim != 1 or x.size < sr // 20 or not np.all(np.isfinite(x)):
        raise AudioInputError(f"need at least 50 ms of finite mono audio, got shape {x.shape}")
    if n_phonemes < 1:
        raise ConfigError(f"n_phonemes must be >= 1, got {n_phonemes}")
    f0 = world_f0(x, sr, 5.0)[0]
    voiced = f0[f0 > 0]
    semitones = 12.0 * np.log2(voiced / 100.0) if voiced.size >= 5 else None
    frame, hop = int(0.025 * sr), int(0.010 * sr)
    rms = librosa.feature.rms(y=x, frame_length=frame, hop_length=hop)[0]
    power_db = 20.0 * np.log10(np.maximum(rms, 1e-8))
    active = power_db > power_db.max() - 40.0  # speech frames; relative, so gain-invariant
    energy_db = 10.0 * np.log10(np.mean(10.0 ** (power_db[active] / 10.0)))
    idx = np.flatnonzero(active)
    speech_seconds = (idx[-1] - idx[0] + 1) * hop / sr
    pause_seconds = _pause_frames(power_db[idx[0] : idx[-1] + 1], PAUSE_S * sr / hop) * hop / sr
    return {
        "f0_mean_st": float(np.median(semitones)) if semitones is not None else None,
        "f0_range_st": float(np.std(semitones)) if semitones is not None else None,
        "energy_db": float(energy_db),
        "sec_per_phoneme": float(speech_seconds / n_phonemes),
        "pause_seconds": float(pause_seconds),
        "articulation_sec_per_phoneme": float((speech_seconds - pause_seconds) / n_phonemes),
    }


def _pause_frames(power_db: np.ndarray, min_frames: float) -> int:
    """How many frames lie in runs of at least `min_frames` quiet frames (`PAUSE_DB` below the
    loudest)."""
    quiet = np.concatenate([[False], power_db < power_db.max() - PAUSE_DB, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    lengths = edges[1::2] - edges[0::2]  # run starts and ends alternate
    return int(lengths[lengths >= min_frames].sum())


def expected_directions(emotion: str) -> dict[str, int]:
    """+1 / -1 / 0 per measured quantity, as `EMOTION_PROSODY` sets it for `emotion`."""
    from tts.data.prosody import EMOTION_PROSODY

    p = EMOTION_PROSODY[check_emotion(emotion)]
    voiced = p.unvoiced == 0.0  # whisper: there is no F0 to measure

    def sign(v: float) -> int:
        return int(np.sign(round(v, 9)))

    return {
        "f0_mean_st": sign(p.f0_shift_semitones) if voiced else 0,
        "f0_range_st": sign(p.f0_range - 1.0) if voiced else 0,
        "energy_db": sign(p.gain_db),
        "duration_pct": -sign(p.tempo - 1.0),  # faster tempo: less time per phoneme
        "articulation_pct": -sign(p.tempo - 1.0),
    }


def _shift(features: dict[str, Any], neutral: dict[str, Any], key: str) -> float | None:
    if key in ("duration_pct", "articulation_pct"):
        name = "sec_per_phoneme" if key == "duration_pct" else "articulation_sec_per_phoneme"
        return 100.0 * (features[name] / neutral[name] - 1.0)
    a, b = features[key], neutral[key]
    return None if a is None or b is None else float(a - b)


def analyse_emotion_shifts(
    neutral: dict[str, Any], by_intensity: dict[float, dict[str, Any]], emotion: str
) -> dict[str, Any]:
    """Shifts versus neutral per intensity; per judged quantity (`JUDGED`) whether they are
    monotonic in intensity and end in the labelled direction (within `TOLERANCE`).

    `neutral` and the values of `by_intensity` are `prosody_features` dicts.
    """
    directions = expected_directions(emotion)
    intensities = sorted(by_intensity)
    shifts = {
        key: [_shift(by_intensity[i], neutral, key) for i in intensities] for key in directions
    }
    checks: dict[str, dict[str, Any]] = {}
    for key, direction in directions.items():
        values = shifts[key]
        # Not judged, no direction set, or nothing to judge against:
        if key not in JUDGED or direction == 0 or neutral.get(key, 0.0) is None:
            checks[key] = {"direction": direction, "monotonic": None, "correct_direction": None}
            continue
        if any(v is None for v in values):
            # Measurable in neutral speech but gone here (no voiced frames where the label
            # keeps a voice): the label broke the speech, which is a failure, not a pass.
            checks[key] = {"direction": direction, "monotonic": False, "correct_direction": False}
            continue
        tol = TOLERANCE[key]
        steps = [direction * (b - a) for a, b in itertools.pairwise(values)]
        checks[key] = {
            "direction": direction,
            "monotonic": bool(all(s >= -tol for s in steps)),
            "correct_direction": bool(direction * values[-1] > tol),
        }
    judged = [c for c in checks.values() if c["monotonic"] is not None]
    return {
        "emotion": emotion,
        "intensities": intensities,
        "shifts": shifts,
        "checks": checks,
        "monotonic": bool(judged) and all(c["monotonic"] for c in judged),
        "correct_direction": bool(judged) and all(c["correct_direction"] for c in judged),
    }


def mean_features(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per quantity, the mean over the samples that have it (None where none has)."""
    out: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples if s[key] is not None]
        out[key] = float(np.mean(values)) if values else None
    return out


def evaluate_emotion(
    synth: Any,
    text: str | Sequence[str],
    language: str,
    reference: tuple[np.ndarray, int] | None = None,
    emotions: Sequence[str] | None = None,
    intensities: Sequence[float] = DEFAULT_INTENSITIES,
    seed: int = 0,
    seeds: int = 1,
    references: Sequence[tuple[np.ndarray, int]] | None = None,
    pitch_range: float | None = None,
    label_prosody: bool = True,
) -> dict[str, Any]:
    """Synthesize each text neutral and per emotion x intensity (same voices; seeds seed ..
    seed + seeds - 1) and analyse the mean features of every condition.

    `references` (several voices) replaces `reference` when given; every condition uses each
    of them. `pitch_range` is passed to the synthesizer (None: its default, the emotion's), as
    is `label_prosody` (False: the LM alone, without the label's decoder range, tempo and gain).

    One sampled utterance per condition is a noisy judge: its length and melody vary from seed
    to seed as much as a mild emotion moves them. Every condition uses the same texts and seeds,
    so differences between conditions come from the emotion and intensity.
    """
    emotions = [check_emotion(e) for e in (emotions or [e for e in EMOTIONS if e != "neutral"])]
    texts = [text] if isinstance(text, str) else list(text)
    if not texts or seeds < 1:
        raise ConfigError("emotion evaluation needs at least one text and one seed")
    voices = list(references) if references else [reference]
    n_phonemes = [sum(len(c.ids) for c in synth.frontend.process(t, language)) for t in texts]
    extra: dict[str, Any] = {} if pitch_range is None else {"pitch_range": pitch_range}
    if not label_prosody:
        extra["label_prosody"] = False

    def features(emotion: str, intensity: float) -> dict[str, Any]:
        samples = []
        for t, n in zip(texts, n_phonemes, strict=True):
            for voice in voices:
                for s in range(seed, seed + seeds):
                    out = synth.synthesize(
                        t, reference=voice, language=language, emotion=emotion,
                        intensity=intensity, seed=s, watermark=False, **extra,
                    )  # fmt: skip
                    samples.append(prosody_features(out.wav, out.sample_rate, n))
        return mean_features(samples)

    # No watermark here: its noise would blur the prosody measurements. Silence the warning
    # the synthesizer logs for every watermark-free call.
    watermark_log = logging.getLogger("tts.watermark")
    level = watermark_log.level
    watermark_log.setLevel(logging.ERROR)
    try:
        neutral = features("neutral", 0.0)
        jobs = [(e, float(i)) for e in emotions for i in intensities]
        measured: dict[str, dict[float, dict[str, Any]]] = defaultdict(dict)
        for emotion, intensity in tqdm(jobs, desc="emotion", leave=False):
            measured[emotion][intensity] = features(emotion, intensity)
    finally:
        watermark_log.setLevel(level)
    per_emotion = {}
    for emotion in emotions:
        per_emotion[emotion] = analyse_emotion_shifts(neutral, measured[emotion], emotion)
    return {
        "texts": texts,
        "seeds": seeds,
        "voices": len(voices),
        "pitch_range": pitch_range,
        "label_prosody": label_prosody,
        "language": language,
        "neutral": neutral,
        "emotions": per_emotion,
    }


# ----------------------------------------------------------------------------- 4. speed


def _kokoro_voice(name: str) -> Any:
    from tts.data.engines import Voice

    return Voice(f"kokoro-{name}", "kokoro", ("ja",), {"voice": name})


def speed_inputs(
    pool: Sequence[ManifestEntry], max_sentences: int | None
) -> tuple[list[str], ManifestEntry | None]:
    """What speed is measured on: the Japanese speed sentences (up to `max_sentences`) and the
    reference clip, the pool's first neutral Japanese utterance (None: the stored voice)."""
    neutral = [e for e in pool if e.language == "ja" and e.emotion == "neutral"]
    return list(SENTENCES["ja"][: max_sentences or None]), neutral[0] if neutral else None


def evaluate_speed(
    synth: Any,
    sentences: Sequence[str],
    language: str = "ja",
    reference: object | None = None,
    seed: int = 0,
    kokoro_voice: str | None = "jf_alpha",
    watermark: bool = True,
) -> dict[str, Any]:
    """RTF (compute time / audio time) and first-chunk latency, model and Kokoro side by side.

    One warm-up call per system is not timed. Kokoro (`kokoro_voice=None` skips it) runs
    through `tts.data.engines` (one ONNX thread); it does not stream, so its first-chunk
    latency is its time to the full audio. `reference` is anything `Synthesizer.synthesize`
    takes (None: the model's stored voice); `watermark=False` times synthesis without the
    watermark (recipes/device_speed.py, on a machine without Perth). The model's summary
    also has `stage_rtf`: its one-shot RTF split by stage (`Audio.timings`, `tts.timing`).
    """
    import torch

    if not sentences:
        raise ConfigError("speed needs at least one sentence")
    rows: dict[str, list[dict[str, Any]]] = {"model": [], "kokoro": []}
    call = {"reference": reference, "language": language, "seed": seed, "watermark": watermark}
    synth.synthesize(sentences[0], **call)  # warm-up
    for text in tqdm(sentences, desc="speed: model", leave=False):
        start = time.perf_counter()
        out = synth.synthesize(text, **call)
        full = time.perf_counter() - start
        start = time.perf_counter()
        first = None
        for _ in synth.stream(text, **call):
            first = time.perf_counter() - start if first is None else first
        rows["model"].append(
            {"seconds": full, "audio_seconds": out.duration, "first_chunk": first or full,
             "stages": out.timings}
        )  # fmt: skip
    if kokoro_voice is not None:
        from tts.data.engines import engine_available, synthesize

        if engine_available("kokoro"):
            voice = _kokoro_voice(kokoro_voice)
            synthesize(voice, sentences[0], "ja")  # warm-up (loads the ONNX session)
            for text in tqdm(sentences, desc="speed: kokoro", leave=False):
                start = time.perf_counter()
                wav, sr = synthesize(voice, text, "ja")
                full = time.perf_counter() - start
                rows["kokoro"].append(
                    {"seconds": full, "audio_seconds": len(wav) / sr, "first_chunk": full}
                )

    def summary(items: list[dict[str, Any]]) -> dict[str, Any] | None:
        if not items:
            return None
        audio = sum(r["audio_seconds"] for r in items)
        out = {
            "n": len(items),
            "rtf": sum(r["seconds"] for r in items) / audio if audio > 0 else None,
            "first_chunk_s": float(np.mean([r["first_chunk"] for r in items])),
            "audio_seconds": audio,
        }
        if all("stages" in r for r in items):  # the model's one-shot calls, stage by stage
            out["stage_rtf"] = stage_rtf([r["stages"] for r in items], audio)
        return out

    return {
        "language": language,
        "device": str(synth.device),
        "torch_threads": synth.threads or torch.get_num_threads(),
        "kokoro_onnx_threads": 1,  # tts.data.engines builds a one-thread session
        "watermark": watermark,
        "model": summary(rows["model"]),
        "kokoro": summary(rows["kokoro"]),
    }


# ----------------------------------------------------------------------------- report


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_report(results: dict[str, Any]) -> str:
    """README-ready Markdown tables of whatever `run_evaluation` measured."""
    out: list[str] = []
    held = results.get("config", {}).get("held_out")
    if held:
        out += [
            f"Held-out set: {held['n']} utterances; fingerprints: texts and voices "
            f"`{held['texts']}`, audio `{held['audio']}` (runs compare only on equal texts).",
            "",
        ]
    machine = results.get("config", {}).get("machine")
    if machine:
        out += ["Machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()) + ".", ""]
    if "cer" in results:
        seeds = results["cer"].get("seeds") or []
        several = len(seeds) > 1 and any("model_cer" in i for i in results["cer"]["items"])
        drawn = f"; the model's column: the mean of seeds {', '.join(map(str, seeds))}" if several else ""  # fmt: skip
        out += [f"### Intelligibility (Whisper base CER, lower is better{drawn})", ""]
        head = "| language | n | model | source engine | engine audio through the codec |"
        out += [head + (" model, by seed |" if several else "")]
        out += ["|---|---|---|---|---|" + ("---|" if several else "")]
        for lang, r in results["cer"]["per_language"].items():
            by_seed = " / ".join(_fmt(v) for v in r.get("model_cer_by_seed", {}).values())
            out.append(
                f"| {lang} | {r['n']} | {_fmt(r['model_cer'])} | {_fmt(r['engine_cer'])} | "
                f"{_fmt(r.get('codec_cer'))} |" + (f" {by_seed} |" if several else "")
            )
        per_language = results["cer"]["per_language"]
        capped = [
            lang
            for lang, r in per_language.items()
            for column in ("model_cer", "engine_cer", "codec_cer")
            if r.get(f"{column}_capped") is not None and r[f"{column}_capped"] != r[column]
        ]
        if capped:  # some sentence scored over 1 (Whisper looped): the means without the loops
            out += ["", "The same with each sentence's CER capped at 1 (a loop counts as one miss):", ""]  # fmt: skip
            out += ["| language | model | source engine | engine audio through the codec |"]
            out += ["|---|---|---|---|"]
            for lang in dict.fromkeys(capped):
                r = per_language[lang]
                out.append(
                    f"| {lang} | {_fmt(r['model_cer_capped'])} | "
                    f"{_fmt(r['engine_cer_capped'])} | {_fmt(r.get('codec_cer_capped'))} |"
                )
        voices = results["cer"].get("per_voice", {})
        if any(len(v) > 1 for v in voices.values()):  # one voice a language: the rows above
            out += ["", "Per held-out voice:", ""]
            out += ["| language | voice | n | model | source engine | engine audio through the codec |"]  # fmt: skip
            out += ["|---|---|---|---|---|---|"]
            for lang, by_voice in voices.items():
                for voice, r in by_voice.items():
                    out.append(
                        f"| {lang} | {voice} | {r['n']} | {_fmt(r['model_cer'])} | "
                        f"{_fmt(r['engine_cer'])} | {_fmt(r.get('codec_cer'))} |"
                    )
        out.append("")
    if "sim" in results:
        s = results["sim"]
        n = s.get("utterances_per_voice", 1)
        out += [f"### Voice similarity (Resemblyzer cosine, up to {n} utterances per voice)", ""]
        out += ["| model vs reference | model vs another clip | same voice (real) | different voice (real) |"]  # fmt: skip
        out += ["|---|---|---|---|"]
        out += [f"| {_fmt(s['model'])} | {_fmt(s.get('model_vs_clip'))} | {_fmt(s['same_voice'])} | {_fmt(s['different_voice'])} |"]  # fmt: skip
        cross = s.get("cross_lingual", {}).get("per_language", {})
        if cross:
            out += ["", f"Cross-lingual ({s['cross_lingual']['source']} reference):", ""]
            out += ["| " + " | ".join(cross) + " |", "|" + "---|" * len(cross)]
            out += ["| " + " | ".join(_fmt(v) for v in cross.values()) + " |"]
        for name, j in s.get("judges", {}).items():
            out += ["", f"The same outputs and clips judged by `{name}` (`--sim-judge`):", ""]
            out += ["| model vs reference | model vs another clip | same voice (real) | different voice (real) | cross-lingual (mean) |"]  # fmt: skip
            out += ["|---|---|---|---|---|"]
            out += [f"| {_fmt(j['model'])} | {_fmt(j.get('model_vs_clip'))} | {_fmt(j['same_voice'])} | {_fmt(j['different_voice'])} | {_fmt(j.get('cross_lingual', {}).get('mean'))} |"]  # fmt: skip
        out.append("")
    if "emotion" in results:
        e = results["emotion"]
        samples = len(e.get("texts", [None])) * e.get("seeds", 1) * e.get("voices", 1)
        out += [f"### Emotion control (shift vs neutral at the highest intensity, mean of {samples} utterances)", ""]  # fmt: skip
        if e.get("reference_voices"):
            out += [f"Voices: {', '.join(e['reference_voices'])}."]
        if e.get("pitch_range") is not None:
            out += [f"Every synthesis with pitch_range={e['pitch_range']} (not the emotion's)."]
        if e.get("label_prosody") is False:
            out += ["Label prosody off: the LM alone, no decoder F0 range, tempo or gain."]
        if out[-1] != "":
            out.append("")
        out += ["| emotion | F0 mean (st) | F0 range (st) | energy (dB) | duration/phoneme (%) "]
        out[-1] += "| articulation/phoneme (%) | monotonic | labelled direction |"
        out += ["|---|---|---|---|---|---|---|---|"]
        for name, r in e["emotions"].items():
            last = {k: v[-1] for k, v in r["shifts"].items()}
            out.append(
                f"| {name} | {_fmt(last['f0_mean_st'], 2)} | {_fmt(last['f0_range_st'], 2)} | "
                f"{_fmt(last['energy_db'], 2)} | {_fmt(last['duration_pct'], 1)} | "
                f"{_fmt(last.get('articulation_pct'), 1)} | "
                f"{_fmt(r['monotonic'])} | {_fmt(r['correct_direction'])} |"
            )
        out.append("")
    if "speed" in results:
        sp = results["speed"]
        threads = f"{sp['torch_threads']} thread" + ("" if sp["torch_threads"] == 1 else "s")
        out += [f"### Speed ({sp['language']}, {sp['device']}, {threads})", ""]
        out += ["| system | RTF | first-chunk latency (s) |", "|---|---|---|"]
        for name in ("model", "kokoro"):
            if sp.get(name):
                label = (
                    "this model (RTF one-shot, first chunk streamed)"
                    if name == "model"
                    else "Kokoro-82M ONNX (full)"
                )
                out.append(
                    f"| {label} | {_fmt(sp[name]['rtf'])} | {_fmt(sp[name]['first_chunk_s'])} |"
                )
        stages = (sp.get("model") or {}).get("stage_rtf")
        if stages:
            out += ["", "Where the model's one-shot time goes (RTF by stage):", ""]
            out += ["| stage | RTF |", "|---|---|"]
            out += [f"| {STAGE_NAMES.get(k, k)} | {_fmt(v)} |" for k, v in stages.items()]
            rest = sp["model"]["rtf"] - sum(stages.values())
            out.append(f"| the rest (the loop between stages) | {_fmt(rest)} |")
        out.append("")
    return "\n".join(out)


def run_evaluation(
    synth: Any | None,
    manifest: str | Path | None,
    only: Sequence[str] = MEASUREMENTS,
    languages: Sequence[str] | None = None,
    max_sentences: int | None = 8,
    splits: Sequence[str] = HELD_OUT_SPLITS,
    seed: int = 0,
    intensities: Sequence[float] = DEFAULT_INTENSITIES,
    emotions: Sequence[str] | None = None,
    kokoro_voice: str | None = "jf_alpha",
    emotion_texts: int = 3,
    emotion_seeds: int = 3,
    emotion_voices: int = 2,
    pitch_range: float | None = None,
    label_prosody: bool = True,
    sim_utterances: int = 4,
    sim_judges: Sequence[str | Path] = (),
    cer_seeds: int = 1,
) -> dict[str, Any]:
    """Run the selected measurements; `synth=None` measures only the real-audio baselines.
    Emotion control is judged on the mean of `emotion_texts` x `emotion_voices` (held-out
    voices, `emotion_references`) x `emotion_seeds` utterances: 18 by default. With one seed
    (6) a condition's mean moved by a fifth of a semitone between seed sets, as much as a mild
    emotion's whole intensity step, so monotonicity was decided by the draw. Similarity on up
    to `sim_utterances` per held-out voice and per cross-lingual language; each of
    `sim_judges` (ECAPA checkpoint folders, `recipes/train_speaker_encoder.py`) scores the same
    outputs beside Resemblyzer, under results["sim"]["judges"][folder name]. CER takes each
    sentence at `cer_seeds` seeds from `seed` on (`evaluate_intelligibility`)."""
    unknown = set(only) - set(MEASUREMENTS)
    if unknown:
        raise ConfigError(f"unknown measurement(s) {sorted(unknown)}; choose from {MEASUREMENTS}")
    languages = [check_language(x) for x in (languages or LANGUAGES)]
    needs_manifest = {"cer", "sim"} & set(only)
    if needs_manifest and manifest is None:
        raise ConfigError(f"{sorted(needs_manifest)} need --manifest")
    if synth is None and {"emotion", "speed"} & set(only):
        raise ConfigError("emotion and speed measure a model: pass --model")
    pool = read_manifest(manifest) if manifest is not None else []
    results: dict[str, Any] = {"config": {"manifest": str(manifest) if manifest else None,
                                          "languages": languages, "seed": seed}}  # fmt: skip
    entries = held_out_entries(pool, splits, languages, max_sentences) if needs_manifest else []
    if entries:
        results["config"]["held_out"] = held_out_fingerprint(entries, pool)
    # Speed first, before Whisper has run in this process: once CTranslate2's OpenMP runtime
    # has worked here, torch's small two-thread operations run ~4x slower for the rest of the
    # process (a 8x320 @ 320x1000 matmul loop: 0.43 s -> 1.94 s; one thread unchanged), which
    # is this harness's doing, not synthesis's: `tts synthesize` never loads Whisper.
    if "speed" in only:
        sentences, entry = speed_inputs(pool, max_sentences)
        reference = _load(entry) if entry is not None else None
        results["speed"] = evaluate_speed(synth, sentences, "ja", reference, seed, kokoro_voice)
    if "cer" in only:
        from tts.eval.asr import load_whisper

        results["cer"] = evaluate_intelligibility(
            synth, entries, pool, load_whisper(), seed, n_seeds=cer_seeds
        )
    if "sim" in only:
        from tts.speakers import load_speaker_encoder

        encoder = load_speaker_encoder("resemblyzer")
        judges = {Path(j).name: load_speaker_encoder(j) for j in sim_judges}
        results["sim"] = evaluate_similarity(
            synth, entries, pool, encoder, seed, utterances=sim_utterances, judges=judges
        )
    if "emotion" in only:
        lang = languages[0]
        picked = emotion_references(pool, lang, splits, emotion_voices)
        results["emotion"] = evaluate_emotion(
            synth, SENTENCES[lang][:emotion_texts], lang, None, emotions, intensities, seed,
            seeds=emotion_seeds, references=[_load(e) for e in picked], pitch_range=pitch_range,
            label_prosody=label_prosody,
        )  # fmt: skip
        results["emotion"]["reference_voices"] = [e.speaker for e in picked]
    return results


# ----------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tts eval", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="model bundle folder or name (omit: real-audio baselines only)")
    p.add_argument("--manifest", help="JSONL manifest with extra.split = train/valid/test")
    p.add_argument("--out", default="eval", help="folder for results.json and results.md")
    p.add_argument(
        "--only", default=",".join(MEASUREMENTS), help="comma list of " + ",".join(MEASUREMENTS)
    )
    p.add_argument("--languages", default=",".join(LANGUAGES))
    p.add_argument("--splits", default=",".join(HELD_OUT_SPLITS))
    p.add_argument("--max-sentences", type=int, default=8, help="per language (and for speed)")
    p.add_argument("--intensities", default=",".join(str(i) for i in DEFAULT_INTENSITIES))
    p.add_argument("--emotions", default=None, help="comma list (default: all but neutral)")
    p.add_argument(
        "--emotion-texts", type=int, default=3, help="texts per emotion condition (max 4 in ja)"
    )
    p.add_argument(
        "--emotion-seeds", type=int, default=3, help="seeds per text, voice and condition"
    )
    p.add_argument(
        "--emotion-voices", type=int, default=2, help="held-out reference voices for emotion"
    )
    p.add_argument(
        "--cer-seeds",
        type=int,
        default=1,
        help="cer: speak each sentence with this many seeds (--seed, --seed + 1, ...)",
    )
    p.add_argument(
        "--sim-utterances",
        type=int,
        default=4,
        help="similarity: utterances per held-out voice and per cross-lingual language",
    )
    p.add_argument(
        "--sim-judge",
        action="append",
        default=[],
        metavar="DIR",
        help="similarity: also score with this ECAPA checkpoint (recipes/train_speaker_encoder.py),"
        " a judge that synthesis does not consult; repeatable",
    )
    p.add_argument(
        "--pitch-range",
        type=float,
        default=None,
        help="pass this pitch_range to every synthesis (default: the synthesizer's, per emotion)",
    )
    p.add_argument(
        "--no-label-prosody",
        action="store_true",
        help="measure the LM alone: no decoder F0 range, tempo or gain from the emotion label",
    )
    p.add_argument("--kokoro-voice", default="jf_alpha", help="'none' skips the Kokoro timing")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: model's)")
    p.add_argument(
        "--sampling",
        default="",
        help="override the model's sampling defaults, e.g. temperature=0.7,cfg_scale=2",
    )
    p.add_argument(
        "--readme",
        default=None,
        help=f"also write the tables into this file between {README_START} and {README_END}",
    )
    return p


README_START = "<!-- eval:start -->"
README_END = "<!-- eval:end -->"


def update_readme(path: str | Path, table: str, command: str) -> Path:
    """Replace the text between the README's eval markers with `table` and the command used."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ConfigError(
            f"{path} has no {README_START} ... {README_END} section to fill; add the two markers"
        )
    # the report's "###" sections sit under the README's own heading: one level deeper
    table = "\n".join("#" + line if line.startswith("### ") else line for line in table.strip().splitlines())  # fmt: skip
    body = f"{README_START}\nProduced by `{command}`:\n\n{table}\n{README_END}"
    path.write_text(text[:start] + body + text[end + len(README_END) :], encoding="utf-8")
    return path


def _split(text: str | None) -> list[str]:
    return [x.strip() for x in (text or "").split(",") if x.strip()]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    synth = None
    if args.model:
        from tts.synthesizer import Synthesizer

        synth = Synthesizer.from_pretrained(args.model, device=args.device, threads=args.threads)
        if args.sampling:
            synth.config.sampling = apply_overrides(synth.config.sampling, _split(args.sampling))
    try:
        intensities = [float(x) for x in _split(args.intensities)]
    except ValueError as exc:
        raise ConfigError(f"--intensities must be numbers, got {args.intensities!r}") from exc
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*reached its cap.*")
        results = run_evaluation(
            synth,
            args.manifest,
            only=_split(args.only),
            languages=_split(args.languages),
            max_sentences=args.max_sentences,
            splits=_split(args.splits),
            seed=args.seed,
            intensities=intensities,
            emotions=_split(args.emotions) or None,
            kokoro_voice=None if args.kokoro_voice.lower() == "none" else args.kokoro_voice,
            emotion_texts=args.emotion_texts,
            emotion_seeds=args.emotion_seeds,
            emotion_voices=args.emotion_voices,
            pitch_range=args.pitch_range,
            label_prosody=not args.no_label_prosody,
            sim_utterances=args.sim_utterances,
            sim_judges=args.sim_judge,
            cer_seeds=args.cer_seeds,
        )
    results["config"]["model"] = args.model
    results["config"]["machine"] = machine_info()
    if synth is not None:
        results["config"]["sampling"] = config_to_dict(synth.config.sampling)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    table = markdown_report(results)
    (out / "results.md").write_text(table + "\n", encoding="utf-8")
    print(table)
    print(f"wrote {out / 'results.json'} and {out / 'results.md'}")
    if args.readme:
        shown = list(argv if argv is not None else sys.argv[1:])
        update_readme(args.readme, table, "tts eval " + " ".join(shown))
        print(f"updated the results section of {args.readme}")
    return results


__all__ = [
    "analyse_emotion_shifts",
    "clip_similarity",
    "cosine",
    "emotion_references",
    "evaluate_emotion",
    "evaluate_intelligibility",
    "evaluate_similarity",
    "evaluate_speed",
    "expected_directions",
    "held_out_entries",
    "held_out_fingerprint",
    "machine_info",
    "main",
    "markdown_report",
    "pick_reference",
    "prosody_features",
    "run_evaluation",
    "speed_inputs",
    "update_readme",
]
