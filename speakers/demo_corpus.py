"""Small synthetic corpora for demos and tests, built offline in seconds.

Speakers are `tts.data.engines` voices: espeak-ng variants (`en+m3`, `en+f2`, `de+f3`, ...) and
pyopenjtalk's HTS voice; each (voice, variant, pitch, speed) is one "speaker". Emotional clips
are controlled prosody changes of a neutral utterance with the project's one emotion table,
`tts.data.prosody` (WORLD: F0 level and range, tempo, energy, spectral tilt, breathiness,
unvoiced excitation for whisper). Both builders write canonical manifests
(`tts.data.manifest`). The full synthetic corpus builder is `recipes/data/synthetic.py`; this
is enough to train and test the encoders.
"""

from __future__ import annotations

from pathlib import Path

from tts.audio import resample, save_audio
from tts.data.cleanup import limit_peak, normalize_loudness
from tts.data.engines import Voice, synthesize
from tts.data.manifest import ManifestEntry, write_manifest
from tts.data.prosody import EMOTION_PROSODY, apply_emotion

SAMPLE_RATE = 16_000  # of the emotional clips: the encoders' rate, and WORLD is fast here


def _espeak(speaker: str, language: str, variant: str, pitch: int, wpm: int) -> Voice:
    return Voice(speaker, "espeak", (language,), {"voice": variant, "pitch": pitch, "wpm": wpm})


# Each voice speaks one language (voice.languages[0]); synthesise with tts.data.engines.
DEMO_VOICES: tuple[Voice, ...] = (
    _espeak("en_m3", "en", "en+m3", pitch=35, wpm=155),
    _espeak("en_f2", "en", "en+f2", pitch=70, wpm=165),
    _espeak("en_croak", "en", "en+croak", pitch=45, wpm=150),
    _espeak("de_f3", "de", "de+f3", pitch=60, wpm=150),
    _espeak("de_m1", "de", "de+m1", pitch=40, wpm=160),
    Voice("ja_mei", "pyopenjtalk", ("ja",), {"speed": 1.0, "half_tone": 0.0}),
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


def make_speaker_corpus(
    out_dir: str | Path,
    voices: tuple[Voice, ...] = DEMO_VOICES,
    clips_per_speaker: int = 6,
) -> Path:
    """Write `out_dir/<speaker>/<n>.wav` plus the canonical `manifest.jsonl`; returns it.

    The folder is also a speaker-per-subfolder corpus (see `read_speaker_corpus`).
    """
    out_dir = Path(out_dir)
    entries = []
    for voice in voices:
        texts = SENTENCES[voice.languages[0]]
        for n in range(clips_per_speaker):
            text = texts[n % len(texts)]
            wav, sr = synthesize(voice, text, voice.languages[0])
            path = out_dir / voice.speaker / f"{n:03d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            save_audio(path, wav, sr)
            entries.append(_entry(path, text, voice, len(wav) / sr))
    return write_manifest(out_dir / "manifest.jsonl", entries)


def make_emotion_corpus(
    out_dir: str | Path,
    voices: tuple[Voice, ...] = DEMO_VOICES[:3],
    emotions: tuple[str, ...] = tuple(EMOTION_PROSODY),
    intensities: tuple[float, ...] = (0.5, 1.0),
    sentences_per_voice: int = 2,
) -> Path:
    """Emotional variants of neutral utterances made with `tts.data.prosody` (WORLD), written
    as 16 kHz wavs plus the canonical `manifest.jsonl` (neutral clips have intensity 0)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for voice in voices:
        for n in range(sentences_per_voice):
            text = SENTENCES[voice.languages[0]][n]
            wav, sr = synthesize(voice, text, voice.languages[0])
            # As in the full corpus builder: the table's energy changes apply to a
            # loudness-normalised neutral clip, and only a peak limiter follows them.
            neutral = limit_peak(normalize_loudness(resample(wav, sr, SAMPLE_RATE), SAMPLE_RATE))
            for emotion in emotions:
                for level in (0.0,) if emotion == "neutral" else intensities:
                    clip, params = apply_emotion(neutral, SAMPLE_RATE, emotion, level)
                    clip = limit_peak(clip)
                    path = out_dir / f"{voice.speaker}_{n}_{emotion}_{level:.2f}.wav"
                    save_audio(path, clip, SAMPLE_RATE)
                    entry = _entry(path, text, voice, len(clip) / SAMPLE_RATE, emotion, level)
                    entries.append(entry.with_extra(prosody=params.as_dict()))
    return write_manifest(out_dir / "manifest.jsonl", entries)


def _entry(
    path: Path,
    text: str,
    voice: Voice,
    duration: float,
    emotion: str = "neutral",
    intensity: float = 0.0,
) -> ManifestEntry:
    return ManifestEntry(
        audio=path,
        text=text,
        language=voice.languages[0],
        speaker=voice.speaker,
        duration=duration,
        emotion=emotion,
        intensity=intensity,
        extra={"source": "demo", "engine": voice.engine, "voice": voice.params},
    )
