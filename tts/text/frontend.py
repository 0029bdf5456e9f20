"""`TextFrontend`: raw text to chunks of normalised text, symbols and ids.

text -> sentences (`split_sentences`) -> normalised (`normalize`) -> symbols (`phonemize`,
one espeak batch for all sentences) -> chunks of at most `max_symbols` symbols. A sentence
longer than that is cut in two, preferably at clause punctuation (, ; : 、 —), else at a
space, else mid-text, and each half again until it fits. Nothing is dropped or truncated:
the chunk texts joined give the normalised text back (up to whitespace).

`TextChunk.ids` are the symbol ids only; the model adds its language, emotion, bos and eos
tokens (see `SymbolInventory.language_token`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tts.errors import TextError
from tts.labels import check_language
from tts.text.g2p import phonemize_many
from tts.text.inventory import SymbolInventory
from tts.text.normalize import normalize
from tts.text.sentences import split_sentences
from tts.text.symbols import JA_PROSODY, PUNCTUATION, WORD_BOUNDARY

# Texts longer than this (in characters, per call) are refused: split a book into chapters.
# Up to the limit, long text is chunked, never truncated.
MAX_TEXT_CHARS = 100_000
MIN_MAX_SYMBOLS = 16

_CLAUSE = re.compile(r"[,;:、—]")


@dataclass
class TextChunk:
    text: str
    symbols: list[str]
    ids: list[int]
    language: str
    sentence_index: int = field(default=0)


class TextFrontend:
    """Normalise, split and phonemize text into model-ready chunks."""

    def __init__(self, max_symbols: int = 400, inventory: SymbolInventory | None = None) -> None:
        if not isinstance(max_symbols, int) or max_symbols < MIN_MAX_SYMBOLS:
            raise TextError(
                f"max_symbols must be an integer >= {MIN_MAX_SYMBOLS}, got {max_symbols!r}"
            )
        self.max_symbols = max_symbols
        self.inventory = inventory or SymbolInventory.default()

    def _check(self, text: object) -> str:
        if not isinstance(text, str):
            raise TextError(f"text must be a string, got {type(text).__name__}")
        if len(text) > MAX_TEXT_CHARS:
            raise TextError(
                f"text has {len(text)} characters, more than the limit of {MAX_TEXT_CHARS} "
                "per call (MAX_TEXT_CHARS); split it into parts"
            )
        if not text.strip():
            raise TextError("text is empty or whitespace only; give some words to speak")
        return text

    def _fit(self, text: str, symbols: list[str], language: str) -> list[tuple[str, list[str]]]:
        """Cut one sentence into pieces of at most `max_symbols` symbols."""
        if len(symbols) <= self.max_symbols or len(text) < 2:
            return [(text, symbols)]
        cut = _cut_point(text)
        halves = [text[:cut].strip(), text[cut:].strip()]
        halves = [h for h in halves if h]
        if len(halves) < 2:
            return [(text, symbols)]
        pieces: list[tuple[str, list[str]]] = []
        for half, half_symbols in zip(halves, phonemize_many(halves, language), strict=True):
            pieces += self._fit(half, half_symbols, language)
        return pieces

    def process(self, text: str, language: str) -> list[TextChunk]:
        """Text to chunks; raises `TextError` for empty, too long or unpronounceable text."""
        language = check_language(language)
        text = self._check(text)
        sentences = [normalize(s, language) for s in split_sentences(text, language)]
        sentences = [s for s in sentences if s]
        all_symbols = phonemize_many(sentences, language)
        chunks: list[TextChunk] = []
        silent_text = ""  # an unpronounceable sentence (emoji only) rides with a neighbour
        for index, (sentence, symbols) in enumerate(zip(sentences, all_symbols, strict=True)):
            for piece, piece_symbols in self._fit(sentence, symbols, language):
                if not _pronounceable(piece_symbols):
                    if chunks:
                        chunks[-1].text += " " + piece
                    else:
                        silent_text += piece + " "
                    continue
                ids = self.inventory.encode(piece_symbols, context=piece)
                chunks.append(TextChunk(silent_text + piece, piece_symbols, ids, language, index))
                silent_text = ""
        if not chunks:
            raise TextError(
                f"nothing pronounceable in the text for language {language!r} "
                f"(only symbols, emoji or unsupported scripts): {text[:80]!r}"
            )
        return chunks

    def encode(self, text: str, language: str) -> list[list[int]]:
        """The ids of each chunk of `text`."""
        return [chunk.ids for chunk in self.process(text, language)]


_SILENT = frozenset((*PUNCTUATION, *JA_PROSODY, WORD_BOUNDARY))


def _pronounceable(symbols: list[str]) -> bool:
    return any(s not in _SILENT for s in symbols)


def _cut_point(text: str) -> int:
    """Where to cut a too-long text: clause punctuation nearest the middle, else the space
    nearest the middle, else the middle (moved off combining marks)."""
    middle = len(text) // 2
    best = None
    for match in _CLAUSE.finditer(text):
        position = match.end()
        if 0 < position < len(text) and (
            best is None or abs(position - middle) < abs(best - middle)
        ):
            best = position
    if best is None:
        left, right = text.rfind(" ", 0, middle), text.find(" ", middle)
        spaces = [p for p in (left, right) if p > 0]
        if spaces:
            best = min(spaces, key=lambda p: abs(p - middle))
    if best is None:
        best = middle
        while best < len(text) - 1 and _joins_previous(text[best]):
            best += 1
    return max(1, best)


def _joins_previous(char: str) -> bool:
    import unicodedata

    return unicodedata.combining(char) > 0 or char in "ーっッゃゅょャュョぁぃぅぇぉァィゥェォ"
