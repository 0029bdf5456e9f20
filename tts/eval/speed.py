"""4. Speed: RTF and streaming first-chunk latency of the model, next to Kokoro-82M ONNX on the
same Japanese sentences in the same run (Kokoro cannot stream: its first chunk is the full
audio), and the model's RTF split by stage (`tts.timing`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from tts.data.manifest import ManifestEntry
from tts.errors import ConfigError
from tts.eval.inputs import (
    SENTENCES,
)
from tts.timing import stage_rtf


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
