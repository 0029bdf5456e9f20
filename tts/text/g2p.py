"""`phonemize`: text to inventory symbols, per language, with mixed scripts.

Text is cut into segments at punctuation, segments into script runs (`tts.text.scripts`
documents which G2P reads which run), and each run is phonemized by OpenJTalk (Japanese) or
espeak-ng (en, de, ko, vi). All espeak runs of a batch of texts go to espeak in one call per
language. Symbols between words: '|' (espeak languages) or '#' (an accent-phrase boundary,
Japanese); punctuation becomes one of `PUNCTUATION`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from tts.labels import check_language
from tts.text.espeak import espeak_words
from tts.text.japanese import japanese_reading, japanese_symbols
from tts.text.scripts import HANGUL, JAPANESE, LATIN, script_runs
from tts.text.symbols import WORD_BOUNDARY

# Every punctuation character the G2P turns into a symbol. Characters in neither this map
# nor a script (symbols, emoji) are not pronounced.
PUNCTUATION_SYMBOL: dict[str, str] = {
    ",": ",", "、": ",", "・": ",", ".": ".", "。": ".", "!": "!", "?": "?", ";": ";",
    ":": ":", "…": "…", "—": "—", "~": "—", '"': '"', "「": '"', "」": '"', "『": '"',
    "』": '"', "(": "(", ")": ")", "[": "(", "]": ")", "{": "(", "}": ")", "【": "(",
    "】": ")", "〈": "(", "〉": ")", "《": "(", "》": ")", "〔": "(", "〕": ")", "¿": "?",
    "¡": "!",
}  # fmt: skip

# A Latin run in Japanese text that OpenJTalk would only spell out letter by letter is read
# as English, unless it is an acronym of at most this many capitals ("NHK", "AI").
MAX_ACRONYM = 5


@dataclass
class _EspeakRun:
    language: str
    text: str
    symbols: list[str] | None = None


@functools.lru_cache(maxsize=4096)
def _openjtalk_knows(word: str) -> bool:
    """True if OpenJTalk reads `word` as a word, not letter by letter."""
    if word.isupper() and len(word) <= MAX_ACRONYM:
        return True
    # OpenJTalk spells unknown words letter by letter, and spells any all-capitals word; a
    # word whose reading changes when written in capitals is one it knows ("iPhone").
    return japanese_reading(word) != japanese_reading(word.upper())


def _run_reader(script: str, run: str, language: str) -> str:
    """Which G2P reads a run: 'ja' (OpenJTalk) or an espeak language."""
    if script == JAPANESE:
        return "ja"
    if script == HANGUL:
        return "ko"
    if script == LATIN:
        if language == "ja":
            return "ja" if _openjtalk_knows(run) else "en"
        return "en" if language == "ko" else language
    # digits without letters around them: the text's own language reads them
    return language if script != "other" else ""


def _pieces(text: str, language: str) -> list[object]:
    """A text as a list of: punctuation symbols (str), Japanese text runs
    (('ja', text, question)) and `_EspeakRun`s (filled in later, in one batch)."""
    pieces: list[object] = []
    word: list[str] = []

    def flush_word(next_punct: str = "") -> None:
        if not word:
            return
        runs = script_runs("".join(word))
        word.clear()
        for script, run in runs:
            reader = _run_reader(script, run, language)
            if not reader:
                continue
            previous = pieces[-1] if pieces else None
            if reader == "ja":
                if isinstance(previous, list) and previous[0] == "ja":
                    previous[1] += run
                else:
                    pieces.append(["ja", run, False])
            elif isinstance(previous, _EspeakRun) and previous.language == reader:
                previous.text += run
            else:
                pieces.append(_EspeakRun(reader, run))

    for char in text:
        if char in PUNCTUATION_SYMBOL:
            flush_word()
            symbol = PUNCTUATION_SYMBOL[char]
            if symbol == "?" and pieces and isinstance(pieces[-1], list):
                pieces[-1][2] = True  # OpenJTalk marks the question itself
            pieces.append(symbol)
        elif char.isspace():
            flush_word()
            previous = pieces[-1] if pieces else None
            if isinstance(previous, _EspeakRun):
                previous.text += " "  # one espeak call for the whole phrase
        elif char in "'-" and word:
            word.append(char)  # inside a word (don't, well-known); alone it is silent
        else:
            word.append(char)
    flush_word()
    return pieces


def _assemble(pieces: list[object], language: str) -> list[str]:
    boundary = "#" if language == "ja" else WORD_BOUNDARY
    out: list[str] = []

    def add_words(words: list[list[str]]) -> None:
        for word in words:
            if out and out[-1] not in ("#", WORD_BOUNDARY):
                out.append(boundary)
            out.extend(word)

    for piece in pieces:
        if isinstance(piece, str):
            if piece == "?" and out and out[-1] == "?":
                continue  # already written by OpenJTalk's question mark
            out.append(piece)
        elif isinstance(piece, list):
            text = piece[1] + ("？" if piece[2] else "")
            symbols = japanese_symbols(text)
            if symbols:
                add_words([symbols])
        elif isinstance(piece, _EspeakRun) and piece.symbols:
            add_words(piece.symbols)
    while out and out[-1] in ("#", WORD_BOUNDARY):
        out.pop()
    return out


def phonemize_many(texts: Sequence[str], language: str) -> list[list[str]]:
    """Phonemize several (already normalised) texts; espeak runs are batched per language."""
    language = check_language(language)
    all_pieces = [_pieces(text, language) for text in texts]
    by_language: dict[str, list[_EspeakRun]] = {}
    for pieces in all_pieces:
        for piece in pieces:
            if isinstance(piece, _EspeakRun):
                by_language.setdefault(piece.language, []).append(piece)
    for espeak_language, runs in by_language.items():
        results = espeak_words([run.text for run in runs], espeak_language)
        for run, words in zip(runs, results, strict=True):
            run.symbols = words
    return [_assemble(pieces, language) for pieces in all_pieces]


def phonemize(text: str, language: str, normalized: bool = False) -> list[str]:
    """Phonemize `text` into symbols of the inventory.

    The text is normalised first (numbers, abbreviations, ...) unless `normalized` is True.
    The result may be empty when nothing in the text can be pronounced.
    """
    from tts.text.normalize import normalize

    language = check_language(language)
    if not normalized:
        text = normalize(text, language)
    return phonemize_many([text], language)[0]
