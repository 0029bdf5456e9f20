"""Typed errors for every way user input can be wrong.

Each error names the problem and tells the user what to do about it. They all derive from
`TTSError`, and the input errors also from `ValueError`, so callers can catch either.
"""

from __future__ import annotations

from collections.abc import Iterable


class TTSError(Exception):
    """Base class of every error this toolkit raises on purpose."""


class TextError(TTSError, ValueError):
    """The input text cannot be synthesised (empty, only symbols, too long, ...)."""


class UnsupportedLanguageError(TextError):
    """A language code the toolkit does not speak."""

    def __init__(self, language: object, supported: Iterable[str]) -> None:
        self.language = language
        self.supported = tuple(supported)
        super().__init__(
            f"unsupported language {language!r}; supported languages are "
            f"{', '.join(self.supported)} (ISO 639-1 codes)"
        )


class UnknownSymbolError(TextError):
    """Phoneme symbols that are not in the model's symbol inventory."""

    def __init__(self, symbols: Iterable[str], context: str = "") -> None:
        self.symbols = tuple(sorted(set(symbols)))
        where = f" in {context!r}" if context else ""
        super().__init__(
            f"unknown phoneme symbol(s) {list(self.symbols)}{where}; they are not in the symbol "
            "inventory. Report the input text so the front end can learn them."
        )


class AudioInputError(TTSError, ValueError):
    """Audio given to a codec or model has the wrong shape, rate, length or values."""


class ReferenceAudioError(AudioInputError):
    """A reference clip is unreadable, silent, too short or otherwise unusable."""


class ConditioningError(TTSError, ValueError):
    """A `Conditioning` batch has the wrong shape, batch size or label ids for the model."""


class CheckpointError(TTSError):
    """A checkpoint is missing, incomplete, corrupt, unsafe or of the wrong kind."""


class ConfigError(TTSError, ValueError):
    """A configuration value or file is invalid."""


class ManifestError(TTSError, ValueError):
    """A data manifest line is invalid; the message names the file and line."""
