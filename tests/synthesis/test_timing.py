"""tts.timing: seconds per synthesis stage, and their share of the real-time factor."""

from __future__ import annotations

import time

import pytest

from tts.timing import STAGES, StageClock, stage_rtf


def test_a_stage_entered_again_adds_to_its_total() -> None:
    clock = StageClock()
    for _ in range(2):
        with clock.stage("lm"):
            time.sleep(0.01)
    with clock.stage("decode"):
        pass
    assert set(clock.seconds) == {"lm", "decode"}
    assert clock.seconds["lm"] >= 0.02 and clock.seconds["decode"] < clock.seconds["lm"]


def test_a_stage_that_raises_still_counts() -> None:
    clock = StageClock()
    with pytest.raises(ValueError), clock.stage("read"):
        time.sleep(0.005)
        raise ValueError("bad take")
    assert clock.seconds["read"] >= 0.005


def test_stage_rtf_sums_calls_over_their_audio_in_stage_order() -> None:
    calls = [{"lm": 1.0, "decode": 0.5}, {"lm": 2.0, "voice": 0.5, "finish": 1.0}]
    rtf = stage_rtf(calls, audio_seconds=10.0)
    assert list(rtf) == list(STAGES)
    assert rtf == pytest.approx(
        {"prepare": 0.0, "lm": 0.3, "decode": 0.05, "read": 0.0, "voice": 0.05, "finish": 0.1}
    )
    assert stage_rtf(calls, audio_seconds=0.0) == {}
