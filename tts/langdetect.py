"""Guess which of the toolkit's languages a text is written in, from its script.

Five languages with distinct writing habits need no statistical model: kana or kanji mean
Japanese, Hangul means Korean, the stacked diacritics of quốc ngữ mean Vietnamese, umlauts/ß or
common function words mean German, and anything else in Latin script is taken as English.
Used by the demo and the server when a request names no language.
"""

from __future__ import annotations

import re
import unicodedata

# Letters only Vietnamese uses among our languages (ă đ ơ ư), plus the precomposed
# "Latin Extended Additional" vowels with tone marks (ạ ả ấ ... ỹ), U+1EA0-U+1EF9.
_VIETNAMESE = re.compile(r"[ăĂđĐơƠưƯ\u1ea0-\u1ef9]")
_GERMAN_LETTERS = re.compile(r"[äöüÄÖÜß]")
_WORD = re.compile(r"[^\W\d_]+")
_GERMAN_WORDS = frozenset(
    [
        "der",
        "die",
        "das",
        "und",
        "ist",
        "nicht",
        "ich",
        "ein",
        "eine",
        "einen",
        "zu",
        "mit",
        "sie",
        "es",
        "auf",
        "für",
        "wir",
        "ihr",
        "den",
        "dem",
        "des",
        "sich",
        "auch",
        "noch",
        "wie",
        "aber",
        "oder",
        "wenn",
        "dass",
        "bitte",
        "danke",
        "guten",
        "morgen",
        "heute",
        "sehr",
        "gut",
    ]
)
_ENGLISH_WORDS = frozenset(
    [
        "the",
        "and",
        "is",
        "are",
        "to",
        "of",
        "a",
        "an",
        "in",
        "that",
        "it",
        "you",
        "this",
        "was",
        "for",
        "with",
        "on",
        "not",
        "be",
        "have",
        "i",
        "we",
        "they",
        "what",
        "how",
        "hello",
        "good",
        "morning",
        "today",
        "very",
        "please",
        "thank",
    ]
)


def _count(text: str, lo: int, hi: int) -> int:
    return sum(1 for ch in text if lo <= ord(ch) <= hi)


def detect_language(text: str) -> str:
    """Best guess among ja, ko, vi, de, en (en when nothing points elsewhere)."""
    text = unicodedata.normalize("NFC", text or "")
    kana = (
        _count(text, 0x3040, 0x30FF) + _count(text, 0x31F0, 0x31FF) + _count(text, 0xFF66, 0xFF9D)
    )
    hangul = (
        _count(text, 0xAC00, 0xD7AF) + _count(text, 0x1100, 0x11FF) + _count(text, 0x3130, 0x318F)
    )
    kanji = _count(text, 0x4E00, 0x9FFF) + _count(text, 0x3400, 0x4DBF)
    if kana or hangul or kanji:
        # Korean text rarely mixes in Hanja today; Japanese always has kana or kanji.
        return "ko" if hangul > kana + kanji else "ja"
    if _VIETNAMESE.search(text):
        return "vi"
    if _GERMAN_LETTERS.search(text):
        return "de"
    words = [w.lower() for w in _WORD.findall(text)]
    german = sum(w in _GERMAN_WORDS for w in words)
    english = sum(w in _ENGLISH_WORDS for w in words)
    return "de" if german > english else "en"


__all__ = ["detect_language"]
