"""Vietnamese normalisation: '.' thousands and ',' decimals, đồng, giờ, dates, 'thứ' ordinals."""

from __future__ import annotations

import re

from tts.text.numbers import read_digits, vi_cardinal

ABBREVIATIONS: dict[str, str] = {
    "TP.": "thành phố", "Tp.": "thành phố", "v.v.": "vân vân", "TS.": "tiến sĩ",
    "ThS.": "thạc sĩ", "PGS.": "phó giáo sư", "GS.": "giáo sư", "BS.": "bác sĩ",
    "Q.": "quận", "P.": "phường", "St.": "số", "Dr.": "tiến sĩ", "Mr.": "ông", "Mrs.": "bà",
}  # fmt: skip
_ABBREVIATION = re.compile(
    r"(?<![\w.])("
    + "|".join(re.escape(a) for a in sorted(ABBREVIATIONS, key=len, reverse=True))
    + ")"
)

_NUM = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?"
_DATE = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?:/(\d{4}))?(?![\d/])")
_TIME = re.compile(r"\b(\d{1,2})(?::|h|g)(\d{2})?\b(?!\d)")
_ORDINAL = re.compile(r"\b(thứ|Thứ)\s(\d+)\b")
_CURRENCY_BEFORE = re.compile(r"(-?)([$€£¥₩₫])\s?(" + _NUM + r")")
_CURRENCY_AFTER = re.compile(
    r"(?<![\d.,])(-?)(" + _NUM + r")\s?(₫|đ\b|VND\b|VNĐ\b|USD\b|\$|€|£|¥|₩)"
)
_CURRENCY_NAMES = {"₫": "đồng", "đ": "đồng", "VND": "đồng", "VNĐ": "đồng", "USD": "đô la",
                   "$": "đô la", "€": "ơ rô", "£": "bảng", "¥": "yên", "₩": "won"}  # fmt: skip
_PERCENT = re.compile(r"(?<![\d.,])(-?)(" + _NUM + r")\s?%")
_NUMBER = re.compile(r"(?<![\w])(-?)(" + _NUM + r")(?!\w)|(\d+)")


def _number(sign: str, digits: str) -> str:
    whole, _, fraction = digits.replace(".", "").partition(",")
    words = vi_cardinal(int(whole)) if len(whole) <= 15 else read_digits(whole, "vi")
    if fraction:
        # "3,14" is read "ba phẩy mười bốn"; leading zeros and long fractions digit by digit.
        if fraction.startswith("0") or len(fraction) > 2:
            words += " phẩy " + read_digits(fraction, "vi")
        else:
            words += " phẩy " + vi_cardinal(int(fraction))
    return ("âm " if sign else "") + words


def _date(match: re.Match) -> str:
    day, month, year = int(match[1]), int(match[2]), match[3]
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return match.group(0)
    words = f"{vi_cardinal(day)} tháng {vi_cardinal(month)}"
    return words + (f" năm {vi_cardinal(int(year))}" if year else "")


def _time(match: re.Match) -> str:
    hour, minute = int(match[1]), int(match[2] or 0)
    if hour > 24 or minute > 59:
        return match.group(0)
    words = f"{vi_cardinal(hour)} giờ"
    return words + (f" {vi_cardinal(minute)} phút" if minute else "")


def _ordinal(match: re.Match) -> str:
    number = int(match[2])
    special = {1: "nhất", 4: "tư"}
    return f"{match[1]} {special.get(number) or vi_cardinal(number)}"


def _abbreviation(match: re.Match, text: str) -> str:
    # At the very end the abbreviation's dot also ends the sentence: keep one.
    at_end = match.end() == len(text)
    return ABBREVIATIONS[match.group(1)] + ("." if at_end else "")


def expand(text: str) -> str:
    text = _ABBREVIATION.sub(lambda m: _abbreviation(m, text), text)
    text = _DATE.sub(_date, text)
    text = _TIME.sub(_time, text)
    text = _ORDINAL.sub(_ordinal, text)
    text = _CURRENCY_BEFORE.sub(lambda m: f"{_number(m[1], m[3])} {_CURRENCY_NAMES[m[2]]}", text)
    text = _CURRENCY_AFTER.sub(lambda m: f"{_number(m[1], m[2])} {_CURRENCY_NAMES[m[3]]}", text)
    text = _PERCENT.sub(lambda m: f"{_number(m[1], m[2])} phần trăm", text)
    text = _NUMBER.sub(
        lambda m: _number(m[1], m[2]) if m[2] else f" {read_digits(m[3], 'vi')} ", text
    )
    return text
