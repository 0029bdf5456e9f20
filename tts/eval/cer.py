"""1. Intelligibility: Whisper-base CER of the model's output on held-out sentences, next to the
CER of the source engine's own audio of the same sentences (the ceiling the model learned
from) and of that audio through the model's codec alone (what the codec loses).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from tts.data.manifest import ManifestEntry
from tts.errors import ConfigError
from tts.labels import LANGUAGES

if TYPE_CHECKING:  # torch loads with the synthesizer, not with this module
    import torch
from tts.eval.inputs import (
    load_entry,
    mean_finite,
    pick_reference,
)


def evaluate_intelligibility(
    synth: Any | None,
    entries: Sequence[ManifestEntry],
    pool: Sequence[ManifestEntry],
    judge: Any,
    seed: int = 0,
    n_seeds: int = 1,
) -> dict[str, Any]:
    """CER of the model's output (when `synth` is given), of the manifest's own audio, and of
    that audio passed through the model's codec (encode + decode, with the clip's own semantic
    units where the decoder reads them: what the codec alone loses, a mark for the LM's
    output that the engine's CER does not show; `codec_units` says which).

    `entries`: the utterances to score; `pool`: where reference clips are looked up. The model
    speaks each sentence with `n_seeds` seeds (seed, seed + 1, ...), one item per draw: one
    seed's 16 sentences a language moved the mean by 0.07 between seeds (en 0.232 / 0.161),
    so the means of several say more; the engine's and codec's audio are scored once.
    Returns {"per_language": {lang: {n (sentences), draws, model_cer, engine_cer, codec_cer,
    their capped means, model_cer_by_seed}}, "per_voice": {lang: {speaker: the same}},
    "seeds": [...], "items": [...], "codec_units": bool}.
    """
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ConfigError(f"n_seeds must be a positive integer, got {n_seeds!r}")
    seeds = [seed + k for k in range(n_seeds)]
    items = []
    for entry in tqdm(entries, desc="cer", leave=False):
        wav, sr = load_entry(entry)
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
            reference = load_entry(ref) if ref is not None else None
            # a decoder that reads the voice gets what synthesis would give it for this voice
            speaker = synth.decoder_speaker(reference, entry.language)
            resynth = codec_resynthesis(
                synth.codec, wav, sr, speaker, synth.semantic, _text_frames(synth, entry)
            )
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
        # Per voice: where the model's output is well under the codec column, the decoder
        # renders the LM's typical codes more clearly than the clip's own and the codec is what
        # limits it; where it is well over, the LM.
        voices = sorted({r["speaker"] for r in rows})
        per_voice[lang] = {v: _cer_means([r for r in rows if r["speaker"] == v]) for v in voices}
    units = synth is not None and reads_units(synth.codec, synth.semantic)
    text = synth is not None and bool(getattr(synth.codec, "reads_phonemes", 0))
    return {"per_language": per_language, "per_voice": per_voice, "seeds": seeds, "items": items,
            "codec_units": units, "codec_text": text}  # fmt: skip


def _text_frames(synth: Any, entry: ManifestEntry) -> Callable[[np.ndarray, int], Any] | None:
    """For the codec column: the entry's phoneme frames in a decoded clip (one chunk of text
    only: synthesis aligns each chunk to its own audio); None for a decoder that reads none."""
    if not getattr(synth.codec, "reads_phonemes", 0):  # no text to read: no front end run
        return None
    chunks = synth.frontend.process(entry.text, entry.language)
    if len(chunks) != 1:
        return None
    return lambda audio, n_frames: synth.phoneme_frames(chunks[0], audio, n_frames)


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
        out[column] = mean_finite(values)
        out[f"{column}_capped"] = mean_finite([min(v, 1.0) for v in values if v is not None])
    seeds = sorted({r["seed"] for r in rows if "seed" in r})
    out["model_cer_by_seed"] = {
        str(s): mean_finite([r["model_cer"] for r in rows if r.get("seed") == s]) for s in seeds
    }
    return out


def reads_units(codec: Any, semantic: Any | None) -> bool:
    """True when `codec_resynthesis` gives `codec`'s decoder the clip's own semantic units."""
    return semantic is not None and bool(getattr(codec, "n_units", 0))


def codec_resynthesis(
    codec: Any,
    wav: np.ndarray,
    sr: int,
    speaker: torch.Tensor | None = None,
    semantic: Any | None = None,
    text_frames: Callable[[np.ndarray, int], Any] | None = None,
) -> np.ndarray:
    """A clip encoded and decoded by `codec` (mono float32 at the codec's sample rate);
    `speaker`: the voice's embedding, for a decoder that reads one.

    `text_frames(audio, n_frames)`, for a decoder that reads the text (`reads_phonemes`):
    the phoneme frames [1, 2, n_frames] heard in the decoded audio, or None; the clip is then
    decoded again with them, as synthesis decodes its kept take (`Synthesizer.phoneme_frames`).

    `semantic` (the model's `SemanticTokenizer`), for a decoder that reads units: the clip's
    own units go in front of its codes, where synthesis puts the LM's unit stream, so this is
    what the decoder makes of the true codes and units: how an LM that reproduced the clip's
    codes exactly would sound (not a hard bound: the decoder may render an LM's typical codes
    more clearly than real ones). Without them the decoder reads "no unit" in every frame,
    which it was trained on for only a fifth of its crops."""
    mono = np.asarray(wav, dtype=np.float32)
    if mono.ndim > 1:
        mono = mono.mean(axis=-1)
    voice = {} if speaker is None else {"speaker": speaker}
    import torch

    codes = codec.encode(torch.from_numpy(np.ascontiguousarray(mono))[None], sr)  # [1, K, F]
    if reads_units(codec, semantic):
        units = semantic.units(mono, sr, codes.shape[-1]).clamp(max=codec.n_units)
        codes = torch.cat([units.to(codes)[None, None], codes], dim=1)
    audio = codec.decode(codes, **voice)[0].cpu().numpy()
    if text_frames is None or not getattr(codec, "reads_phonemes", 0):
        return audio
    frames = text_frames(audio, codes.shape[-1])
    return (
        audio if frames is None else codec.decode(codes, phonemes=frames, **voice)[0].cpu().numpy()
    )
