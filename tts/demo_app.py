"""The Gradio demo: clone a voice from a clip, pick language, emotion and speed, listen.

    tts demo --model DIR                    # http://127.0.0.1:7860, not shared
    demo = build_demo(Synthesizer.from_pretrained(DIR)); demo.launch()

Two buttons share one set of inputs: "Generate" returns the whole clip with a spectrogram and
timings; "Stream" plays audio while it is generated. Streamed playback in the browser needs
ffmpeg (Gradio re-encodes the chunks to AAC); without it the stream is shown as a clip that
grows with every chunk. Generation needs the consent box ticked whenever a voice clip is given.
The model serves one request at a time (its KV cache lives on the modules); others queue.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from tts.audio import encode_audio_bytes, save_audio
from tts.codecs.source_filter import MAX_PITCH_RANGE
from tts.errors import TTSError
from tts.generate import MaxLengthWarning
from tts.labels import EMOTIONS, LANGUAGE_NAMES, LANGUAGES
from tts.langdetect import detect_language
from tts.speakers import ReferenceAudioWarning
from tts.synthesizer import MAX_SPEED, MIN_SPEED, Synthesizer
from tts.threads import ModelThread, in_fresh_thread

AUTO = "auto"
CONSENT_LABEL = "I have the right to use this voice (it is mine, or its owner agreed)"
EXAMPLE_TEXTS: dict[str, str] = {
    "ja": "今日はとてもいい天気ですね。一緒に散歩に行きませんか。",
    "en": "The quick brown fox jumps over the lazy dog. What a lovely day!",
    "ko": "안녕하세요. 오늘 날씨가 정말 좋네요.",
    "vi": "Xin chào. Hôm nay trời đẹp quá, chúng ta đi dạo nhé.",
    "de": "Guten Morgen! Heute ist ein wunderschöner Tag für einen Spaziergang.",
}
STREAMING_PLAYBACK = shutil.which("ffmpeg") is not None


def to_int16(wav: np.ndarray) -> np.ndarray:
    """16-bit samples for Gradio (a float array would be rescaled to its peak: louder than made)."""
    return np.round(np.clip(wav, -1.0, 1.0) * 32767).astype(np.int16)


def spectrogram_figure(wav: np.ndarray, sample_rate: int) -> Figure:
    """Log-magnitude spectrogram of the output (a Figure, not pyplot: safe across threads)."""
    fig = Figure(figsize=(8, 2.6), layout="tight")
    ax = fig.add_subplot()
    if wav.size >= 1024:
        ax.specgram(wav, NFFT=1024, Fs=sample_rate, noverlap=768, cmap="magma")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    ax.set_title("spectrogram of the generated speech")
    return fig


def example_reference_clip(directory: str | Path | None = None) -> Path | None:
    """A Japanese reference clip made with pyopenjtalk (offline), or None if that fails."""
    try:
        import pyopenjtalk

        wav, sr = pyopenjtalk.tts("こんにちは。今日は声のクローンを試してみましょう。よろしくね。")
    except Exception:  # the example is a convenience: the demo works without it
        return None
    folder = Path(directory or tempfile.mkdtemp(prefix="koe-demo-"))
    path = folder / "example_reference_ja.wav"
    save_audio(path, (np.asarray(wav) / 32768.0).astype(np.float32), int(sr))
    return path


class DemoBackend:
    """The demo's logic without the UI: validation, synthesis, timings (tested directly)."""

    def __init__(self, synth: Synthesizer) -> None:
        self.synth = synth
        # Gradio runs each handler on whichever of its worker threads is free; the model's
        # work stays on one thread of its own, so that no second thread keeps a torch pool
        # that slows the LM (`tts.threads`).
        self.model_thread = ModelThread("tts-demo")

    def close(self) -> None:
        """End the model's thread (a backend that is not used again)."""
        self.model_thread.close()

    def options(
        self,
        reference: str | None,
        text: str,
        language: str,
        emotion: str,
        intensity: float,
        style_reference: str | None,
        speed: float,
        seed: float | None,
        temperature: float,
        top_k: float,
        top_p: float,
        cfg_scale: float,
        consent: bool,
        voice: str | None = None,
        intonation: float = 1.0,
    ) -> tuple[str, dict[str, Any]]:
        """Check the inputs (raising gr.Error with a clear message) -> (text, options)."""
        import gradio as gr

        text = (text or "").strip()
        if not text:
            raise gr.Error("Enter some text to speak.")
        if (reference or style_reference) and not consent:
            raise gr.Error("Tick the consent box: you must have the right to use this voice.")
        if not reference and not self.synth.voices:
            raise gr.Error("This model has no built-in voice: upload or record a reference clip.")
        if not reference and voice and voice not in self.synth.voices:
            raise gr.Error(f"Unknown built-in voice {voice!r}; pick one from the list.")
        language = detect_language(text) if language in (AUTO, None, "") else language
        try:
            # The sliders' settings; the rest (unit temperature, repetition) stay the model's.
            sampling = dataclasses.replace(
                self.synth.config.sampling,
                temperature=float(temperature),
                top_k=int(top_k),
                top_p=float(top_p),
                cfg_scale=float(cfg_scale),
            )
            # The slider multiplies the emotion's own F0 range (1 = as the emotion has it).
            pitch_range = None
            if float(intonation) != 1.0:
                if not self.synth.codec_controls_pitch:
                    raise gr.Error("This model's codec cannot change intonation: leave it at 1.")
                base = self.synth.pitch_range_for(
                    emotion or None, float(intensity), style_reference or None
                )
                pitch_range = min(base * float(intonation), MAX_PITCH_RANGE)
        except TTSError as exc:
            raise gr.Error(str(exc)) from exc
        return text, dict(
            reference=reference or voice or None,  # an uploaded clip wins over a built-in voice
            language=language,
            emotion=emotion or None,
            intensity=float(intensity),
            style_reference=style_reference or None,
            speed=float(speed),
            seed=None if seed is None or seed == "" else int(seed),
            sampling=sampling,
            pitch_range=pitch_range,
        )

    def generate(self, *inputs: Any) -> tuple[tuple[int, np.ndarray], Figure, str]:
        import gradio as gr

        text, options = self.options(*inputs)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                audio = self.model_thread.call(self.synth.synthesize, text, **options)
            except TTSError as exc:
                raise gr.Error(str(exc)) from exc
        took = time.perf_counter() - start
        _show_warnings(caught)
        lm = audio.timings.get("lm", 0.0)  # most of it on a CPU (tts.timing)
        timing = (
            f"{audio.duration:.2f} s of audio in {took:.2f} s (RTF {took / max(audio.duration, 1e-9):.3f}; "
            f"token generation {lm:.2f} s); language {options['language']}"
        )
        return (
            (audio.sample_rate, to_int16(audio.wav)),
            spectrogram_figure(audio.wav, audio.sample_rate),
            timing,
        )

    def stream(self, *inputs: Any) -> Iterator[tuple[Any, str]]:
        """Yield (audio update, timing text) per chunk: WAV bytes for a streaming player, or
        the clip so far for a plain one (when ffmpeg is missing)."""
        import gradio as gr

        text, options = self.options(*inputs)
        sr = self.synth.sample_rate
        start = time.perf_counter()
        first = None
        parts: list[np.ndarray] = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                for piece in self.model_thread.iterate(self.synth.stream(text, **options)):
                    first = first if first is not None else time.perf_counter() - start
                    parts.append(piece)
                    so_far = sum(p.size for p in parts) / sr
                    status = (
                        f"streaming: {so_far:.2f} s so far; first chunk after {first * 1000:.0f} ms"
                    )
                    if STREAMING_PLAYBACK:
                        yield encode_audio_bytes(piece, sr, "WAV"), status
                    else:
                        yield (sr, to_int16(np.concatenate(parts))), status
            except TTSError as exc:
                raise gr.Error(str(exc)) from exc
        _show_warnings(caught)
        took = time.perf_counter() - start
        seconds = sum(p.size for p in parts) / sr
        timing = (
            f"{seconds:.2f} s of audio in {took:.2f} s (RTF {took / max(seconds, 1e-9):.3f}); "
            f"first chunk after {(first or 0) * 1000:.0f} ms; language {options['language']}"
        )
        yield (None if STREAMING_PLAYBACK else (sr, to_int16(np.concatenate(parts)))), timing


def _show_warnings(caught: list[warnings.WarningMessage]) -> None:
    import gradio as gr

    seen = set()
    for w in caught:
        if (
            issubclass(w.category, (ReferenceAudioWarning, MaxLengthWarning))
            and str(w.message) not in seen
        ):
            seen.add(str(w.message))
            gr.Warning(str(w.message))


def build_demo(
    synth: Synthesizer,
    example_clip: Path | None = None,
    max_queue: int = 16,
    backend: DemoBackend | None = None,
) -> Any:
    """The Gradio Blocks app for `synth` (queue: one generation at a time, `max_queue` waiting).
    `backend`: the `DemoBackend` of `synth` to use (default: a new one), for a caller that
    ends its model thread when the demo closes."""
    import gradio as gr

    if backend is None:
        backend = DemoBackend(synth)
    elif backend.synth is not synth:
        raise ValueError("the backend serves another Synthesizer than the one given")
    defaults = synth.config.sampling
    languages = [("Auto-detect", AUTO)] + [(LANGUAGE_NAMES[c], c) for c in LANGUAGES]
    with gr.Blocks(title="koe-tts demo", analytics_enabled=False) as demo:
        gr.Markdown(
            "# koe-tts\nClone a voice from 3-10 s of speech and speak Japanese, English, Korean, "
            "Vietnamese or German. Generated audio carries an inaudible watermark."
        )
        with gr.Row():
            with gr.Column():
                voice = gr.Dropdown(
                    list(synth.voices),
                    value="default" if "default" in synth.voices else None,
                    label="Built-in voice (used when no reference clip is given)",
                    elem_id="voice",
                )
                reference = gr.Audio(
                    label="Reference voice (upload or record 3-10 s)",
                    sources=["upload", "microphone"],
                    type="filepath",
                    elem_id="reference",
                )
                text = gr.Textbox(label="Text", lines=4, elem_id="text")
                with gr.Row():
                    language = gr.Dropdown(languages, value=AUTO, label="Language")
                    emotion = gr.Dropdown(list(EMOTIONS), value="neutral", label="Emotion")
                intensity = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="Emotion intensity")
                intonation = gr.Slider(
                    0.0,
                    2.0,
                    value=1.0,
                    step=0.05,
                    label="Intonation (x the emotion's pitch range; 0 = monotone)",
                    interactive=synth.codec_controls_pitch,
                )
                style_reference = gr.Audio(
                    label="Style reference (optional: copy its delivery)",
                    sources=["upload", "microphone"],
                    type="filepath",
                )
                with gr.Row():
                    speed = gr.Slider(MIN_SPEED, MAX_SPEED, value=1.0, step=0.05, label="Speed")
                    seed = gr.Number(label="Seed (blank = random)", value=None, precision=0)
                with gr.Accordion("Advanced sampling", open=False):
                    temperature = gr.Slider(
                        0.0, 1.5, value=defaults.temperature, step=0.05, label="Temperature"
                    )
                    top_k = gr.Slider(0, 200, value=defaults.top_k, step=1, label="Top-k (0 = off)")
                    top_p = gr.Slider(0.05, 1.0, value=defaults.top_p, step=0.01, label="Top-p")
                    cfg_scale = gr.Slider(
                        0.0, 5.0, value=defaults.cfg_scale, step=0.1, label="CFG scale (1 = off)"
                    )
                consent = gr.Checkbox(label=CONSENT_LABEL, value=False, elem_id="consent")
                with gr.Row():
                    generate_btn = gr.Button("Generate", variant="primary", elem_id="generate")
                    stream_btn = gr.Button("Stream", elem_id="stream")
            with gr.Column():
                audio_out = gr.Audio(label="Generated speech", type="numpy", elem_id="output")
                plot_out = gr.Plot(label="Spectrogram")
                timing_out = gr.Textbox(label="Timing", interactive=False, elem_id="timing")
                stream_out = gr.Audio(
                    label="Streamed speech",
                    streaming=STREAMING_PLAYBACK,
                    autoplay=STREAMING_PLAYBACK,
                    sources=["microphone"] if STREAMING_PLAYBACK else None,
                    elem_id="stream-output",
                )
        inputs = [reference, text, language, emotion, intensity, style_reference, speed, seed,
                  temperature, top_k, top_p, cfg_scale, consent, voice, intonation]  # fmt: skip
        gr.Examples(
            [[EXAMPLE_TEXTS[c], c] for c in LANGUAGES], inputs=[text, language], label="Texts"
        )
        if example_clip is not None:
            gr.Examples(
                [[str(example_clip), EXAMPLE_TEXTS["en"], "en"]],
                inputs=[reference, text, language],
                label="Reference clip (synthetic Japanese voice made with Open JTalk)",
            )
        generate_btn.click(
            backend.generate, inputs, [audio_out, plot_out, timing_out], api_name="generate"
        )
        stream_btn.click(
            backend.stream, inputs, [stream_out, timing_out], api_name="generate_stream"
        )
    demo.queue(default_concurrency_limit=1, max_size=max_queue)
    return demo


def launch(
    model: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    device: str | None = None,
    prevent_thread_lock: bool = False,
    warm_up: bool = True,
) -> Any:
    """Load the model and serve the demo (what `tts demo` runs); blocks unless told not to.
    `warm_up`: pay the first click's one-time costs first (`Synthesizer.warm_up`)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

    def load() -> Synthesizer:
        synth = Synthesizer.from_pretrained(model, device=device)
        if warm_up:
            synth.warm_up()
        return synth

    # The handlers run on other threads; a main thread that had loaded the model would keep
    # torch's thread pool and slow their LM ~1.5x (`tts.threads`), so load on a thread that ends.
    synth = in_fresh_thread(load)
    demo = build_demo(synth, example_clip=example_reference_clip())
    demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        show_error=True,
        prevent_thread_lock=prevent_thread_lock,
    )
    return demo


def add_demo_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--model", default=None, help="model directory or hub id")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="make a public gradio.live link")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if any)")
    parser.add_argument(
        "--no-warm-up",
        dest="warm_up",
        action="store_false",
        help="open at once; the first click then loads what it needs (~1 s)",
    )
    return parser


def run_demo(args: argparse.Namespace) -> int:
    """Entry point for `tts demo` (arguments from `add_demo_arguments`)."""
    launch(args.model, args.host, args.port, args.share, args.device, warm_up=args.warm_up)
    return 0


__all__ = [
    "DemoBackend",
    "add_demo_arguments",
    "build_demo",
    "detect_language",
    "example_reference_clip",
    "launch",
    "run_demo",
    "spectrogram_figure",
]


def main(argv: list[str] | None = None) -> int:
    """`tts demo ARGS` / `python -m tts.demo_app ARGS`."""
    parser = add_demo_arguments(argparse.ArgumentParser(prog="tts demo"))
    return run_demo(parser.parse_args(argv))
