"""The languages and emotion labels the toolkit knows, in one place."""

from __future__ import annotations

import math

from tts.errors import ConfigError, TTSError, UnsupportedLanguageError

LANGUAGES: tuple[str, ...] = ("ja", "en", "ko", "vi", "de")
LANGUAGE_NAMES: dict[str, str] = {
    "ja": "Japanese",
    "en": "English",
    "ko": "Korean",
    "vi": "Vietnamese",
    "de": "German",
}

# Categorical emotions. Intensity (a float, 1.0 = the labelled strength, 0 = neutral, >1
# exaggerates) scales the direction of an emotion away from neutral.
EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "surprised", "whisper", "calm")
# How far intensity may exaggerate. The label's table extrapolates linearly, and past 4 it
# asks for what no decoder does well (surprised: a 20 st raise at 4, before the LM's share),
# and gains of tens of dB; at 100, whisper's was -75 dB (silence) and surprised's F0 shift
# failed deep in the decoder with an error that did not name the intensity.
MAX_INTENSITY = 4.0


class UnsupportedEmotionError(TTSError, ValueError):
    def __init__(self, emotion: object) -> None:
        self.emotion = emotion
        super().__init__(f"unknown emotion {emotion!r}; choose one of {', '.join(EMOTIONS)}")


def check_language(language: object) -> str:
    """Normalise a language code ('JA', 'ja-JP', 'en_US' -> 'ja', 'en') or raise."""
    if isinstance(language, str):
        code = language.strip().lower().replace("_", "-").split("-")[0]
        if code in LANGUAGES:
            return code
    raise UnsupportedLanguageError(language, LANGUAGES)


def check_emotion(emotion: object) -> str:
    if isinstance(emotion, str) and emotion.strip().lower() in EMOTIONS:
        return emotion.strip().lower()
    raise UnsupportedEmotionError(emotion)


def check_intensity(intensity: object) -> float:
    """An emotion intensity as a float in [0, MAX_INTENSITY] (0 = neutral, 1 = the label's
    full strength, above exaggerates), or a ConfigError that names it."""
    if isinstance(intensity, bool) or not isinstance(intensity, (int, float)):
        raise ConfigError(f"intensity must be a number, got {intensity!r}")
    if not (math.isfinite(intensity) and 0.0 <= intensity <= MAX_INTENSITY):
        raise ConfigError(
            f"intensity must lie in [0, {MAX_INTENSITY:g}] (0 = neutral, 1 = the label's full "
            f"strength, above exaggerates), got {intensity}"
        )
    return float(intensity)
