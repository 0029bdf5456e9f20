"""Sentence splitting that knows abbreviations, initials, decimals and German ordinals.

Sentences end at . ! ? … (and Japanese/Chinese 。！？, which need no space after them), plus
any closing quotes or brackets. A '.' does not end a sentence when the word before it is a
known abbreviation (Mr., Dr., z.B., e.g., TP.), a single capital (an initial), when the next
word starts in lower case, or, in German, when it makes an ordinal ('am 3. Mai'). Korean
endings like '다.' and '요.' (and '?', '!') end a sentence even without a space after them. Blank lines
always separate sentences. Splitting never changes or drops a non-space character: the
sentences joined again give the text back, up to whitespace.

'、' (Japanese comma) and other clause punctuation do not end sentences; the front end cuts
at them when a sentence is too long for one chunk.
"""

from __future__ import annotations

import re

from tts.labels import check_language
from tts.text.normalize_de import ARTICLES, DATIVE_WORDS, MONTHS

# Words that are followed by '.' without ending a sentence, lower case, without the dot.
NO_SPLIT_ABBREVIATIONS: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "mr",
            "mrs",
            "ms",
            "dr",
            "prof",
            "jr",
            "sr",
            "st",
            "vs",
            "e.g",
            "i.e",
            "approx",
            "mt",
            "inc",
            "ltd",
            "co",
            "jan",
            "feb",
            "aug",
            "sept",
            "oct",
            "nov",
            "dec",
            "fig",
            "no",
            "cf",
        ]
    ),
    "de": frozenset(
        [
            "z.b",
            "d.h",
            "u.a",
            "bzw",
            "ca",
            "dr",
            "prof",
            "hr",
            "hrn",
            "fr",
            "nr",
            "str",
            "evtl",
            "ggf",
            "inkl",
            "vgl",
            "mio",
            "mrd",
            "bspw",
            "z.t",
            "s.o",
            "s.u",
            "jh",
            "st",
            "tel",
            "abs",
            "bd",
        ]
    ),
    "vi": frozenset(
        ["tp", "v.v", "ts", "ths", "pgs", "gs", "bs", "q", "p", "st", "dr", "mr", "mrs"]
    ),
    "ko": frozenset(),
    "ja": frozenset(),
}

_CANDIDATE = re.compile(r"[.!?…。！？]+[\"'」』)\]”’]*|\n\s*\n")
_KO_ENDING = re.compile(r"[다요까죠네]\.$")
_WIDE_END = frozenset("。！？")


def _word_before(text: str, end: int) -> str:
    start = end
    while start > 0 and not text[start - 1].isspace() and end - start < 40:
        start -= 1
    return text[start:end]


def _next_word(text: str, start: int) -> str:
    match = re.match(r"\s*(\S{0,40})", text[start : start + 50])
    return match.group(1) if match else ""


def _is_boundary(text: str, match: re.Match, language: str) -> bool:
    mark = match.group(0)
    end = match.end()
    if mark.startswith("\n"):
        return True
    at_end = end >= len(text)
    followed_by_space = at_end or text[end].isspace()
    if not followed_by_space:
        if mark[0] in _WIDE_END or mark[-1] in _WIDE_END:
            return True
        if language == "ko" and mark[-1] in "?!" and not text[end].isdigit():
            return True
        if language == "ko" and _KO_ENDING.search(text[max(0, match.start() - 1) : end]):
            return not text[end].isdigit()
        return False
    if at_end or mark != ".":
        return True
    word = _word_before(text, match.start())
    bare = word.lstrip("\"'(«„“").lower()
    following = _next_word(text, end)
    if bare in NO_SPLIT_ABBREVIATIONS[language]:
        return False
    if len(bare) == 1 and word[-1:].isupper():
        return False  # an initial: "J. K. Rowling"
    if following[:1].islower():
        return False
    if language == "de" and bare.isdigit() and len(bare) <= 4:
        previous = _word_before(text, max(0, match.start() - len(word) - 1)).lower()
        if following.rstrip(".,;:!?") in MONTHS or previous in ARTICLES | DATIVE_WORDS:
            return False
    return True


def split_sentences(text: str, language: str) -> list[str]:
    """Split `text` into sentences (stripped, none empty)."""
    language = check_language(language)
    sentences: list[str] = []
    start = 0
    for match in _CANDIDATE.finditer(text):
        if _is_boundary(text, match, language):
            sentence = text[start : match.end()].strip()
            if sentence:
                sentences.append(sentence)
            start = match.end()
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences
