"""An OpenAI-compatible speech server: `POST /v1/audio/speech` plus a voice registry.

    tts serve --model DIR --host 127.0.0.1 --port 8000 --data-dir DIR
    curl -s localhost:8000/v1/audio/speech -H 'content-type: application/json' \
         -d '{"model": "koe-tts", "input": "Hello!", "voice": "default"}' -o hello.mp3

Endpoints
    POST   /v1/audio/speech   OpenAI's body (model, input, voice, response_format, speed) plus
                              language, emotion, intensity, pitch_range, label_prosody,
                              speaker_contrast, seed, stream, stream_format
    POST   /v1/voices         multipart: file, name, consent=true -> a voice id
    GET    /v1/voices         registered voices and the model's own stored voices
    DELETE /v1/voices/{id}    remove a registered voice
    GET    /v1/models, /health

Design choices
- One synthesis per model replica at a time: the LM keeps its KV cache on its modules, so a
  replica is never shared by two requests. `workers` replicas (deep copies) serve in parallel;
  up to `max_queue` more requests wait; beyond that the answer is 503 at once. The work runs in
  a thread pool so the event loop keeps answering (health checks, 503s, uploads).
- speed: OpenAI's range 0.25-4.0. The synthesizer time-stretches the joined audio (phase
  vocoder) and embeds the watermark after stretching, so the mark survives every speed.
- response_format defaults to mp3 as in OpenAI's API (wav where libsndfile lacks mp3); aac is
  not available (no encoder in libsndfile) and gets a 400. Streaming (`stream: true` or a
  `stream_format`) sends pcm or wav (default: a header with open-ended sizes, then samples) as
  chunked transfer, or as server-sent events with `stream_format: "sse"`.
- Every response is watermarked. Errors have OpenAI's shape
  {"error": {"message", "type", "param", "code"}}.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import copy
import io
import json
import logging
import resource
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile as sf
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from tts.audio import resample
from tts.codecs.source_filter import MAX_PITCH_RANGE, MIN_PITCH_RANGE
from tts.errors import (
    AudioInputError,
    ConditioningError,
    ConfigError,
    ReferenceAudioError,
    TextError,
    UnsupportedLanguageError,
)
from tts.labels import MAX_INTENSITY, UnsupportedEmotionError, check_language
from tts.langdetect import detect_language
from tts.speakers import load_reference
from tts.synthesizer import MAX_SPEED, MIN_SPEED, Synthesizer
from tts.threads import in_fresh_thread
from tts.voices import VOICE_ID, VoiceNotFoundError, VoiceStore

log = logging.getLogger("tts.server")

# OpenAI's preset voice names; with `alias_openai_voices` they mean the model's first voice,
# so clients written for OpenAI work unchanged.
OPENAI_VOICES = frozenset(
    [
        "alloy",
        "ash",
        "ballad",
        "coral",
        "echo",
        "fable",
        "onyx",
        "nova",
        "sage",
        "shimmer",
        "verse",
        "marin",
        "cedar",
    ]
)
INPUT_ERRORS = (TextError, AudioInputError, ConfigError, ConditioningError, UnsupportedEmotionError)


@dataclass
class ServerConfig:
    model_name: str = "koe-tts"  # what /v1/models lists; any model name in a request is accepted
    max_input_chars: int = 4096
    max_upload_bytes: int = 10 * 2**20  # voice clips
    max_json_bytes: int = 256 * 2**10  # other request bodies
    workers: int = 1  # model replicas synthesising at once
    max_queue: int = 8  # requests allowed to wait for a replica; more get 503
    alias_openai_voices: bool = True


# ----- OpenAI-shaped errors -------------------------------------------------------------------


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = (
            status,
            message,
            param,
            code,
            kind,
        )


def error_response(
    status: int,
    message: str,
    param: str | None = None,
    code: str | None = None,
    kind: str = "invalid_request_error",
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _input_error(exc: Exception) -> ApiError:
    """Map a typed toolkit error to a 400 naming the request field it concerns."""
    if isinstance(exc, UnsupportedLanguageError):
        param, code = "language", "unsupported_language"
    elif isinstance(exc, TextError):
        param, code = "input", "invalid_input"
    elif isinstance(exc, ReferenceAudioError):
        param, code = "file", "invalid_reference_audio"
    elif isinstance(exc, UnsupportedEmotionError):
        param, code = "emotion", "unsupported_emotion"
    elif isinstance(exc, VoiceNotFoundError):
        param, code = "voice", "voice_not_found"
    else:
        param, code = None, "invalid_value"
    return ApiError(400, str(exc), param, code)


# ----- request bodies and audio formats ---------------------------------------------------------


class SpeechRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=200)
    input: str = Field(min_length=1)
    voice: str = Field(min_length=1, max_length=200)
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] | None = None
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED, allow_inf_nan=False)
    # extensions
    language: str | None = Field(None, max_length=16)  # None: detected from the text
    emotion: str | None = Field(None, max_length=32)
    intensity: float | None = Field(None, ge=0.0, le=MAX_INTENSITY, allow_inf_nan=False)
    pitch_range: float | None = Field(
        None, ge=MIN_PITCH_RANGE, le=MAX_PITCH_RANGE, allow_inf_nan=False
    )
    label_prosody: bool = True  # False: the emotion from the LM alone (no range, tempo, gain)
    # how far a registered voice is pushed from the training voices (None: the model's; 0: off)
    speaker_contrast: float | None = Field(None, ge=0.0, le=10.0, allow_inf_nan=False)
    seed: int | None = Field(None, ge=0, lt=2**62)
    stream: bool = False
    stream_format: Literal["audio", "sse"] | None = None


# response_format -> (libsndfile format, subtype, media type); pcm is written by hand
FORMATS: dict[str, tuple[str, str, str]] = {
    "wav": ("WAV", "PCM_16", "audio/wav"),
    "flac": ("FLAC", "PCM_16", "audio/flac"),
    "mp3": ("MP3", "MPEG_LAYER_III", "audio/mpeg"),
    "opus": ("OGG", "OPUS", "audio/ogg"),
}
OPUS_RATES = (8_000, 12_000, 16_000, 24_000, 48_000)
STREAM_FORMATS = ("pcm", "wav")


def available_formats() -> list[str]:
    """response_format values this installation can encode."""
    names = ["pcm"]
    for name, (fmt, subtype, _) in FORMATS.items():
        if fmt in sf.available_formats() and subtype in sf.available_subtypes(fmt):
            names.append(name)
    return names


def pcm16(wav: np.ndarray) -> bytes:
    return np.round(np.clip(wav, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def encode_audio(wav: np.ndarray, sample_rate: int, response_format: str) -> bytes:
    if response_format == "pcm":
        return pcm16(wav)
    fmt, subtype, _ = FORMATS[response_format]
    if response_format == "opus" and sample_rate not in OPUS_RATES:
        wav, sample_rate = resample(wav, sample_rate, 48_000), 48_000
    buf = io.BytesIO()
    sf.write(buf, np.clip(wav, -1.0, 1.0), sample_rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def wav_stream_header(sample_rate: int) -> bytes:
    """A 16-bit mono WAV header whose sizes say 'unknown' (0xFFFFFFFF), for streaming."""
    unknown = 0xFFFFFFFF
    return (
        b"RIFF"
        + struct.pack("<I", unknown)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", unknown)
    )


def media_type(response_format: str, sample_rate: int) -> str:
    if response_format == "pcm":
        return f"audio/L16; rate={sample_rate}; channels=1"
    return FORMATS[response_format][2]


# ----- replicas and the waiting queue ------------------------------------------------------------


class ServerBusyError(Exception):
    pass


class ReplicaPool:
    """Hands out model replicas one request at a time; bounded waiting, else ServerBusyError."""

    def __init__(self, replicas: list[Synthesizer], max_queue: int) -> None:
        self.replicas = replicas
        self.max_queue = max_queue
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=len(replicas), thread_name_prefix="synth"
        )
        self._free: asyncio.Queue[Synthesizer] | None = None
        self.waiting = 0

    def start(self) -> None:  # inside the server's event loop
        self._free = asyncio.Queue()
        for replica in self.replicas:
            self._free.put_nowait(replica)

    async def lease(self) -> Lease:
        assert self._free is not None, "ReplicaPool.start() was not called"
        if self._free.empty() and self.waiting >= self.max_queue:
            raise ServerBusyError
        self.waiting += 1
        try:
            synth = await self._free.get()
        finally:
            self.waiting -= 1
        return Lease(self, synth, asyncio.get_running_loop())

    def give_back(self, synth: Synthesizer) -> None:
        assert self._free is not None
        self._free.put_nowait(synth)


class Lease:
    """One replica held by one request. Work runs on the pool's threads; the replica goes back
    only after the last piece of work on it has finished, even when the client went away."""

    def __init__(self, pool: ReplicaPool, synth: Synthesizer, loop: asyncio.AbstractEventLoop):
        self.pool, self.synth, self.loop = pool, synth, loop
        self.cleanups: list[Callable[[], None]] = []
        self._busy: concurrent.futures.Future | None = None
        self._released = False

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        self._busy = self.pool.executor.submit(fn, *args)
        return await asyncio.wrap_future(self._busy)

    def release(self) -> None:
        if self._released:
            return
        self._released = True

        def finish() -> None:
            for cleanup in reversed(self.cleanups):
                cleanup()
            self.pool.give_back(self.synth)

        busy = self._busy
        if busy is not None and not busy.done():  # the thread still runs: wait for it
            busy.add_done_callback(lambda _: self.loop.call_soon_threadsafe(finish))
        else:
            finish()


# ----- the app ------------------------------------------------------------------------------------


class BodyLimit:
    """ASGI middleware: reject request bodies over the limit with 413 before the app sees them
    (checked on Content-Length and on the bytes actually received, for chunked uploads)."""

    def __init__(self, app: Any, limit_for: Callable[[str], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope["path"])
        too_big = error_response(
            413, f"request body is larger than {limit} bytes", code="payload_too_large"
        )
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return await too_big(scope, receive, send)
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > limit:
                return await too_big(scope, receive, send)
            if not message.get("more_body", False):
                break

        async def replay() -> dict:
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)


def create_app(
    synth: Synthesizer, data_dir: str | Path, config: ServerConfig | None = None
) -> FastAPI:
    """The FastAPI app serving `synth` (and `config.workers - 1` deep copies of it)."""
    config = config or ServerConfig()
    if config.workers < 1 or config.max_queue < 0:
        raise ConfigError("workers must be >= 1 and max_queue >= 0")
    replicas = [synth] + [copy.deepcopy(synth) for _ in range(config.workers - 1)]
    pool = ReplicaPool(replicas, config.max_queue)
    store = VoiceStore(data_dir)
    formats = available_formats()
    default_format = "mp3" if "mp3" in formats else "wav"
    upload_lock = threading.Lock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool.start()
        yield
        pool.executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="koe-tts", version="0.1.0", lifespan=lifespan)
    app.state.config, app.state.pool, app.state.store = config, pool, store

    def body_limit(path: str) -> int:
        if path.rstrip("/") == "/v1/voices":
            return config.max_upload_bytes + 64 * 1024  # the clip plus multipart framing
        return config.max_json_bytes

    app.add_middleware(BodyLimit, limit_for=body_limit)

    # -- errors --
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"Retry-After": "1"} if exc.status == 503 else None
        return error_response(exc.status, exc.message, exc.param, exc.code, exc.kind, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()

        def where(error: dict) -> str:  # field names: drop "body"/"path" and JSON positions
            names = [p for p in error.get("loc", ()) if isinstance(p, str)][1:]
            return ".".join(names)

        param = where(errors[0]) or None if errors else None
        message = "; ".join(f"{where(e) or 'body'}: {e.get('msg', '')}" for e in errors[:5])
        return error_response(422, message or "invalid request", param, "validation_error")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return error_response(exc.status_code, str(exc.detail), None, code, kind)

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s", request.url.path)
        return error_response(
            500, f"internal error: {type(exc).__name__}", None, "internal_error", "server_error"
        )

    async def lease() -> Lease:
        try:
            return await pool.lease()
        except ServerBusyError:
            raise ApiError(
                503,
                f"server busy: {config.workers} synthesising and {config.max_queue} waiting; "
                "retry shortly",
                code="server_overloaded",
                kind="server_error",
            ) from None

    # -- speech --
    def resolve_voice(voice: str, synth: Synthesizer) -> tuple[str, Any]:
        """(key in synth.voices to use, embedding to insert there or None)."""
        record = store.find(voice)
        if record is not None:
            if record.encoder != synth.speaker_encoder.identity:
                raise ApiError(
                    400,
                    f"voice {record.id!r} was made with speaker encoder {record.encoder!r}; this "
                    "model uses another one. Upload the clip again",
                    "voice",
                    "voice_encoder_mismatch",
                )
            return record.id, store.embedding(record.id)
        if voice in synth.voices:
            return voice, None
        if config.alias_openai_voices and voice in OPENAI_VOICES and synth.voices:
            return next(iter(synth.voices)), None
        known = [r.name for r in store.list()] + list(synth.voices)
        raise ApiError(
            400,
            f"unknown voice {voice!r}; register one with POST /v1/voices, or use one of: "
            f"{', '.join(known) or '(none)'}",
            "voice",
            "voice_not_found",
        )

    def check_request(body: SpeechRequest) -> tuple[str, str, str]:
        """Validate what pydantic cannot: returns (text, language, response_format)."""
        if len(body.input) > config.max_input_chars:
            raise ApiError(
                400,
                f"input is {len(body.input)} characters; the limit is {config.max_input_chars}",
                "input",
                "input_too_long",
            )
        streaming = body.stream or body.stream_format is not None
        # unnamed format: OpenAI's mp3 for whole clips; wav (self-describing) for streams
        response_format = body.response_format or ("wav" if streaming else default_format)
        if response_format not in formats:
            raise ApiError(
                400,
                f"response_format {response_format!r} is not available here; use one of "
                f"{', '.join(formats)}",
                "response_format",
                "unsupported_format",
            )
        if streaming and response_format not in STREAM_FORMATS:
            raise ApiError(
                400,
                f"streaming sends {' or '.join(STREAM_FORMATS)}; got response_format "
                f"{response_format!r}",
                "response_format",
                "unsupported_stream_format",
            )
        try:
            language = check_language(body.language) if body.language else None
        except UnsupportedLanguageError as exc:
            raise _input_error(exc) from exc
        return body.input, language or detect_language(body.input), response_format

    @app.post("/v1/audio/speech", response_model=None)
    async def speech(body: SpeechRequest) -> Response:
        text, language, response_format = check_request(body)
        started = time.perf_counter()
        held = await lease()
        try:
            synth = held.synth
            key, embedding = resolve_voice(body.voice, synth)
            if embedding is not None:
                synth.voices[key] = embedding  # this replica is ours until released
                held.cleanups.append(lambda: synth.voices.pop(key, None))
            options = dict(
                reference=key,
                language=language,
                emotion=body.emotion,
                intensity=body.intensity,
                pitch_range=body.pitch_range,
                label_prosody=body.label_prosody,
                speaker_contrast=body.speaker_contrast,
                speed=body.speed,
                seed=body.seed,
            )
            if body.stream or body.stream_format is not None:
                pieces = synth.stream(text, **options)
                held.cleanups.append(pieces.close)
                try:  # the first piece runs the front end: input errors still get a 400
                    first = await held.run(next, pieces, None)
                except INPUT_ERRORS as exc:
                    raise _input_error(exc) from exc
                body_iter = _stream_body(held, pieces, first, response_format, body.stream_format)
                headers = {"X-Sample-Rate": str(synth.sample_rate), "X-Language": language}
                if body.stream_format == "sse":
                    return StreamingResponse(
                        body_iter, media_type="text/event-stream", headers=headers
                    )
                media = media_type(response_format, synth.sample_rate)
                return StreamingResponse(body_iter, media_type=media, headers=headers)
            try:
                audio = await held.run(lambda: synth.synthesize(text, **options))
            except INPUT_ERRORS as exc:
                raise _input_error(exc) from exc
            data = await held.run(encode_audio, audio.wav, audio.sample_rate, response_format)
        except BaseException:
            held.release()
            raise
        held.release()
        took = time.perf_counter() - started
        log.info("speech: %d chars, %.2f s audio in %.2f s", len(text), audio.duration, took)
        return Response(
            data,
            media_type=media_type(response_format, synth.sample_rate),
            headers={
                "X-Sample-Rate": str(synth.sample_rate),
                "X-Language": language,
                "X-Audio-Seconds": f"{audio.duration:.3f}",
                "X-Processing-Seconds": f"{took:.3f}",
                # where synthesis spent it (tts.timing), e.g. "prepare=0.002;lm=0.912;..."
                "X-Stage-Seconds": ";".join(f"{k}={v:.3f}" for k, v in audio.timings.items()),
            },
        )

    async def _stream_body(
        held: Lease,
        pieces: Iterator[np.ndarray],
        first: np.ndarray | None,
        response_format: str,
        stream_format: str | None,
    ) -> AsyncIterator[bytes]:
        sr = held.synth.sample_rate

        def event(payload: dict) -> bytes:
            return f"data: {json.dumps(payload)}\n\n".encode()

        def frame(data: bytes) -> bytes:
            if stream_format != "sse":
                return data
            return event({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()})

        try:
            if response_format == "wav":
                yield frame(wav_stream_header(sr))
            piece, samples = first, 0
            while piece is not None:
                samples += piece.size
                yield frame(pcm16(piece))
                piece = await held.run(next, pieces, None)
            if stream_format == "sse":
                yield event({"type": "speech.audio.done", "audio_seconds": samples / sr})
        except Exception as exc:  # headers are sent: all we can do is stop (and say why in SSE)
            log.exception("streaming failed")
            if stream_format == "sse":
                yield event({"type": "error", "error": {"message": str(exc)}})
        finally:
            held.release()

    # -- voices --
    def model_voices(synth: Synthesizer) -> list[dict]:
        return [
            {"id": name, "object": "voice", "name": name, "source": "model"}
            for name in synth.voices
        ]

    @app.get("/v1/voices")
    async def list_voices() -> dict:
        uploaded = [
            {
                "id": r.id,
                "object": "voice",
                "name": r.name,
                "source": "uploaded",
                "created": r.created,
                "speech_seconds": r.speech_seconds,
            }
            for r in store.list()
        ]
        return {"object": "list", "data": uploaded + model_voices(synth)}

    @app.post("/v1/voices", status_code=201)
    async def add_voice(
        file: UploadFile = File(...),
        name: str = Form(...),
        consent: str | None = Form(None),
    ) -> dict:
        if (consent or "").strip().lower() not in ("true", "1", "yes", "on"):
            raise ApiError(
                400,
                "consent=true is required: confirm that you have the right to use this voice",
                "consent",
                "consent_required",
            )
        if name.strip() in synth.voices:
            raise ApiError(
                400,
                f"{name!r} is one of the model's voices; pick another name",
                "name",
                "voice_exists",
            )
        data = await file.read(config.max_upload_bytes + 1)
        if len(data) > config.max_upload_bytes:
            raise ApiError(
                413,
                f"the clip is larger than {config.max_upload_bytes} bytes",
                "file",
                "payload_too_large",
            )
        if not data:
            raise ApiError(400, "the uploaded file is empty", "file", "invalid_reference_audio")
        held = await lease()  # embedding uses the model's encoders: take a replica
        try:

            def register() -> Any:
                with upload_lock:
                    clip = load_reference(bytes(data))
                    embedding = held.synth.speaker_encoder.embed_reference(clip, cache=None)
                    identity = held.synth.speaker_encoder.identity
                    return store.add(name, embedding, clip, identity)

            try:
                record = await held.run(register)
            except INPUT_ERRORS as exc:
                error = _input_error(exc)
                if error.param is None:
                    error.param = "name"
                raise error from exc
        finally:
            held.release()
        return {
            "id": record.id,
            "object": "voice",
            "name": record.name,
            "source": "uploaded",
            "created": record.created,
            "speech_seconds": record.speech_seconds,
        }

    @app.delete("/v1/voices/{voice_id}")
    async def delete_voice(voice_id: str) -> dict:
        if voice_id in synth.voices:
            raise ApiError(
                400,
                f"{voice_id!r} belongs to the model and cannot be deleted",
                "voice_id",
                "model_voice",
            )
        if not VOICE_ID.match(voice_id):
            raise ApiError(404, f"no voice {voice_id!r}", "voice_id", "voice_not_found")
        try:
            record = store.delete(voice_id)
        except VoiceNotFoundError as exc:
            raise ApiError(404, str(exc), "voice_id", "voice_not_found") from exc
        return {"id": record.id, "object": "voice", "deleted": True}

    # -- status --
    @app.get("/v1/models")
    async def models() -> dict:
        return {
            "object": "list",
            "data": [{"id": config.model_name, "object": "model", "owned_by": "koe-tts"}],
        }

    @app.get("/health")
    async def health() -> dict:
        return {
            "status": "ok",
            "model": config.model_name,
            "sample_rate": synth.sample_rate,
            "formats": formats,
            "workers": config.workers,
            "waiting": pool.waiting,
            # ru_maxrss is in KiB on Linux: the peak resident memory of this process
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }

    return app


# ----- running it -------------------------------------------------------------------------------


def serve(
    model: str | Path | None,
    host: str = "127.0.0.1",
    port: int = 8000,
    data_dir: str | Path = "tts-data",
    device: str | None = None,
    workers: int = 1,
    max_queue: int = 8,
    model_name: str = "koe-tts",
    log_level: str = "info",
    warm_up: bool = True,
) -> None:
    """Load the model and serve it until interrupted (what `tts serve` runs). `warm_up`: pay
    the first request's one-time costs before listening (`Synthesizer.warm_up`)."""
    import uvicorn

    config = ServerConfig(model_name=model_name, workers=workers, max_queue=max_queue)

    def load() -> FastAPI:
        synth = Synthesizer.from_pretrained(model, device=device)
        if warm_up:
            synth.warm_up()
        return create_app(synth, data_dir, config)  # (its replicas are copied here too)

    # Requests run on the pool's threads; a main thread that had loaded the model would keep
    # torch's thread pool and slow their LM ~1.5x (`tts.threads`), so load on a thread that ends.
    app = in_fresh_thread(load)
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: the API has no authentication; put it behind a proxy", host)
    uvicorn.run(app, host=host, port=port, log_level=log_level)


class BackgroundServer:
    """Run an app with uvicorn on a thread (tests, the load test): `with BackgroundServer(app)
    as server: httpx.get(server.url + "/health")`. Port 0 picks a free port."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self.server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.host = host
        self.url = ""

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{self.host}:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def add_serve_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--model", default=None, help="model directory or hub id")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--data-dir", default="tts-data", help="where uploaded voices are kept")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if any)")
    parser.add_argument(
        "--no-warm-up",
        dest="warm_up",
        action="store_false",
        help="start listening at once; the first request then loads what it needs (~1 s)",
    )
    parser.add_argument("--workers", type=int, default=1, help="model replicas in parallel")
    parser.add_argument("--max-queue", type=int, default=8, help="waiting requests before 503")
    parser.add_argument("--model-name", default="koe-tts", help="name listed by /v1/models")
    return parser


def run_serve(args: argparse.Namespace) -> int:
    """Entry point for `tts serve` (arguments from `add_serve_arguments`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    serve(
        args.model,
        args.host,
        args.port,
        args.data_dir,
        args.device,
        args.workers,
        args.max_queue,
        args.model_name,
        warm_up=args.warm_up,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = add_serve_arguments(argparse.ArgumentParser(prog="tts serve"))
    return run_serve(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

__all__ = [
    "BackgroundServer",
    "ServerConfig",
    "SpeechRequest",
    "add_serve_arguments",
    "available_formats",
    "create_app",
    "run_serve",
    "serve",
]
