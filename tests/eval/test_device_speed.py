"""recipes/device_speed.py: the shipped pipeline's speed on a machine without its CPU-side parts.

`prepare` runs here with the real front end, reference processing and speaker encoder; `measure`
runs where pyopenjtalk, espeak, Resemblyzer, Perth, librosa and the VAD are missing (a lent GPU)
and must synthesize exactly what the full pipeline synthesizes, refusing anything unprepared."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from recipes.device_speed import (
    ReplayFrontend,
    StoredEmbeddings,
    load_prepared,
    prepare,
    report,
)
from tts.audio import load_audio
from tts.data.manifest import read_manifest
from tts.errors import ConfigError
from tts.speakers.reference import load_reference
from tts.synthesizer import Synthesizer

REPO = Path(__file__).resolve().parents[2]
# what the device machine lacks; imports of these fail in the measuring process
MISSING = ["pyopenjtalk", "phonemizer", "resemblyzer", "perth", "librosa", "pyloudnorm",
           "silero_vad", "webrtcvad", "faster_whisper", "ctranslate2"]  # fmt: skip
DEVICE_LIKE = f"""
import runpy, sys
for name in {MISSING!r}:
    sys.modules[name] = None
sys.argv = ["device_speed.py"] + sys.argv[1:]
runpy.run_path({str(REPO / "recipes" / "device_speed.py")!r}, run_name="__main__")
"""


@pytest.fixture(scope="module")
def prepared(manifest_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("speed")
    prepare(None, str(manifest_path), out, sentences=2, threads=1)
    return out


def test_prepare_stores_chunks_reference_and_cpu_costs(prepared: Path, manifest_path: Path):
    data = json.loads((prepared / "speed.json").read_text())
    assert data["language"] == "ja" and len(data["sentences"]) == 2
    first = read_manifest(manifest_path)[0]  # tts eval's pick: the first neutral ja clip
    assert data["reference"]["audio"] == str(first.audio)
    clip = load_reference(load_audio(first.audio))
    assert data["reference"]["content_hash"] == clip.content_hash
    _, texts, chunks, stored, encoder = load_prepared(prepared)
    assert np.array_equal(stored.wav, clip.wav) and np.array_equal(stored.wav_24k, clip.wav_24k)
    real = Synthesizer.from_pretrained(device="cpu", threads=1)
    assert [c.ids for c in chunks[(texts[0], "ja")]] == [
        c.ids for c in real.frontend.process(texts[0], "ja")
    ]
    torch.testing.assert_close(
        encoder.embed_reference(stored), real.speaker_encoder.embed_reference(clip, cache=None)
    )
    here = data["here"]
    assert len(here["frontend_s"]) == 2 and all(t > 0 for t in here["frontend_s"])
    assert here["watermark_rtf"] > 0
    # the shipped model lets the voice choose between takes: its embeddings are timed here
    assert here["voice_margin"] == real.config.sampling.voice_margin > 0
    assert here["voice_rtf"] > 0


def test_the_device_path_synthesizes_what_the_full_pipeline_does(
    prepared: Path, manifest_path: Path
):
    _, texts, chunks, clip, encoder = load_prepared(prepared)
    device = Synthesizer.from_pretrained(device="cpu", threads=1, speaker_encoder=encoder)
    device.frontend = ReplayFrontend(device.frontend.inventory, chunks)
    real = Synthesizer.from_pretrained(device="cpu", threads=1)
    # as `measure` runs it: the device has no Resemblyzer for the voice's choice between takes
    sampling = replace(real.config.sampling, voice_margin=0.0)
    call = {"language": "ja", "seed": 3, "watermark": False, "sampling": sampling}
    a = device.synthesize(texts[1], reference=clip, **call)
    b = real.synthesize(texts[1], reference=load_audio(clip.source), **call)  # as tts eval
    assert a.duration > 0.5 and np.array_equal(a.wav, b.wav)
    # the stand-ins refuse what was not prepared, rather than time something else
    with pytest.raises(ConfigError, match="no prepared chunks"):
        device.synthesize("別の文です。", reference=clip, **call)
    other = load_reference(load_audio(read_manifest(manifest_path)[2].audio))  # another voice
    with pytest.raises(ConfigError, match="no prepared embedding"):
        device.synthesize(texts[1], reference=other, **call)
    with pytest.raises(ConfigError, match="only serves the embeddings"):
        encoder.embed(other.wav, other.sample_rate)


def test_a_speaker_encoder_of_another_size_is_refused():
    with pytest.raises(ConfigError, match="128-value embeddings"):
        Synthesizer.from_pretrained(device="cpu", speaker_encoder=StoredEmbeddings("x", 128, {}))


def test_measure_runs_without_the_cpu_side_packages(prepared: Path, tmp_path: Path):
    out = tmp_path / "speed.json"
    args = ["measure", "--prepared", str(prepared), "--device", "cpu", "--threads", "1",
            "--compile", "off", "--out", str(out)]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", DEVICE_LIKE, *args], cwd=REPO, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads(out.read_text())
    (run,) = results["runs"]
    assert results["device"] == "cpu" and results["gpu"] is None
    assert results["voice_margin_left_out"] > 0  # timed here instead (prepare)
    assert run["watermark"] is False and run["compile"] is False and run["kokoro"] is None
    model = run["model"]
    assert model["n"] == 2 and model["audio_seconds"] > 1.0
    assert model["rtf"] > 0 and 0 < model["first_chunk_s"] < model["rtf"] * model["audio_seconds"]
    table = report(results)
    assert "| off | 2 |" in table and f"{model['rtf']:.4f}" in table
    lm = model["stage_rtf"]["lm"]  # the LM's share of the device's time, split out
    assert 0 < lm < model["rtf"] and f"| {model['rtf']:.4f} | {lm:.4f} |" in table
    assert "| off | 2 |" in done.stdout  # the table is printed too


def test_measure_without_prepare_says_what_to_do(tmp_path: Path):
    with pytest.raises(ConfigError, match="run `device_speed.py prepare`"):
        load_prepared(tmp_path)
