"""Where one synthesis call spends its time, stage by stage (`Audio.timings`).

Why: on a CPU the LM's token generation is most of synthesis, and how much depends on the
machine (its memory bandwidth more than its cores: a decoding step multiplies a few rows by
every weight). A user who wants it faster needs to know which stage to cut: fewer takes
(`--candidates`) shortens "lm", "decode" and "read" together, the voice's choice ("voice")
runs only when the reader scores takes alike, and "finish" is mostly the watermark.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

# The stages `Synthesizer.synthesize` reports, in the order they run.
STAGES = ("prepare", "lm", "decode", "read", "voice", "finish")
STAGE_NAMES = {
    "prepare": "front end and conditioning",
    "lm": "token generation (all takes)",
    "decode": "codec decoding of takes",
    "read": "the reader scoring takes",
    "voice": "the speaker encoder choosing among close takes",
    "finish": "tempo, level and the watermark",
}


class StageClock:
    """Wall-clock seconds per named stage; a stage entered again adds to its total."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def stage_rtf(timings: Sequence[Mapping[str, float]], audio_seconds: float) -> dict[str, float]:
    """Summed seconds per stage over several calls, divided by the audio they made: each
    stage's share of the real-time factor, in `STAGES` order (stages never entered: 0)."""
    if audio_seconds <= 0:
        return {}
    return {s: sum(t.get(s, 0.0) for t in timings) / audio_seconds for s in STAGES}
