"""Hypothesis fuzzing of the server: odd bodies and odd uploads get typed 4xx, never a 500."""

import io
import json

import httpx
import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
fields = {
    "model": st.one_of(st.sampled_from(["tts-1", "koe-tts", ""]), junk),
    "input": st.one_of(st.text(max_size=120), junk),
    "voice": st.one_of(
        st.sampled_from(["default", "alloy", "nobody", "voice_0000000000000000"]), junk
    ),
    "response_format": st.one_of(
        st.sampled_from(["wav", "pcm", "mp3", "flac", "opus", "aac"]), junk
    ),
    "speed": st.one_of(st.floats(0.1, 5.0), junk),
    "language": st.one_of(st.sampled_from(["ja", "en", "ko", "vi", "de", "fr", "EN-us"]), junk),
    "emotion": st.one_of(st.sampled_from(["happy", "sad", "angry", "bored"]), junk),
    "intensity": st.one_of(st.floats(-1, 5), junk),
    "seed": st.one_of(st.integers(-5, 2**63), junk),
    "stream": st.one_of(st.booleans(), junk),
    "stream_format": st.one_of(st.sampled_from(["audio", "sse", "x"]), junk),
}
required = ("model", "input", "voice")
bodies = st.fixed_dictionaries(
    {k: fields[k] for k in required},
    optional={**{k: v for k, v in fields.items() if k not in required}, "extra": junk},
)


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def check(response: httpx.Response, ok: tuple[int, ...]) -> None:
    assert response.status_code in ok, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["message"] and error["type"] == "invalid_request_error"


@FUZZ
@given(body=bodies)
def test_json_bodies_never_crash_the_server(http, body):
    content = json.dumps(body, allow_nan=True).encode()  # NaN/Infinity literals included
    response = http.post(
        "/v1/audio/speech", content=content, headers={"content-type": "application/json"}
    )
    check(response, (200, 400, 413, 422))
    if response.status_code == 200:
        assert len(response.content) > 0


@FUZZ
@given(
    raw=st.binary(max_size=300),
    content_type=st.sampled_from(["application/json", "text/plain", ""]),
)
def test_raw_bytes_never_crash_the_server(http, raw, content_type):
    headers = {"content-type": content_type} if content_type else {}
    check(http.post("/v1/audio/speech", content=raw, headers=headers), (400, 413, 422))


def _wav(samples: np.ndarray, sr: int, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "FLAC" and (samples.shape[1] > 8 or sr < 1_000 * 8):
        fmt = "WAV"  # FLAC holds at most 8 channels; keep odd rates in WAV
    sf.write(buf, samples, sr, format=fmt)
    return buf.getvalue()


uploads = st.one_of(
    st.binary(max_size=2000),
    # real containers with odd contents: short, silent, loud noise, many channels, odd rates
    st.builds(
        lambda n, ch, sr, scale, fmt: _wav(
            (np.random.default_rng(n).standard_normal((n, ch)) * scale).astype(np.float32),
            sr,
            fmt,
        ),
        st.integers(1, 48_000),
        st.integers(1, 20),
        st.sampled_from([1_000, 8_000, 16_000, 44_100]),
        st.sampled_from([0.0, 1e-6, 0.3, 10.0]),
        st.sampled_from(["WAV", "FLAC"]),
    ),
    # a valid header followed by garbage
    st.builds(lambda tail: _wav(np.zeros(100, np.float32), 16_000, "WAV")[:44] + tail, st.binary()),
)


@settings(FUZZ, max_examples=40)
@given(data=uploads, name=st.text(max_size=80), consent=st.sampled_from(["true", "1", "no", ""]))
def test_voice_uploads_never_crash_the_server(http, data, name, consent):
    response = http.post(
        "/v1/voices",
        files={"file": ("clip.wav", data, "application/octet-stream")},
        data={"name": name, "consent": consent},
    )
    check(response, (201, 400, 413, 422))
    if response.status_code == 201:  # noise can pass as speech now and then: clean up
        assert http.delete(f"/v1/voices/{response.json()['id']}").status_code == 200
