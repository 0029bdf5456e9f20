"""The Gradio demo: its backend directly, over gradio_client, and in a real headless browser."""

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from tts.demo_app import DemoBackend, build_demo, example_reference_clip, spectrogram_figure

CHROMIUM = "/usr/bin/chromium"


def inputs(reference=None, text="Hello there.", consent=True, **over):
    values = dict(
        reference=reference, text=text, language="auto", emotion="neutral", intensity=1.0,
        style_reference=None, speed=1.0, seed=3, temperature=0.9, top_k=50, top_p=0.95,
        cfg_scale=1.0, consent=consent, voice="default", intonation=1.0,
    )  # fmt: skip
    values.update(over)
    return list(values.values())


@pytest.fixture(scope="module")
def backend(synth):
    backend = DemoBackend(synth)
    yield backend
    backend.close()  # its model thread ends (tts.threads: a live one holds a BLAS setting)


def test_generate_returns_audio_spectrogram_and_timing(backend, clip_path):
    (sr, wav), figure, timing = backend.generate(*inputs(str(clip_path), "Guten Morgen!"))
    assert sr == 24000 and wav.dtype == np.int16 and wav.size > 0 and np.abs(wav).max() > 0
    assert isinstance(figure, Figure) and figure.axes[0].get_title().startswith("spectrogram")
    assert "RTF" in timing and timing.endswith("language de")  # detected from the text
    assert "token generation" in timing  # the LM's share of the time (audio.timings)
    # the seed makes the clip reproducible; another voice makes another clip
    again = backend.generate(*inputs(str(clip_path), "Guten Morgen!"))[0][1]
    built_in = backend.generate(*inputs(None, "Guten Morgen!"))[0][1]
    np.testing.assert_array_equal(wav, again)
    assert wav.shape != built_in.shape or not np.array_equal(wav, built_in)


def test_built_in_voices_are_selectable_and_a_clip_wins(backend, clip_path):
    other = torch.nn.functional.normalize(torch.randn(256, generator=torch.Generator().manual_seed(1)), dim=0)  # fmt: skip
    backend.synth.voices["other"] = other
    try:
        default = backend.generate(*inputs(None, "Guten Morgen!"))[0][1]
        chosen = backend.generate(*inputs(None, "Guten Morgen!", voice="other"))[0][1]
        assert default.shape != chosen.shape or not np.array_equal(default, chosen)
        clip = backend.generate(*inputs(str(clip_path), "Guten Morgen!", voice="other"))[0][1]
        clip_only = backend.generate(*inputs(str(clip_path), "Guten Morgen!"))[0][1]
        np.testing.assert_array_equal(clip, clip_only)  # the uploaded clip decides the voice
    finally:
        del backend.synth.voices["other"]
    with pytest.raises(gr.Error, match="Unknown built-in voice"):
        backend.generate(*inputs(None, voice="nobody"))


@pytest.mark.parametrize(
    ("over", "message"),
    [
        (dict(consent=False), "consent"),
        (dict(text="   "), "Enter some text"),
        (dict(top_p=0.0), "top_p"),
        (dict(text="!!!", language="en"), "nothing pronounceable"),
        (dict(intonation=1.5), "cannot change intonation"),  # the random bundle's istft codec
    ],
)
def test_bad_input_gives_a_clear_gradio_error(backend, clip_path, over, message):
    with pytest.raises(gr.Error, match=message):
        backend.generate(*inputs(str(clip_path), **over))


def test_sliders_keep_the_models_other_sampling_settings(backend, monkeypatch):
    import dataclasses

    base = dataclasses.replace(
        backend.synth.config.sampling, unit_temperature=0.3, repetition_penalty=1.1
    )
    monkeypatch.setattr(backend.synth.config, "sampling", base)
    _, options = backend.options(*inputs(None, temperature=0.6, top_k=20, cfg_scale=2.0))
    assert options["sampling"] == dataclasses.replace(
        base, temperature=0.6, top_k=20, top_p=0.95, cfg_scale=2.0
    )


def test_intonation_slider_multiplies_the_emotions_pitch_range():
    from tts.codecs.koe import KoeCodec
    from tts.synthesizer import random_synthesizer

    sf = random_synthesizer()
    sf.codec = KoeCodec.from_config(
        dataclasses.replace(sf.codec.config, decoder_kind="source_filter")
    )
    backend = DemoBackend(sf)
    _, options = backend.options(*inputs(None, emotion="sad", intensity=0.5))
    assert options["pitch_range"] is None  # the emotion's own range, chosen by the synthesizer
    _, options = backend.options(*inputs(None, emotion="sad", intensity=0.5, intonation=0.5))
    assert options["pitch_range"] == pytest.approx(0.8 * 0.5)
    _, options = backend.options(*inputs(None, emotion="surprised", intonation=2.0))
    assert options["pitch_range"] == 3.0  # 1.8 x 2 stops at the limit


def test_bad_reference_clip_is_reported(backend, tmp_path):
    bad = tmp_path / "noise.wav"
    bad.write_bytes(b"RIFF....not audio")
    with pytest.raises(gr.Error, match="unreadable reference audio"):
        backend.generate(*inputs(str(bad)))


def test_stream_yields_growing_audio_then_the_timing(backend, clip_path, monkeypatch):
    import tts.demo_app as demo_app

    monkeypatch.setattr(demo_app, "STREAMING_PLAYBACK", False)  # the no-ffmpeg path
    text = "First sentence here. A second one follows."
    steps = list(backend.stream(*inputs(str(clip_path), text)))
    sizes = [audio[1].size for audio, _ in steps]
    assert len(steps) >= 3 and sizes == sorted(sizes) and sizes[-1] == sizes[-2]
    assert "first chunk after" in steps[-1][1] and "RTF" in steps[-1][1]
    monkeypatch.setattr(demo_app, "STREAMING_PLAYBACK", True)  # chunks as wav bytes for ffmpeg
    chunks = [audio for audio, _ in backend.stream(*inputs(str(clip_path), text))][:-1]
    assert all(isinstance(c, bytes) and c[:4] == b"RIFF" for c in chunks)


def test_spectrogram_of_a_tone_peaks_at_its_frequency():
    sr = 24000
    tone = np.sin(2 * np.pi * 3000 * np.arange(sr) / sr).astype(np.float32)
    figure = spectrogram_figure(tone, sr)
    # specgram draws [freq bins, frames] in dB with the highest frequency in the top row
    image = np.asarray(figure.axes[0].get_images()[0].get_array())[::-1]
    freqs = np.linspace(0, sr / 2, image.shape[0])
    assert abs(freqs[int(np.argmax(image.mean(axis=1)))] - 3000) < 50


@pytest.fixture(scope="module")
def running_demo(synth):
    clip = example_reference_clip(tempfile.mkdtemp())
    assert clip is not None and clip.is_file()
    backend = DemoBackend(synth)
    demo = build_demo(synth, example_clip=clip, backend=backend)
    demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    yield demo
    demo.close()
    backend.close()


def test_gradio_client_generates_speech(running_demo, clip_path):
    import soundfile as sf
    from gradio_client import Client, handle_file

    client = Client(running_demo.local_url, verbose=False)
    audio_path, plot, timing = client.predict(
        handle_file(str(clip_path)), "こんにちは。", "auto", "happy", 1.5, None, 1.2, 7,
        0.9, 50, 0.95, 1.0, True, "default", 1.0, api_name="/generate",
    )  # fmt: skip
    wav, sr = sf.read(audio_path)
    assert sr == 24000 and len(wav) > 1000 and np.abs(wav).max() > 0
    assert plot["type"] == "matplotlib" and timing.endswith("language ja")
    with pytest.raises(Exception, match="consent"):
        client.predict(
            handle_file(str(clip_path)), "Hi.", "en", "neutral", 1.0, None, 1.0, 1,
            0.9, 50, 0.95, 1.0, False, "default", 1.0, api_name="/generate",
        )  # fmt: skip


def _browser_available() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    return None


# Skipped only outside CI: the setup script installs chromium and playwright, so in CI a
# missing browser is a failure, not a skip.
@pytest.mark.skipif(
    _browser_available() is not None and not os.environ.get("CI"),
    reason=str(_browser_available()),
)
def test_browser_upload_consent_generate_plays_audio(running_demo, clip_path, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh profile: no state from earlier runs
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        )  # fmt: skip
        try:
            page = context.new_page()
            page.goto(running_demo.local_url)
            page.locator("#reference input[type=file]").set_input_files(str(clip_path))
            page.locator("#text textarea").fill("Hello from the browser.")
            # without consent: an error toast, no audio
            page.locator("#generate").click()
            page.get_by_text("Tick the consent box").first.wait_for(timeout=30_000)
            assert page.locator("#output audio[src]").count() == 0
            page.locator("#consent input[type=checkbox]").check()
            page.locator("#generate").click()
            audio = page.wait_for_selector("#output audio[src]", state="attached", timeout=60_000)
            assert audio.get_attribute("src")
            timing = page.locator("#timing textarea")
            timing.wait_for(timeout=30_000)
            assert "RTF" in timing.input_value()
        finally:
            context.close()
            shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def test_tts_demo_warms_the_model_up_before_it_opens_unless_told_not_to(synth, monkeypatch):
    """`tts demo` pays the first click's one-time costs at start (`Synthesizer.warm_up`);
    `--no-warm-up` opens at once."""
    import argparse

    from tts import demo_app
    from tts.synthesizer import Synthesizer

    events = []

    class Opened:
        def launch(self, **kwargs):
            events.append("open")

    monkeypatch.setattr(Synthesizer, "from_pretrained", classmethod(lambda cls, *a, **k: synth))
    monkeypatch.setattr(synth, "warm_up", lambda *a, **k: events.append("warm") or 0.0)
    monkeypatch.setattr(demo_app, "build_demo", lambda synth, example_clip=None: Opened())
    parser = demo_app.add_demo_arguments(argparse.ArgumentParser())
    demo_app.run_demo(parser.parse_args([]))
    assert events == ["warm", "open"]
    events.clear()
    demo_app.run_demo(parser.parse_args(["--no-warm-up"]))
    assert events == ["open"]


def test_the_demo_runs_the_model_on_one_thread_of_its_own(backend, monkeypatch):
    """Gradio calls handlers from its worker threads; the model's work goes to the backend's
    one model thread (`tts.threads.ModelThread`), for one-shot and streamed generation."""
    import threading

    used = []
    synthesize, stream = backend.synth.synthesize, backend.synth.stream

    def on_thread(fn):
        def wrapped(*args, **kwargs):
            used.append(threading.get_ident())
            return fn(*args, **kwargs)

        return wrapped

    def streamed(*args, **kwargs):
        for piece in stream(*args, **kwargs):
            used.append(threading.get_ident())
            yield piece

    monkeypatch.setattr(backend.synth, "synthesize", on_thread(synthesize))
    monkeypatch.setattr(backend.synth, "stream", streamed)
    (sr, wav), _, _ = backend.generate(*inputs())
    assert sr == backend.synth.sample_rate and len(wav) > 0
    outputs = list(backend.stream(*inputs()))
    assert len(outputs) >= 2 and len(used) >= 2
    assert len(set(used)) == 1 and threading.get_ident() not in used
