"""koe-tts: voice-cloning, emotion-controllable TTS in Japanese, English, Korean, Vietnamese
and German, built on an autoregressive transformer over neural-codec tokens.

Subpackages: `tts.text` (front end), `tts.codecs` (codec adapters and our codec),
`tts.speakers` (reference clips, speaker and style encoders).
"""

from tts.audio import Audio
from tts.errors import (
    AudioInputError,
    CheckpointError,
    ConditioningError,
    ConfigError,
    ManifestError,
    ReferenceAudioError,
    TextError,
    TTSError,
    UnknownSymbolError,
    UnsupportedLanguageError,
)
from tts.labels import EMOTIONS, LANGUAGES

__version__ = "0.1.0"

__all__ = [
    "EMOTIONS",
    "LANGUAGES",
    "Audio",
    "AudioInputError",
    "CheckpointError",
    "ConditioningError",
    "ConfigError",
    "ManifestError",
    "ReferenceAudioError",
    "TTSError",
    "TextError",
    "UnknownSymbolError",
    "UnsupportedLanguageError",
    "__version__",
]
