"""German normalisation rules: decimal comma, '.' thousands, ordinals '3.', dates, € and Uhr."""

from __future__ import annotations

import re

from num2words import num2words

from tts.text.numbers import cardinal, read_digits

ABBREVIATIONS: dict[str, str] = {
    "z.B.": "zum Beispiel", "z. B.": "zum Beispiel", "d.h.": "das heißt", "d. h.": "das heißt",
    "u.a.": "unter anderem", "u. a.": "unter anderem", "usw.": "und so weiter",
    "bzw.": "beziehungsweise", "ca.": "circa", "Dr.": "Doktor", "Prof.": "Professor",
    "Hr.": "Herr", "Hrn.": "Herrn", "Fr.": "Frau", "Nr.": "Nummer", "Str.": "Straße",
    "evtl.": "eventuell", "ggf.": "gegebenenfalls", "inkl.": "inklusive", "vgl.": "vergleiche",
    "Mio.": "Millionen", "Mrd.": "Milliarden", "etc.": "et cetera", "u.s.w.": "und so weiter",
    "bspw.": "beispielsweise", "z.T.": "zum Teil", "s.o.": "siehe oben", "s.u.": "siehe unten",
    "Jh.": "Jahrhundert", "St.": "Sankt", "Tel.": "Telefon",
}  # fmt: skip
_ABBREVIATION = re.compile(
    r"(?<![\w.])("
    + "|".join(re.escape(a) for a in sorted(ABBREVIATIONS, key=len, reverse=True))
    + ")"
)

MONTHS = (
    "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
    "Oktober", "November", "Dezember",
)  # fmt: skip
# After these words an ordinal takes the weak ending -en ("am dritten Mai").
DATIVE_WORDS = frozenset(
    ["am", "vom", "zum", "im", "beim", "dem", "den", "des", "seit", "bis", "ab", "zur"]
)  # fmt: skip
ARTICLES = frozenset(["der", "die", "das"])

_NUM = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?"
_DATE = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})?(?![\d])")
_ORDINAL = re.compile(r"(?<![\d.,])(\d{1,4})\.(?=\s(\w+))")
_TIME = re.compile(r"\b(\d{1,2})[:.](\d{2})\s?Uhr\b|\b(\d{1,2}):(\d{2})\b")
_HOUR = re.compile(r"\b(\d{1,2})\s?Uhr\b")
_CURRENCY_BEFORE = re.compile(r"(-?)([$€£¥₩])\s?(" + _NUM + r")")
_CURRENCY_AFTER = re.compile(r"(?<![\d.,])(-?)(" + _NUM + r")\s?(€|\$|£|¥|₩|EUR\b|Euro\b|Dollar\b)")
_CURRENCY_NAMES = {"€": "Euro", "EUR": "Euro", "Euro": "Euro", "$": "Dollar", "Dollar": "Dollar",
                   "£": "Pfund", "¥": "Yen", "₩": "Won"}  # fmt: skip
_PERCENT = re.compile(r"(?<![\d.,])(-?)(" + _NUM + r")\s?%")
_NUMBER = re.compile(r"(?<![\w,])(-?)(" + _NUM + r")(?!\w)|(\d+)")


def _glued(digits: str) -> str:
    """Digits stuck to letters ('MP3', '3D'): a separate word."""
    return f" {cardinal(int(digits), 'de') if len(digits) <= 4 else read_digits(digits, 'de')} "


def _number(sign: str, digits: str, as_year: bool = True) -> str:
    whole, _, fraction = digits.replace(".", "").partition(",")
    value = int(whole)
    if as_year and not sign and not fraction and len(whole) == 4 and 1100 <= value <= 1999:
        words = num2words(value, lang="de", to="year")
    else:
        words = cardinal(value, "de")
    if fraction:
        words += " Komma " + read_digits(fraction, "de")
    return ("minus " if sign else "") + words


def ordinal(number: int, previous_word: str | None) -> str:
    """'3.' -> 'dritte' after an article, 'dritten' after am/vom/zum..., else 'dritter'."""
    stem = num2words(number, lang="de", to="ordinal")  # "dritte"
    if previous_word in DATIVE_WORDS:
        return stem + "n"
    if previous_word in ARTICLES:
        return stem
    return stem + "r"


def _previous_word(text: str, start: int) -> str | None:
    # A bounded look back keeps this linear (a regex group for it could backtrack).
    words = text[max(0, start - 8) : start].split()
    return words[-1].lower() if words and text[start - 1 : start].isspace() else None


def _ordinal(match: re.Match, text: str) -> str:
    """'3.' followed by a word is an ordinal after an article or preposition, before a month
    name or before a lower-case word; otherwise it is a number ending a sentence."""
    digits, following = match.group(1), match.group(2)
    previous = _previous_word(text, match.start())
    is_ordinal = previous in DATIVE_WORDS or previous in ARTICLES or following in MONTHS
    if not (is_ordinal or following[:1].islower()):
        return match.group(0)
    return ordinal(int(digits), previous)


def _date(match: re.Match, text: str) -> str:
    day, month, year = int(match[1]), int(match[2]), match[3]
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return match.group(0)
    words = f"{ordinal(day, _previous_word(text, match.start()))} {MONTHS[month - 1]}"
    if year:
        words += " " + _number("", year)
    return words


def _time(match: re.Match) -> str:
    hour, minute = (match[1], match[2]) if match[1] else (match[3], match[4])
    h, m = int(hour), int(minute)
    if h > 24 or m > 59:
        return match.group(0).replace(":", " ")
    words = f"{cardinal(h, 'de')} Uhr"
    if h == 1:
        words = "ein Uhr"
    return words + (f" {cardinal(m, 'de')}" if m else "")


def _currency(sign: str, amount: str, symbol: str) -> str:
    name = _CURRENCY_NAMES[symbol]
    whole, _, fraction = amount.replace(".", "").partition(",")
    words = "ein" if whole == "1" and not sign else _number(sign, whole, False)
    words += f" {name}"
    if fraction and len(fraction) == 2 and int(fraction):
        words += " " + cardinal(int(fraction), "de")
    elif fraction and int(fraction):
        return f"{_number(sign, amount, False)} {name}"
    return words


def _abbreviation(match: re.Match, text: str) -> str:
    # At the very end the abbreviation's dot also ends the sentence: keep one.
    at_end = match.end() == len(text)
    return ABBREVIATIONS[match.group(1)] + ("." if at_end else "")


def expand(text: str) -> str:
    text = _ABBREVIATION.sub(lambda m: _abbreviation(m, text), text)
    text = _DATE.sub(lambda m: _date(m, text), text)
    text = _TIME.sub(_time, text)
    text = _HOUR.sub(lambda m: ("ein" if m[1] == "1" else cardinal(int(m[1]), "de")) + " Uhr", text)
    text = _CURRENCY_BEFORE.sub(lambda m: _currency(m[1], m[3], m[2]), text)
    text = _CURRENCY_AFTER.sub(lambda m: _currency(m[1], m[2], m[3]), text)
    text = _PERCENT.sub(lambda m: _number(m[1], m[2], False) + " Prozent", text)
    text = _ORDINAL.sub(lambda m: _ordinal(m, text), text)
    text = _NUMBER.sub(lambda m: _number(m[1], m[2]) if m[2] else _glued(m[3]), text)
    return text
