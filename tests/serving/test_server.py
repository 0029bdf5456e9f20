"""The OpenAI-compatible server, driven by the official `openai` client and by httpx."""

import argparse
import io
import struct
import threading
import time

import httpx
import numpy as np
import openai
import pytest
import soundfile as sf

from tts.server import BackgroundServer, ServerConfig, create_app, wav_stream_header
from tts.synthesizer import Synthesizer


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def speech(**overrides):
    body = {"model": "tts-1", "input": "Hello there.", "voice": "default", "seed": 1}
    body.update(overrides)
    return body


def assert_error(response, status, param=None, code=None):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if param is not None:
        assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    return error


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "opus"])
def test_openai_client_gets_decodable_audio(client, fmt):
    response = client.audio.speech.create(
        model="tts-1", voice="default", input="Hello there. How are you?", response_format=fmt
    )
    wav, sr = sf.read(io.BytesIO(response.content), dtype="float32")
    assert sr == 24000 and wav.ndim == 1
    assert 0.3 < len(wav) / sr < 5  # a random tiny LM says two short capped sentences
    assert np.all(np.isfinite(wav)) and np.abs(wav).max() > 1e-3


def test_openai_defaults_and_preset_voice_names(client):
    # no response_format: OpenAI's default, mp3; "alloy" maps to the model's own voice
    response = client.audio.speech.create(model="gpt-4o-mini-tts", voice="alloy", input="Hi.")
    assert response.response.headers["content-type"] == "audio/mpeg"
    wav, sr = sf.read(io.BytesIO(response.content))
    assert sr == 24000 and len(wav) > 0


def test_pcm_is_16_bit_mono_and_the_seed_reproduces(http):
    a = http.post("/v1/audio/speech", json=speech(response_format="pcm", seed=5))
    b = http.post("/v1/audio/speech", json=speech(response_format="pcm", seed=5))
    wav_response = http.post("/v1/audio/speech", json=speech(response_format="wav", seed=5))
    assert a.status_code == 200 and a.headers["x-sample-rate"] == "24000"
    assert len(a.content) % 2 == 0 and a.content == b.content
    pcm = np.frombuffer(a.content, "<i2")
    wav, _ = sf.read(io.BytesIO(wav_response.content), dtype="int16")
    # the same samples in both containers (the watermark is deterministic too)
    np.testing.assert_allclose(pcm, wav, atol=1)
    assert float(a.headers["x-audio-seconds"]) == pytest.approx(len(pcm) / 24000, abs=1e-3)
    # where the time went, stage by stage, within the request's processing time
    stages = dict(part.split("=") for part in a.headers["x-stage-seconds"].split(";"))
    assert {"prepare", "lm", "decode", "finish"} <= set(stages)
    assert sum(map(float, stages.values())) <= float(a.headers["x-processing-seconds"]) + 0.005


@pytest.mark.parametrize("speed", [0.25, 4.0])
def test_openai_speed_range_stretches_the_same_speech(http, speed):
    base = http.post("/v1/audio/speech", json=speech(response_format="pcm", seed=5))
    r = http.post("/v1/audio/speech", json=speech(response_format="pcm", seed=5, speed=speed))
    assert r.status_code == 200, r.text
    ratio = len(r.content) / len(base.content)
    assert ratio == pytest.approx(1 / speed, rel=0.05)


def test_language_is_detected_when_not_given(http):
    ja = http.post("/v1/audio/speech", json=speech(input="こんにちは。", response_format="wav"))
    de = http.post("/v1/audio/speech", json=speech(input="Grüß dich!", response_format="wav"))
    given = http.post("/v1/audio/speech", json=speech(input="Hallo.", language="de-DE"))
    assert (ja.headers["x-language"], de.headers["x-language"]) == ("ja", "de")
    assert given.headers["x-language"] == "de"


def test_streaming_pcm_arrives_in_chunks_and_matches_one_shot_length(client, http):
    text = "First sentence here. A second one follows. And a third."
    with client.audio.speech.with_streaming_response.create(
        model="tts-1",
        voice="default",
        input=text,
        response_format="pcm",
        extra_body={"stream": True, "seed": 3},
    ) as response:
        assert response.headers["transfer-encoding"] == "chunked"
        chunks = list(response.iter_bytes())
    assert len(chunks) >= 2
    streamed = np.frombuffer(b"".join(chunks), "<i2")
    one_shot = http.post("/v1/audio/speech", json=speech(input=text, response_format="pcm", seed=3))
    # the same frames; only the per-piece watermark differs
    assert len(streamed) == len(one_shot.content) // 2


def test_streaming_wav_has_an_open_ended_header_and_decodes(http):
    with http.stream(
        "POST", "/v1/audio/speech", json=speech(response_format="wav", stream=True)
    ) as r:
        assert r.status_code == 200
        data = r.read()
    assert data[:44] == wav_stream_header(24000)
    assert struct.unpack("<I", data[40:44])[0] == 0xFFFFFFFF
    samples = np.frombuffer(data[44:], "<i2")
    assert samples.size > 0 and np.abs(samples).max() > 0


def test_server_sent_events(http):
    import base64
    import json

    with http.stream(
        "POST", "/v1/audio/speech", json=speech(response_format="pcm", stream_format="sse")
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert deltas and events[-1]["type"] == "speech.audio.done"
    audio = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert events[-1]["audio_seconds"] == pytest.approx(len(audio) / 2 / 24000)


def test_streaming_input_errors_still_get_a_400(http):
    r = http.post("/v1/audio/speech", json=speech(input="!!!", stream=True, response_format="pcm"))
    assert_error(r, 400, "input", "invalid_input")


@pytest.mark.parametrize(
    ("overrides", "status", "param", "code"),
    [
        ({"voice": "nobody"}, 400, "voice", "voice_not_found"),
        ({"speed": 0.2}, 422, "speed", "validation_error"),
        ({"speed": 9.0}, 422, "speed", "validation_error"),
        ({"response_format": "aac"}, 400, "response_format", "unsupported_format"),
        ({"response_format": "mp3", "stream": True}, 400, "response_format", None),
        ({"input": "x" * 4097}, 400, "input", "input_too_long"),
        ({"input": ""}, 422, "input", "validation_error"),
        ({"input": "🙂🙂"}, 400, "input", "invalid_input"),
        ({"language": "fr"}, 400, "language", "unsupported_language"),
        ({"emotion": "bored"}, 400, "emotion", "unsupported_emotion"),
        ({"intensity": -1}, 422, "intensity", None),
        ({"seed": "abc"}, 422, "seed", None),
        ({"instructions": "whisper"}, 422, "instructions", None),
    ],
)
def test_bad_requests_get_typed_openai_errors(http, overrides, status, param, code):
    assert_error(http.post("/v1/audio/speech", json=speech(**overrides)), status, param, code)


def test_malformed_and_oversized_bodies(http):
    bad_json = http.post(
        "/v1/audio/speech", content=b'{"model": ', headers={"content-type": "application/json"}
    )
    assert_error(bad_json, 422, code="validation_error")
    assert_error(http.post("/v1/audio/speech", json=[1, 2]), 422)
    huge = http.post("/v1/audio/speech", json=speech(input="a" * 300_000))
    assert_error(huge, 413, code="payload_too_large")
    assert_error(http.get("/v1/nothing-here"), 404)
    assert_error(http.get("/v1/audio/speech"), 405)


def test_the_openai_client_raises_its_typed_errors(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.audio.speech.create(model="tts-1", voice="nobody", input="Hello.")
    assert "unknown voice 'nobody'" in info.value.message
    assert info.value.body["param"] == "voice"


def test_voice_upload_list_use_delete(http, clip_wav_bytes):
    files = {"file": ("me.wav", clip_wav_bytes, "audio/wav")}
    created = http.post("/v1/voices", files=files, data={"name": "Aiko", "consent": "true"})
    assert created.status_code == 201, created.text
    voice = created.json()
    assert voice["name"] == "Aiko" and voice["id"].startswith("voice_")
    assert voice["speech_seconds"] >= 2.0

    listed = http.get("/v1/voices").json()["data"]
    assert {"id": "default", "object": "voice", "name": "default", "source": "model"} in listed
    assert any(v["id"] == voice["id"] for v in listed)

    kw = dict(response_format="pcm", seed=9)
    by_id = http.post("/v1/audio/speech", json=speech(voice=voice["id"], **kw))
    by_name = http.post("/v1/audio/speech", json=speech(voice="Aiko", **kw))
    built_in = http.post("/v1/audio/speech", json=speech(voice="default", **kw))
    assert by_id.status_code == 200 and by_id.content == by_name.content
    assert by_id.content != built_in.content  # another speaker embedding, other codes

    duplicate = http.post("/v1/voices", files=files, data={"name": "Aiko", "consent": "true"})
    assert_error(duplicate, 400, "name")

    assert http.delete(f"/v1/voices/{voice['id']}").json()["deleted"] is True
    assert_error(http.post("/v1/audio/speech", json=speech(voice="Aiko")), 400, "voice")
    assert_error(http.delete(f"/v1/voices/{voice['id']}"), 404)


def test_voice_upload_errors(http, clip_wav_bytes, server):
    files = {"file": ("me.wav", clip_wav_bytes, "audio/wav")}
    assert_error(http.post("/v1/voices", files=files, data={"name": "x"}), 400, "consent")
    no = http.post("/v1/voices", files=files, data={"name": "x", "consent": "false"})
    assert_error(no, 400, "consent", "consent_required")
    garbage = {"file": ("a.wav", b"RIFF not really audio" * 10, "audio/wav")}
    bad = http.post("/v1/voices", files=garbage, data={"name": "x", "consent": "true"})
    assert "unreadable reference audio" in assert_error(bad, 400, "file")["message"]
    silence = io.BytesIO()
    sf.write(silence, np.zeros(16000 * 4, np.float32), 16000, format="WAV")
    quiet = {"file": ("s.wav", silence.getvalue(), "audio/wav")}
    r = http.post("/v1/voices", files=quiet, data={"name": "x", "consent": "true"})
    assert "no speech" in assert_error(r, 400, "file", "invalid_reference_audio")["message"]
    big = {"file": ("big.wav", b"\0" * (11 * 2**20), "audio/wav")}
    assert_error(http.post("/v1/voices", files=big, data={"name": "x", "consent": "1"}), 413)
    assert_error(http.post("/v1/voices", data={"name": "x", "consent": "true"}), 422, "file")
    long_name = http.post("/v1/voices", files=files, data={"name": "n" * 65, "consent": "true"})
    assert_error(long_name, 400, "name")
    taken = http.post("/v1/voices", files=files, data={"name": "default", "consent": "true"})
    assert_error(taken, 400, "name", "voice_exists")
    # ids are checked before any path is built: traversal attempts are plain 404s / 400s
    for voice_id in ["..", "voice_../../etc", "voice_0123456789abcdeg", "%2e%2e%2fconfig"]:
        assert http.delete(f"/v1/voices/{voice_id}").status_code in (400, 404, 405)
    assert_error(http.delete("/v1/voices/default"), 400, code="model_voice")
    assert all(v["source"] == "model" for v in http.get("/v1/voices").json()["data"])


def test_queue_full_gives_503_and_the_loop_stays_responsive(bundle_dir, tmp_path):
    synth = Synthesizer.from_pretrained(bundle_dir, device="cpu")
    entered, release = threading.Event(), threading.Event()
    original = synth.synthesize

    def slow_synthesize(*args, **kwargs):  # hold the replica until the test lets go
        entered.set()
        release.wait(30)
        return original(*args, **kwargs)

    synth.synthesize = slow_synthesize
    app = create_app(synth, tmp_path, ServerConfig(workers=1, max_queue=1))
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        results = {}

        def call(name):
            results[name] = http.post("/v1/audio/speech", json=speech(response_format="wav"))

        first = threading.Thread(target=call, args=("first",))
        first.start()
        assert entered.wait(30)  # the first request holds the only replica
        second = threading.Thread(target=call, args=("second",))
        second.start()
        deadline = time.monotonic() + 10
        while http.get("/health").json()["waiting"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.perf_counter()
        health = http.get("/health")  # answered while a synthesis is in progress
        assert health.status_code == 200 and time.perf_counter() - started < 1.0
        busy = http.post("/v1/audio/speech", json=speech(response_format="wav"))
        error = assert_error(busy, 503, code="server_overloaded")
        assert busy.headers["retry-after"] == "1" and error["type"] == "server_error"
        release.set()
        first.join(30)
        second.join(30)
    assert results["first"].status_code == 200 and results["second"].status_code == 200


def test_two_workers_serve_in_parallel_with_identical_results(bundle_dir, tmp_path):
    synth = Synthesizer.from_pretrained(bundle_dir, device="cpu")
    app = create_app(synth, tmp_path, ServerConfig(workers=2, max_queue=2))
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        results = [None] * 4

        def call(i):
            results[i] = http.post("/v1/audio/speech", json=speech(response_format="pcm", seed=4))

        threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert all(r.status_code == 200 for r in results)
    assert len({r.content for r in results}) == 1  # replicas are exact copies


def test_a_client_leaving_mid_stream_frees_the_model(server):
    text = " ".join(f"This is sentence number {n}." for n in range(1, 9))
    with httpx.Client(base_url=server.url, timeout=30) as http:
        with http.stream(
            "POST", "/v1/audio/speech", json=speech(input=text, response_format="pcm", stream=True)
        ) as r:
            first = next(r.iter_bytes())
            assert len(first) > 0  # leave after the first chunk
        # the only replica must come back: the next request is served, not queued forever
        after = http.post("/v1/audio/speech", json=speech(response_format="wav"))
        assert after.status_code == 200
        assert http.get("/health").json()["waiting"] == 0


def test_label_prosody_can_be_turned_off(http):
    """The emotion label's tempo (the random bundle's codec: a loudness-keeping stretch) is
    applied by default and not with `label_prosody: false`; the LM output is the same."""
    body = speech(response_format="pcm", seed=5, emotion="whisper", intensity=1.0)
    labelled = http.post("/v1/audio/speech", json=body)
    lm_only = http.post("/v1/audio/speech", json={**body, "label_prosody": False})
    assert labelled.status_code == lm_only.status_code == 200, labelled.text
    assert len(labelled.content) / len(lm_only.content) == pytest.approx(1 / 0.95, rel=0.02)
    bad = http.post("/v1/audio/speech", json={**body, "label_prosody": "sometimes"})
    assert bad.status_code == 422


def test_speaker_contrast_is_a_checked_request_option(http):
    """The test model has no speaker contrast: 0 (off) is served, any other strength is the
    caller's error (400), and a negative one fails validation (422)."""
    body = speech(response_format="pcm", seed=5)
    off = http.post("/v1/audio/speech", json={**body, "speaker_contrast": 0})
    plain = http.post("/v1/audio/speech", json=body)
    assert off.status_code == plain.status_code == 200, off.text
    assert off.content == plain.content
    error = assert_error(http.post("/v1/audio/speech", json={**body, "speaker_contrast": 1.5}), 400)
    assert "no speaker contrast" in error["message"]
    assert http.post("/v1/audio/speech", json={**body, "speaker_contrast": -1}).status_code == 422


def test_serve_warms_the_model_up_before_listening_unless_told_not_to(synth, monkeypatch):
    """`tts serve` pays the first request's one-time costs at start (`Synthesizer.warm_up`),
    on a thread that ends; `--no-warm-up` starts listening at once."""
    import uvicorn

    from tts import server as server_module

    events, loaded_on = [], []

    def load(cls, *args, **kwargs):
        loaded_on.append(threading.current_thread())
        return synth

    monkeypatch.setattr(Synthesizer, "from_pretrained", classmethod(load))
    monkeypatch.setattr(synth, "warm_up", lambda *a, **k: events.append("warm") or 0.0)
    monkeypatch.setattr(uvicorn, "run", lambda app, **k: events.append("listen"))
    parser = server_module.add_serve_arguments(argparse.ArgumentParser())
    server_module.run_serve(parser.parse_args([]))
    assert events == ["warm", "listen"]
    # loaded on a thread that has ended, not on this one, which lives on (tts.threads)
    assert loaded_on[0] is not threading.current_thread() and not loaded_on[0].is_alive()
    events.clear()
    server_module.run_serve(parser.parse_args(["--no-warm-up"]))
    assert events == ["listen"]
