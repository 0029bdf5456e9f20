"""English normalisation rules (numbers, currency, times, ordinals, abbreviations)."""

from __future__ import annotations

import re

from num2words import num2words

from tts.text.numbers import cardinal, read_digits

ABBREVIATIONS: dict[str, str] = {
    "Mr.": "mister", "Mrs.": "missus", "Ms.": "miz", "Dr.": "doctor", "Prof.": "professor",
    "Jr.": "junior", "Sr.": "senior", "St.": "saint", "vs.": "versus", "etc.": "et cetera",
    "e.g.": "for example", "i.e.": "that is", "approx.": "approximately", "Mt.": "mount",
    "Inc.": "incorporated", "Ltd.": "limited", "Co.": "company", "Jan.": "January",
    "Feb.": "February", "Aug.": "August", "Sept.": "September", "Oct.": "October",
    "Nov.": "November", "Dec.": "December",
}  # fmt: skip
_ABBREVIATION = re.compile(
    r"(?<![\w.])("
    + "|".join(re.escape(a) for a in sorted(ABBREVIATIONS, key=len, reverse=True))
    + ")"
)
# "No. 5" is "number five"; a bare "No." is the word no.
_NUMBER_SIGN = re.compile(r"\bNo\.\s?(?=\d)")

_CURRENCY_NAMES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "", ""),
    "₩": ("won", "won", "", ""),
    "₫": ("dong", "dong", "", ""),
}
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_CURRENCY_BEFORE = re.compile(r"(-?)([$€£¥₩₫])\s?(" + _NUM + r")(\s?(?:million|billion|thousand))?")
_CURRENCY_AFTER = re.compile(r"(?<![\d.,])(-?)(" + _NUM + r")\s?([€£¥₩₫])")
_TIME = re.compile(r"\b(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s?([AaPp])\.?[Mm]\.?(?!\w))?")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_PERCENT = re.compile(r"(?<![\d.,])(-?)(" + _NUM + r")\s?%")
_NUMBER = re.compile(r"(?<![\w.])(-?)(" + _NUM + r")(?!\w)|(\d+)")


def _glued(digits: str) -> str:
    """Digits stuck to letters ('MP3', '3D'): a separate word."""
    return f" {cardinal(int(digits), 'en') if len(digits) <= 4 else read_digits(digits, 'en')} "


def _number(sign: str, digits: str, as_year: bool = True) -> str:
    digits = digits.replace(",", "")
    whole, _, fraction = digits.partition(".")
    value = int(whole)
    if as_year and not sign and not fraction and len(whole) == 4 and 1100 <= value <= 2099:
        if value % 100 == 0 and value % 1000:
            words = num2words(value // 100, lang="en") + " hundred"
        else:
            words = num2words(value, lang="en", to="year")
        return words.replace("-", " ")
    words = cardinal(value, "en")
    if fraction:
        words += " point " + read_digits(fraction, "en")
    return ("minus " if sign else "") + words


def _currency(sign: str, symbol: str, amount: str, scale: str = "") -> str:
    one, many, sub_one, sub_many = _CURRENCY_NAMES[symbol]
    whole, _, fraction = amount.replace(",", "").partition(".")
    if scale:
        return f"{_number(sign, amount, False)} {scale.strip()} {many}"
    words = f"{_number(sign, whole, False)} {one if int(whole) == 1 else many}"
    if fraction and sub_one and len(fraction) == 2 and int(fraction):
        cents = int(fraction)
        words += f" {cardinal(cents, 'en')} {sub_one if cents == 1 else sub_many}"
    elif fraction and int(fraction):
        return f"{_number(sign, amount, False)} {many}"
    return words


def _time(match: re.Match) -> str:
    # "p.m." at the very end also ends the sentence: give its dot back.
    end_dot = "." if match.group(0).endswith(".") and match.end() == len(match.string) else ""
    return _clock(*match.groups()) + end_dot


def _clock(hour: str, minute: str, second: str | None, half: str | None) -> str:
    h, m = int(hour), int(minute)
    if h > 24 or m > 59:
        return f"{_number('', hour, False)} {_number('', minute, False)}"
    if m == 0:
        words = cardinal(h, "en") + (" o'clock" if not half else "")
    elif m < 10:
        words = f"{cardinal(h, 'en')} oh {cardinal(m, 'en')}"
    else:
        words = f"{cardinal(h, 'en')} {cardinal(m, 'en')}"
    if second and int(second):
        words += f" and {cardinal(int(second), 'en')} seconds"
    if half:
        words += " a m" if half.lower() == "a" else " p m"
    return words


def _abbreviation(match: re.Match, text: str) -> str:
    # At the very end the abbreviation's dot also ends the sentence: keep one.
    at_end = match.end() == len(text)
    return ABBREVIATIONS[match.group(1)] + ("." if at_end else "")


def expand(text: str) -> str:
    text = _NUMBER_SIGN.sub("number ", text)
    text = _ABBREVIATION.sub(lambda m: _abbreviation(m, text), text)
    text = _CURRENCY_BEFORE.sub(lambda m: _currency(m[1], m[2], m[3], m[4] or ""), text)
    text = _CURRENCY_AFTER.sub(lambda m: _currency(m[1], m[3], m[2]), text)
    text = _TIME.sub(_time, text)
    text = _ORDINAL.sub(
        lambda m: (
            num2words(int(m[1]), lang="en", to="ordinal").replace("-", " ")
            if len(m[1]) <= 15
            else read_digits(m[1], "en")
        ),
        text,
    )
    text = _PERCENT.sub(lambda m: _number(m[1], m[2], False) + " percent", text)
    text = _NUMBER.sub(lambda m: _number(m[1], m[2]) if m[2] else _glued(m[3]), text)
    return text
