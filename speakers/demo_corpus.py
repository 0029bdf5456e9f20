"""Small synthetic corpora for demos and tests, built offline in seconds.

Speakers come from espeak-ng voice variants (`en+m3`, `en+f2`, `de+f3`, ...) and from
pyopenjtalk's HTS voice; each (voice, variant, pitch, speed) is one "speaker". Emotional clips
are made by controlled prosody changes of a neutral utterance with WORLD (pyworld): shifted and
widened or narrowed F0, faster or slower timing, brighter spectrum, breathy / unvoiced
excitation for whisper. The full synthetic corpus builder lives elsewhere; this is enough to
train and test the encoders.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tts.audio import load_audio, resample, save_audio
from tts.errors import TTSError


@dataclass(frozen=True)
class DemoVoice:
    name: str
    engine: str  # "espeak" or "openjtalk"
    language: str
    voice: str = ""  # espeak voice+variant
    pitch: int = 50  # espeak -p (0-99)
    speed: float = 160  # espeak words per minute, or openjtalk speed factor
    half_tone: float = 0.0  # openjtalk pitch shift


DEMO_VOICES: tuple[DemoVoice, ...] = (
    DemoVoice("en_m3", "espeak", "en", "en+m3", pitch=35, speed=155),
    DemoVoice("en_f2", "espeak", "en", "en+f2", pitch=70, speed=165),
    DemoVoice("en_croak", "espeak", "en", "en+croak", pitch=45, speed=150),
    DemoVoice("de_f3", "espeak", "de", "de+f3", pitch=60, speed=150),
    DemoVoice("de_m1", "espeak", "de", "de+m1", pitch=40, speed=160),
    DemoVoice("ja_mei", "openjtalk", "ja", speed=1.0, half_tone=0.0),
)

SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "The morning train was late again, so we walked along the river to the old market.",
        "Please remember to close the windows before the storm arrives this evening.",
        "My brother bought a small wooden boat and painted it bright yellow last summer.",
        "Seven clever students solved the puzzle long before the teacher came back.",
        "If the weather stays calm tomorrow, we will climb the hill behind the village.",
        "She kept every letter in a blue box under the bed for twenty years.",
        "The library opens at nine, but the coffee shop next door is open all night.",
        "A quiet voice from the garden asked whether anyone had seen the missing cat.",
    ),
    "de": (
        "Der Zug kam heute wieder zu spät, deshalb sind wir am Fluss entlang gelaufen.",
        "Bitte schließe die Fenster, bevor heute Abend das Gewitter kommt.",
        "Mein Bruder hat im letzten Sommer ein kleines Boot gekauft und gelb gestrichen.",
        "Sieben kluge Schüler haben das Rätsel gelöst, bevor der Lehrer zurückkam.",
        "Wenn das Wetter morgen ruhig bleibt, wandern wir auf den Berg hinter dem Dorf.",
        "Sie hat jeden Brief zwanzig Jahre lang in einer blauen Kiste aufbewahrt.",
        "Die Bibliothek öffnet um neun, aber das Café nebenan ist die ganze Nacht offen.",
        "Eine leise Stimme aus dem Garten fragte, ob jemand die Katze gesehen hatte.",
    ),
    "ja": (
        "今朝は電車が遅れたので、川沿いを歩いて古い市場まで行きました。",
        "嵐が来る前に、窓をしっかり閉めておいてください。",
        "兄は去年の夏、小さな木の船を買って、明るい黄色に塗りました。",
        "先生が戻る前に、七人の生徒がそのパズルを解いてしまいました。",
        "明日も天気が穏やかなら、村の裏の丘に登りましょう。",
        "彼女は二十年間、すべての手紙を青い箱にしまっていました。",
        "図書館は九時に開きますが、隣の喫茶店は一晩中開いています。",
        "庭の方から、誰か迷子の猫を見なかったかと静かな声がしました。",
    ),
}


def synthesize(voice: DemoVoice, text: str) -> tuple[np.ndarray, int]:
    """One utterance as (float32 mono wav, sample rate)."""
    if voice.engine == "espeak":
        exe = shutil.which("espeak-ng")
        if exe is None:
            raise TTSError("espeak-ng is not on PATH (apt-get install espeak-ng)")
        cmd = [exe, "-v", voice.voice, "-p", str(voice.pitch), "-s", str(int(voice.speed))]
        proc = subprocess.run([*cmd, "--stdout", text], capture_output=True, check=False)
        if proc.returncode != 0 or not proc.stdout:
            raise TTSError(f"espeak-ng failed for voice {voice.voice}: {proc.stderr.decode()}")
        return load_audio(proc.stdout)
    if voice.engine == "openjtalk":
        import pyopenjtalk

        wav, sr = pyopenjtalk.tts(text, speed=voice.speed, half_tone=voice.half_tone)
        return (np.asarray(wav) / 32768.0).astype(np.float32), int(sr)
    raise TTSError(f"unknown demo engine {voice.engine!r}")


@dataclass(frozen=True)
class ProsodyChange:
    """A prosody edit at intensity 1; `scaled(i)` interpolates from no change."""

    semitones: float = 0.0  # F0 shift
    f0_range: float = 1.0  # log-F0 spread around the utterance mean
    speed: float = 1.0  # >1 faster
    brightness: float = 0.0  # spectral tilt exponent (+ = brighter, tenser voice)
    gain_db: float = 0.0
    breathiness: float = 0.0  # 1 = fully unvoiced (whisper)

    def scaled(self, intensity: float) -> ProsodyChange:
        i = float(intensity)
        return ProsodyChange(
            semitones=self.semitones * i,
            f0_range=self.f0_range**i,
            speed=self.speed**i,
            brightness=self.brightness * i,
            gain_db=self.gain_db * i,
            breathiness=min(1.0, self.breathiness * i),
        )


# happy = higher, wider, faster; sad = lower, narrower, slower; angry = louder, tenser, faster.
EMOTION_PROSODY: dict[str, ProsodyChange] = {
    "neutral": ProsodyChange(),
    "happy": ProsodyChange(semitones=3.0, f0_range=1.6, speed=1.15, brightness=0.15),
    "sad": ProsodyChange(semitones=-3.0, f0_range=0.5, speed=0.8, brightness=-0.2, gain_db=-4),
    "angry": ProsodyChange(semitones=1.5, f0_range=1.4, speed=1.2, brightness=0.5, gain_db=6),
    "surprised": ProsodyChange(semitones=5.0, f0_range=2.0, speed=1.0, brightness=0.1),
    "whisper": ProsodyChange(speed=0.95, breathiness=1.0, gain_db=-10),
    "calm": ProsodyChange(semitones=-1.0, f0_range=0.7, speed=0.88, brightness=-0.1),
}


def apply_prosody(wav: np.ndarray, sr: int, change: ProsodyChange) -> tuple[np.ndarray, int]:
    """Re-synthesise `wav` with WORLD after editing F0, timing, tilt and excitation (16 kHz)."""
    with warnings.catch_warnings():  # pyworld imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        import pyworld

    fs = 16_000
    x = resample(wav, sr, fs).astype(np.float64)
    f0, t = pyworld.dio(x, fs, frame_period=5.0)
    f0 = pyworld.stonemask(x, f0, t, fs)
    sp = pyworld.cheaptrick(x, f0, t, fs)
    ap = pyworld.d4c(x, f0, t, fs)

    voiced = f0 > 0
    if voiced.any():
        log_f0 = np.log(f0[voiced])
        centre = log_f0.mean()
        shifted = centre + change.f0_range * (log_f0 - centre) + change.semitones * np.log(2) / 12
        f0[voiced] = np.exp(shifted)
    freqs = np.linspace(0, fs / 2, sp.shape[1])
    sp = sp * np.maximum(freqs / 500.0, 1.0)[None, :] ** (2 * change.brightness)
    ap = ap + change.breathiness * (1.0 - ap)
    if change.breathiness >= 1.0:
        f0 = np.zeros_like(f0)
    # Time-scale by reading the analysis frames at a different pace.
    n_out = max(2, round(len(f0) / change.speed))
    idx = np.round(np.linspace(0, len(f0) - 1, n_out)).astype(int)
    f0, sp, ap = f0[idx], np.ascontiguousarray(sp[idx]), np.ascontiguousarray(ap[idx])
    y = pyworld.synthesize(np.ascontiguousarray(f0), sp, ap, fs, 5.0)
    y = y * 10 ** (change.gain_db / 20)
    peak = np.max(np.abs(y))
    if peak > 0.98:
        y = y * 0.98 / peak
    return y.astype(np.float32), fs


def make_speaker_corpus(
    out_dir: str | Path,
    voices: tuple[DemoVoice, ...] = DEMO_VOICES,
    clips_per_speaker: int = 6,
) -> Path:
    """Write `out_dir/<speaker>/<n>.wav` plus `manifest.jsonl` ("audio", "speaker"); returns it."""
    out_dir = Path(out_dir)
    rows = []
    for voice in voices:
        (out_dir / voice.name).mkdir(parents=True, exist_ok=True)
        texts = SENTENCES[voice.language]
        for n in range(clips_per_speaker):
            wav, sr = synthesize(voice, texts[n % len(texts)])
            path = out_dir / voice.name / f"{n:03d}.wav"
            save_audio(path, wav, sr)
            rows.append({"audio": str(path.relative_to(out_dir)), "speaker": voice.name})
    manifest = out_dir / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return manifest


def make_emotion_corpus(
    out_dir: str | Path,
    voices: tuple[DemoVoice, ...] = DEMO_VOICES[:3],
    emotions: tuple[str, ...] = tuple(EMOTION_PROSODY),
    intensities: tuple[float, ...] = (0.5, 1.0),
    sentences_per_voice: int = 2,
) -> Path:
    """Emotional variants of neutral utterances; `manifest.jsonl` has "audio", "speaker",
    "emotion", "intensity" (0 for neutral clips, whose intensity has no meaning)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for voice in voices:
        for n in range(sentences_per_voice):
            base, sr = synthesize(voice, SENTENCES[voice.language][n])
            for emotion in emotions:
                levels = (0.0,) if emotion == "neutral" else intensities
                for level in levels:
                    wav, fs = apply_prosody(base, sr, EMOTION_PROSODY[emotion].scaled(level))
                    name = f"{voice.name}_{n}_{emotion}_{level:.2f}.wav"
                    save_audio(out_dir / name, wav, fs)
                    rows.append(
                        {
                            "audio": name,
                            "speaker": voice.name,
                            "emotion": emotion,
                            "intensity": level,
                        }
                    )
    manifest = out_dir / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return manifest
