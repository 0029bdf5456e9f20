"""Simple fractions (1/2, 3/4), "24/7" and multipliers (3x faster, 3x3) in words, before the
number rules read their digits one number at a time.

Why: until stop 52 English read "1/2 cup" as "one/two cup" and "3x faster" as "three x
faster", Korean "1/2" as 일 / 이, Japanese "1/2" as イチ／ニ.

A fraction here has a one-digit numerator below a denominator of 2 to 10 ("6/12" and "24/7"
are not fractions; dates with a year were rewritten before, `dates_units`). Vietnamese writes
day/month dates with the same slash ("1/2" is the first of February), so there only the
fraction characters (½, which NFKC writes 1⁄2) are read as fractions.
"""

from __future__ import annotations

import re

from tts.text.numbers import cardinal

# NFKC writes ½ as 1⁄2, with the fraction slash.
_FRACTION = re.compile(r"(?<![\d/⁄.,])([1-9])[/⁄](10|[2-9])(?![\d/⁄]|[.,]\d)")
_FRACTION_SLASH = re.compile(r"(?<![\d/⁄.,])([1-9])⁄(10|[2-9])(?![\d/⁄]|[.,]\d)")  # ½ only
_ALWAYS = re.compile(r"(?<![\d/.,])24/7(?![\d/]|[.,]\d)")
_TIMES = re.compile(r"(?<![\w.,])(\d+)\s?[x×](?=\s\w)")  # 3x faster
_BY = re.compile(r"(?<![\w.,])(\d+)\s?[x×]\s?(\d+)(?![\w.,]\d|\w)")  # a 3x3 grid

_EN_PARTS = {2: ("half", "halves"), 4: ("quarter", "quarters")}
_EN_ORDINALS = {3: "third", 5: "fifth", 6: "sixth", 7: "seventh", 8: "eighth", 9: "ninth",
                10: "tenth"}  # fmt: skip
_DE_PARTS = {3: "Drittel", 4: "Viertel", 5: "Fünftel", 6: "Sechstel", 7: "Siebtel",
             8: "Achtel", 9: "Neuntel", 10: "Zehntel"}  # fmt: skip
_ALWAYS_WORDS = {"en": "twenty four seven", "de": "vierundzwanzig sieben"}
_LANGUAGES = ("en", "de", "ko", "ja")


def _fraction(numerator: int, denominator: int, language: str) -> str:
    if language == "en":
        if denominator in _EN_PARTS:
            one, many = _EN_PARTS[denominator]
        else:
            one = _EN_ORDINALS[denominator]
            many = one + "s"
        return f"{cardinal(numerator, 'en')} {one if numerator == 1 else many}"
    if language == "de":
        if denominator == 2:
            return "einhalb"  # (numerator 1: the only half below one)
        return f"{'ein' if numerator == 1 else cardinal(numerator, 'de')} {_DE_PARTS[denominator]}"
    if language == "ko":
        return f"{cardinal(denominator, 'ko')}분의 {cardinal(numerator, 'ko')}"
    if language == "vi":
        return f"{cardinal(numerator, 'vi')} phần {cardinal(denominator, 'vi')}"
    return f"{denominator}分の{numerator}"  # ja: OpenJTalk reads 2分の1 as にぶんのいち


def rewrite(text: str, language: str) -> str:
    """`text` with its fractions in words (en, de, ko, ja; vi: ½ only), and 24/7 and
    multipliers (en, de; Japanese writes 3倍, Korean 3배)."""
    if language == "vi":  # 1/2 is a date there; only ½ (NFKC: 1⁄2) is a fraction
        return _FRACTION_SLASH.sub(lambda m: _fraction(int(m[1]), int(m[2]), "vi"), text)
    if language not in _LANGUAGES:
        return text
    if language in _ALWAYS_WORDS:
        text = _ALWAYS.sub(_ALWAYS_WORDS[language], text)
    text = _FRACTION.sub(lambda m: _fraction(int(m[1]), int(m[2]), language), text)
    if language == "en":
        text = _BY.sub(lambda m: f"{m[1]} by {m[2]}", text)
        text = _TIMES.sub(lambda m: f"{m[1]} times", text)
    elif language == "de":
        text = _BY.sub(lambda m: f"{m[1]} mal {m[2]}", text)
        text = _TIMES.sub(lambda m: f"{cardinal(int(m[1]), 'de')}mal", text)
    return text
