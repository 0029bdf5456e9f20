"""Speech detection with silero-vad (weights ship in its wheel, so this works offline).

The TorchScript model is loaded once per process and reused: loading costs ~0.1 s, running it
costs ~2% of real time at 16 kHz. Importing `silero_vad` calls `torch.set_num_threads(1)` as a
side effect; every import goes through `_silero()`, which puts the caller's thread count back.
"""

from __future__ import annotations

import threading
import warnings
from functools import lru_cache

import numpy as np
import torch

VAD_SAMPLE_RATE = 16_000
_lock = threading.Lock()  # the model is stateful (recurrent state): one caller at a time


@lru_cache(maxsize=1)
def _silero() -> object:
    """The silero_vad module, imported with the caller's torch thread count put back.

    Every import of silero_vad goes through here: a bare `from silero_vad import ...` left the
    whole process on one thread (halving CPU synthesis speed after the first reference clip).
    """
    threads = torch.get_num_threads()
    import silero_vad

    torch.set_num_threads(threads)
    return silero_vad


@lru_cache(maxsize=1)
def load_vad_model() -> torch.nn.Module:
    load_silero_vad = _silero().load_silero_vad  # type: ignore[attr-defined]
    with warnings.catch_warnings():  # torch deprecates torch.jit.load; the model is TorchScript
        warnings.simplefilter("ignore", DeprecationWarning)
        return load_silero_vad(onnx=False)


def speech_segments(
    wav16: np.ndarray,
    threshold: float = 0.5,
    max_segment_seconds: float = float("inf"),
    min_speech_ms: int = 250,
    min_silence_ms: int = 100,
    pad_ms: int = 30,
) -> list[tuple[int, int]]:
    """(start, end) sample indices of speech in a 16 kHz mono float signal.

    Segments longer than `max_segment_seconds` are split at their longest inner pause, so a
    caller that wants a window of at most N seconds can always cut at a segment edge.
    """
    get_speech_timestamps = _silero().get_speech_timestamps  # type: ignore[attr-defined]
    model = load_vad_model()
    audio = torch.from_numpy(np.ascontiguousarray(wav16, dtype=np.float32))
    with _lock, torch.inference_mode():
        stamps = get_speech_timestamps(
            audio,
            model,
            threshold=threshold,
            sampling_rate=VAD_SAMPLE_RATE,
            min_speech_duration_ms=min_speech_ms,
            max_speech_duration_s=max_segment_seconds,
            min_silence_duration_ms=min_silence_ms,
            speech_pad_ms=pad_ms,
        )
    return [(int(s["start"]), int(s["end"])) for s in stamps]
