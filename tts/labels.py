"""The languages and emotion labels the toolkit knows, in one place."""

from __future__ import annotations

from tts.errors import TTSError, UnsupportedLanguageError

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
