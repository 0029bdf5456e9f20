"""espeak-ng G2P through phonemizer, for en, de, ko and vi.

One `EspeakBackend` per language is created lazily and reused: creating one loads the voice,
which costs far more than phonemizing a sentence. Texts are sent in batches (one list per
call), never word by word.

espeak returns IPA words; `split_ipa_word` splits each into symbols (see there).

libespeak-ng keeps its state in the process (one backend per language is shared by every
Synthesizer, the server's replicas included), and two threads phonemizing at once garble each
other's words: at stop 52, two front ends phonemizing "Hello there." on two threads 300 times
returned 6 of 600 results with words missing ([90, 17] for 11 symbols), and a server with two
workers answered the same request with different audio. So one thread at a time phonemizes
(`_ESPEAK_LOCK`; a sentence takes milliseconds). OpenJTalk did not show it (0 of 400).
"""

from __future__ import annotations

import functools
import logging
import threading
import unicodedata

from tts.errors import TextError

ESPEAK_VOICES: dict[str, str] = {"en": "en-us", "de": "de", "ko": "ko", "vi": "vi"}
_ESPEAK_LOCK = threading.Lock()  # see the module docstring

STRESS_MARKS = ("ˈ", "ˌ")
LENGTH_MARKS = ("ː", "ˑ")

# Multi-character phones kept as one symbol: affricates and the diphthongs espeak-ng treats as
# single phonemes in these four languages. Matched longest first.
UNITS: tuple[str, ...] = (
    "tʃ", "dʒ", "ts", "dz", "tɕ", "dʑ", "pf",
    "aɪ", "aʊ", "ɔɪ", "oʊ", "eɪ", "əʊ", "ɔø", "ɛɪ", "iə", "uə", "yə", "iɛ", "ʊə",
)  # fmt: skip
_UNITS_BY_FIRST: dict[str, tuple[str, ...]] = {}
for _unit in sorted(UNITS, key=len, reverse=True):
    _UNITS_BY_FIRST[_unit[0]] = (*_UNITS_BY_FIRST.get(_unit[0], ()), _unit)

# Modifier letters that belong to the phone before them (aspiration, palatalisation, ...).
_MODIFIERS = frozenset("ʰʲʷˠˤⁿˡʼ")

# espeak-ng writes the Vietnamese tones as digits after the vowel nucleus (ngang, the level
# tone, is unmarked except in a few letter names, '1' and '7'); its IPA for tone 3 is 'ɜ',
# which is never a vowel in espeak's Vietnamese. We name the tones with Chao tone letters so
# they cannot clash with any segment.
VI_TONES: dict[str, str] = {
    "1": "˧",  # ngang, level (rarely marked)
    "7": "˧",
    "2": "˨˩",  # huyền, low falling
    "ɜ": "˧˥",  # sắc, rising
    "3": "˧˥",
    "4": "˧˩˧",  # hỏi, dipping
    "5": "˧ˀ˥",  # ngã, broken rising
    "6": "˨˩ˀ",  # nặng, low glottalised
}

# espeak-ng's Korean writes aspiration as a plain 'h' after a stop ('kh', 'tɕh') and tenseness
# as '-' after a consonant ('k-', 's-'). Korean has no stop + /h/ sequence on the surface, so
# we fuse both into standard IPA diacritics: 'kʰ', 'k͈'. Elsewhere '-' (a short Vietnamese 'e-')
# becomes the extra-short breve. '?' is espeak's "no idea" output for a letter it cannot read;
# it names no sound and is skipped.
_KO_STOPS = frozenset(("p", "t", "k", "tɕ", "tʃ", "ts"))
_TENSE = "\u0348"
_SHORT = "\u0306"


def split_ipa_word(ipa: str, language: str) -> list[str]:
    """Split one word of espeak IPA into inventory symbols.

    Stress marks, the length mark and Vietnamese tones are symbols of their own; affricates and
    diphthongs in `UNITS` are one symbol; combining diacritics and modifier letters stay on
    their phone ('t̪', 'n̩', 'kʰ').
    """
    symbols: list[str] = []
    i, n = 0, len(ipa)
    while i < n:
        char = ipa[i]
        if language == "vi" and char in VI_TONES:
            symbols.append(VI_TONES[char])
            i += 1
            continue
        if char in STRESS_MARKS or char in LENGTH_MARKS:
            symbols.append(char)
            i += 1
            continue
        if char != "-" and unicodedata.category(char)[0] not in "LM":
            i += 1  # '?' (espeak's "cannot read this"), '+' and other annotations: no sound
            continue
        if char == "-" or unicodedata.combining(char) or char in _MODIFIERS:
            mark = char
            if char == "-":
                mark = _TENSE if language == "ko" else _SHORT
            if symbols and symbols[-1] not in STRESS_MARKS and symbols[-1] not in LENGTH_MARKS:
                symbols[-1] += mark
            else:  # a mark with nothing to sit on stays visible as its own symbol
                symbols.append(mark)
            i += 1
            continue
        if language == "ko" and char == "q":
            char = "k"  # espeak's Korean 'q' is a plain or tense /k/; Korean has no uvular
        if language == "ko" and char == "h" and symbols and symbols[-1] in _KO_STOPS:
            symbols[-1] += "ʰ"
            i += 1
            continue
        unit = char
        for candidate in _UNITS_BY_FIRST.get(char, ()):
            if ipa.startswith(candidate, i):
                unit = candidate
                break
        symbols.append(unit)
        i += len(unit)
    return _within_inventory([unicodedata.normalize("NFC", s) for s in symbols])


def _within_inventory(symbols: list[str]) -> list[str]:
    """A phone+diacritic combination the inventory lacks becomes the phone, then the marks."""
    from tts.text.symbols import ALL_SYMBOLS

    known = _known_symbols(ALL_SYMBOLS)
    if all(s in known for s in symbols):
        return symbols
    out: list[str] = []
    for symbol in symbols:
        if symbol in known or len(symbol) == 1:
            out.append(symbol)
            continue
        parts = unicodedata.normalize("NFD", symbol)
        base = parts[0]
        rest = parts[1:]
        # keep the longest known head ('tʃ' of 'tʃ̆'), then each mark on its own
        for cut in range(len(parts), 0, -1):
            head = unicodedata.normalize("NFC", parts[:cut])
            if head in known:
                base, rest = head, parts[cut:]
                break
        out.append(base)
        out.extend(rest)
    return out


@functools.lru_cache(maxsize=1)
def _known_symbols(symbols: tuple[str, ...]) -> frozenset[str]:
    return frozenset(symbols)


@functools.cache
def _backend(language: str):
    from phonemizer.backend import EspeakBackend

    # phonemizer warns about words it could not align and about language switches; the
    # switches are removed (remove-flags) and we align nothing, so keep it quiet.
    logger = logging.getLogger("phonemizer")
    logger.setLevel(logging.ERROR)
    try:
        return EspeakBackend(
            ESPEAK_VOICES[language],
            with_stress=True,
            language_switch="remove-flags",
            logger=logger,
        )
    except RuntimeError as exc:  # espeak-ng or its voice is missing
        raise TextError(f"espeak-ng cannot phonemize {language!r}: {exc}") from exc


def espeak_words(texts: list[str], language: str) -> list[list[list[str]]]:
    """Phonemize a batch of plain-word texts: for each text, a list of words of phones.

    The texts must hold words only (punctuation is handled by the caller); empty texts give
    empty lists.
    """
    from phonemizer.separator import Separator

    separator = Separator(phone="", word=" ", syllable="")
    todo = [(i, t) for i, t in enumerate(texts) if t.strip()]
    results: list[list[list[str]]] = [[] for _ in texts]
    if not todo:
        return results
    with _ESPEAK_LOCK:  # made and used by one thread at a time
        backend = _backend(language)
        outputs = backend.phonemize([t for _, t in todo], separator=separator, strip=True)
    for (i, _), output in zip(todo, outputs, strict=True):
        words = []
        for word in output.split():
            phones = split_ipa_word(word, language)
            if phones:
                words.append(phones)
        results[i] = words
    return results
