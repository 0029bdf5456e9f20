"""Short synthetic speech clips for the codec tests (pyopenjtalk and espeak-ng, offline)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch


@dataclass
class Clip:
    path: Path
    wav: np.ndarray  # float32 mono
    sr: int
    text: str
    language: str


def make_clips(folder: Path) -> list[Clip]:
    import pyopenjtalk

    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    text = "今日はとても良い天気ですね。"
    wav, sr = pyopenjtalk.tts(text)  # float64 at 48 kHz on the int16 scale
    wav = (wav / 32768.0).astype(np.float32)
    sf.write(folder / "ja.wav", wav, sr)
    clips.append(Clip(folder / "ja.wav", wav, int(sr), text, "ja"))
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    for lang, voice, text in [
        ("en", "en-us", "The quick brown fox jumps over the lazy dog."),
        ("de", "de", "Guten Morgen, wie geht es dir heute?"),
    ]:
        path = folder / f"{lang}.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True
        )
        wav, sr = sf.read(path, dtype="float32")
        clips.append(Clip(path, wav, int(sr), text, lang))
    return clips


@pytest.fixture(scope="session")
def speech_clips(tmp_path_factory: pytest.TempPathFactory) -> list[Clip]:
    return make_clips(tmp_path_factory.mktemp("speech"))


@pytest.fixture(autouse=True)
def _few_threads() -> None:
    # The test machine is shared; one thread keeps timings predictable and runs deterministic.
    torch.set_num_threads(1)


# ---- shared by the tests of decoders that read more than codes (units, a speaker) ----------


def dominant_hz(wav: torch.Tensor, sr: int = 24_000) -> float:
    """The strongest frequency of a clip (Hann-windowed spectrum)."""
    spectrum = np.abs(np.fft.rfft(wav.numpy() * np.hanning(len(wav))))
    return float(np.argmax(spectrum) * sr / len(wav))


def learn_two_tones(model, **inputs) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Train `model`'s decoder to make a 300 Hz tone for item 0 and a 1,200 Hz one for item 1
    from the same (all-zero) codes, so only `inputs` (units=, speaker=) can tell them apart;
    returns the dominant frequencies of what it then decodes."""
    from tts.codecs.losses import MultiResolutionLoss

    cfg = model.cfg
    loss_fn = MultiResolutionLoss(cfg.sample_rate)
    frames, hop = 8, cfg.hop
    t = torch.arange(frames * hop) / cfg.sample_rate
    tones = torch.stack([0.3 * torch.sin(2 * torch.pi * f * t) for f in (300.0, 1200.0)])
    codes = torch.zeros(2, cfg.n_codebooks, frames, dtype=torch.long)
    opt = torch.optim.Adam(model.decoder.parameters(), lr=3e-3)
    for _ in range(250):
        recon = model(tones[:, None], codes=codes, **inputs)[0]
        loss = loss_fn(recon, tones)
        opt.zero_grad()
        (15 * loss["mel"] + loss["stft"]).backward()
        opt.step()
    with torch.no_grad():
        out = model.decode(codes, **inputs)
    return dominant_hz(out[0]), dominant_hz(out[1])


def assert_streaming_matches(codec, frames: torch.Tensor, step: int, **decoder) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Frames [K', F] pushed `step` at a time through a StreamingDecoder(codec, **decoder) give
    the one-shot decoding's audio (returned)."""
    from tts.streaming import StreamingDecoder

    extra = {"speaker": decoder["speaker"]} if "speaker" in decoder else {}
    full = codec.decode(frames[None], **extra)[0].numpy()
    stream = StreamingDecoder(codec, **decoder)
    parts = [stream.push(frames[:, i : i + step]) for i in range(0, frames.shape[1], step)]
    streamed = np.concatenate([*parts, stream.flush()])
    assert streamed.shape == full.shape
    np.testing.assert_allclose(streamed, full, atol=1e-4 * np.abs(full).max())
    return full
