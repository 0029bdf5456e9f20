"""Numeric dates and measurement units, rewritten into each language's own way of writing them
before its number rules run (`normalize`), so that those rules read them as words.

Why: until stop 52 every language read "2024-12-06" as three numbers joined by hyphens
("twenty twenty four-twelve-six"), English read "12/06/2024" as "twelve/six/twenty twenty four"
and "December 6" as "December six", "20°C" came out as "twenty°C" (the symbol unread),
"5 km" as "five km", and Japanese read "2024/12/06" with slashes and 06 as "ゼロロク".

The rewrites keep the digits, in the pattern each language's rules (or OpenJTalk) already read
correctly: 2024-12-06 -> ja 2024年12月6日, ko 2024년 12월 6일, de 6.12.2024, vi 6/12/2024,
en December 6th, 2024. Slash dates are read in each language's order: year first in ja and
ko, day first in vi (its own rule) and month first in en (US), unless the first number cannot
be a month. Only dates with a four-digit year and a valid month and day are touched.
"""

from __future__ import annotations

import re

_ISO_DATE = re.compile(r"(?<![\d/.-])(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?![\d/-]|\.\d)")
_YEAR_FIRST = re.compile(
    r"(?<![\d/.])(?P<y>\d{4})([/.])(?P<m>\d{1,2})\2(?P<d>\d{1,2})\.?(?![\d/.])"
)
_EN_SLASH_DATE = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{4})(?![\d/])")
_EN_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
_EN_MONTH_NAMES = "|".join(_EN_MONTHS)
# Three-letter abbreviations ("Dec 6", "Dec. 6"), but not "Jun", also a given name.
_EN_MONTH_SHORT = {m[:3]: m for m in _EN_MONTHS if len(m) > 3 and m != "June"} | {
    "Sept": "September"
}
# "December 6" / "Dec. 6, 2024" -> "December 6th"; "6 December" -> "the 6th of December".
_EN_MONTH_DAY = re.compile(
    rf"\b({_EN_MONTH_NAMES}|{'|'.join(sorted(_EN_MONTH_SHORT, key=len, reverse=True))})\.?"
    r"\s(\d{1,2})(?![\d:.,]\d|\w)"
)
_EN_DAY_MONTH = re.compile(rf"(?<![\w.,])(\d{{1,2}})\s({_EN_MONTH_NAMES})\b")
_EN_DECADE = re.compile(r"(?<![\w'])(?:(1[1-9]|20)(\d)0|'?([1-9])0)s\b")

_NUM = r"\d+(?:[.,]\d+)?"
# Each pattern starts where no digit precedes it, so a long run of digits is scanned once
# (normalisation stays linear in the text; tests/text/test_properties.py).
_TEMPERATURE = re.compile(r"(?<![\d.,-])(-?" + _NUM + r")\s?°\s?([CF])(?![A-Za-z])")  # 20°Cで
# Korean particles follow a unit directly (120km/h로), so only Latin letters end the match.
_UNIT = re.compile(
    r"(?<![A-Za-z0-9_.,])(" + _NUM + r")\s?(km/h|km|kg|cm|mm|mg|ml)(?![A-Za-z0-9_/])"
)

_UNIT_WORDS: dict[str, dict[str, tuple[str, str]]] = {  # language -> unit -> (one, many)
    "en": {
        "km/h": ("kilometer per hour", "kilometers per hour"),
        "km": ("kilometer", "kilometers"),
        "kg": ("kilogram", "kilograms"),
        "cm": ("centimeter", "centimeters"),
        "mm": ("millimeter", "millimeters"),
        "mg": ("milligram", "milligrams"),
        "ml": ("milliliter", "milliliters"),
    },
    "de": {
        "km/h": ("Kilometer pro Stunde",) * 2,
        "km": ("Kilometer",) * 2,
        "kg": ("Kilogramm",) * 2,
        "cm": ("Zentimeter",) * 2,
        "mm": ("Millimeter",) * 2,
        "mg": ("Milligramm",) * 2,
        "ml": ("Milliliter",) * 2,
    },
    "ko": {
        "km/h": ("킬로미터",) * 2,  # "시속" goes before the number (_unit)
        "km": ("킬로미터",) * 2,
        "kg": ("킬로그램",) * 2,
        "cm": ("센티미터",) * 2,
        "mm": ("밀리미터",) * 2,
        "mg": ("밀리그램",) * 2,
        "ml": ("밀리리터",) * 2,
    },
    "vi": {
        "km/h": ("ki lô mét trên giờ",) * 2,
        "km": ("ki lô mét",) * 2,
        "kg": ("ki lô gam",) * 2,
        "cm": ("xen ti mét",) * 2,
        "mm": ("mi li mét",) * 2,
        "mg": ("mi li gam",) * 2,
        "ml": ("mi li lít",) * 2,
    },
}


def _valid(month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= 31


def _date(language: str, year: str, month: int, day: int) -> str:
    """The date in the pattern `language`'s own rules read (digits kept)."""
    if language == "ja":
        return f"{year}年{month}月{day}日"
    if language == "ko":
        return f"{year}년 {month}월 {day}일"
    if language == "de":
        return f"{day}.{month}.{year}"
    if language == "vi":
        return f"{day}/{month}/{year}"
    return f"{_EN_MONTHS[month - 1]} {day}{_suffix(day)}, {year}"


def _suffix(day: int) -> str:
    if day % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _year_month_day(match: re.Match, language: str) -> str:
    """A year-first date (groups y, m, d) in `language`'s pattern; unchanged if invalid."""
    month, day = int(match["m"]), int(match["d"])
    return _date(language, match["y"], month, day) if _valid(month, day) else match[0]


def _en_slash(match: re.Match) -> str:
    first, second, year = int(match[1]), int(match[2]), match[3]
    if _valid(first, second):  # US order, month first
        return _date("en", year, first, second)
    if _valid(second, first):  # 25/12/2024 can only be day first
        return _date("en", year, second, first)
    return match[0]


def _en_decade(match: re.Match) -> str:
    from num2words import num2words

    if match[3]:  # '90s / 90s: the decade's tens
        words = num2words(int(match[3]) * 10, lang="en")
    else:
        words = num2words(int(f"{match[1]}{match[2]}0"), lang="en", to="year")
        words = words.replace("-", " ")
    head, _, last = words.rpartition(" ")
    if last.endswith("y"):
        last = last[:-1] + "ies"  # ninety -> nineties
    else:
        last += "s"  # hundred -> hundreds, ten -> tens, thousand -> thousands
    return f"{head} {last}".strip()


def _temperature(match: re.Match, language: str) -> str:
    value, scale = match[1], match[2]
    if language == "ja":
        return f"{value}度" if scale == "C" else f"華氏{value}度"
    if language == "ko":
        return f"섭씨 {value}도" if scale == "C" else f"화씨 {value}도"
    if language == "de":
        return f"{value} Grad " + ("Celsius" if scale == "C" else "Fahrenheit")
    if language == "vi":
        return f"{value} độ {scale}"
    unit = "degree" if value.lstrip("-") == "1" else "degrees"
    return f"{value} {unit} " + ("Celsius" if scale == "C" else "Fahrenheit")


def _unit(match: re.Match, language: str) -> str:
    value, unit = match[1], match[2]
    one, many = _UNIT_WORDS[language][unit]
    if language == "ko" and unit == "km/h":
        said = "시속" in match.string[max(0, match.start() - 6) : match.start()]
        return f"{value}{one}" if said else f"시속 {value}{one}"
    return f"{value} {one if value == '1' else many}"


def rewrite(text: str, language: str) -> str:
    """`text` with its numeric dates and units written in `language`'s pattern (digits kept;
    `language` already checked)."""
    text = _ISO_DATE.sub(lambda m: _year_month_day(m, language), text)
    if language in ("ja", "ko"):
        text = _YEAR_FIRST.sub(lambda m: _year_month_day(m, language), text)
    if language == "en":
        text = _EN_SLASH_DATE.sub(_en_slash, text)
        text = _EN_MONTH_DAY.sub(
            lambda m: f"{_EN_MONTH_SHORT.get(m[1], m[1])} {m[2]}{_suffix(int(m[2]))}", text
        )
        text = _EN_DAY_MONTH.sub(lambda m: f"the {m[1]}{_suffix(int(m[1]))} of {m[2]}", text)
        text = _EN_DECADE.sub(_en_decade, text)
    text = _TEMPERATURE.sub(lambda m: _temperature(m, language), text)
    if language in _UNIT_WORDS:  # OpenJTalk reads km, kg, ... itself
        text = _UNIT.sub(lambda m: _unit(m, language), text)
    return text
