"""Korean normalisation: Sino-Korean vs native numbers by counter, times, won, ordinals.

Korean reads a number before a counter either with native numerals (세 시, 두 개, 스무 살)
or Sino-Korean ones (삼 분, 이천 원, 유월). The counter lists below decide which; a number
with no known counter is read Sino-Korean. Native numerals exist only up to 99, so larger
numbers are Sino-Korean whatever the counter.
"""

from __future__ import annotations

import re

from tts.text.numbers import ko_native, ko_sino, read_digits

NATIVE_COUNTERS = (
    "시간", "시", "개", "명", "살", "마리", "권", "잔", "병", "장", "사람", "달", "가지", "군데",
    "대", "벌", "켤레", "그루", "송이", "채", "척", "곳", "번", "줄", "판", "알",
)  # fmt: skip
SINO_COUNTERS = (
    "분", "초", "년", "월", "일", "원", "층", "호", "회", "도", "점", "퍼센트", "킬로", "미터",
    "센티", "킬로그램", "그램", "주", "개월", "세", "인분", "학년", "쪽", "페이지", "번지",
    "달러", "유로", "엔", "동",
)  # fmt: skip
# Months with an irregular Sino-Korean reading.
_MONTHS = {6: "유월", 10: "시월"}

# Thousands groups only when the last group really ends ("0,0000" is not 0,000 then 0).
_NUM = r"\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?"
_COUNTERS = sorted(NATIVE_COUNTERS + SINO_COUNTERS, key=len, reverse=True)
_COUNTED = re.compile(r"(?<![\d.,])(-?)(" + _NUM + r")\s?(" + "|".join(_COUNTERS) + ")")
_ORDINAL = re.compile(r"(?<!\d)(\d+)\s?번째")
_FIRST_ORDINAL = re.compile(r"제\s?(\d+)")
_TIME = re.compile(r"(?<!\d)(\d{1,2}):(\d{2})(?!\d)")
_CURRENCY_BEFORE = re.compile(r"(-?)([₩$€£¥])\s?(" + _NUM + r")")
_CURRENCY_AFTER = re.compile(r"(?<![\d.,])(-?)(" + _NUM + r")\s?([€$£¥₩])")
_CURRENCY_NAMES = {"₩": "원", "$": "달러", "€": "유로", "£": "파운드", "¥": "엔"}
_PERCENT = re.compile(r"(?<![\d.,])(-?)(" + _NUM + r")\s?%")
_NUMBER = re.compile(r"(?<![\d.,])(-?)(" + _NUM + r")")
_DIGITS = re.compile(r"\d+")  # what no pattern above took (e.g. after a stray comma)


def sino(sign: str, digits: str) -> str:
    whole, _, fraction = digits.replace(",", "").partition(".")
    words = ko_sino(int(whole))
    if fraction:
        words += " 점 " + read_digits(fraction, "ko")
    return ("마이너스 " if sign else "") + words


def _counted(match: re.Match) -> str:
    sign, digits, counter = match.groups()
    plain = digits.replace(",", "")
    if counter in NATIVE_COUNTERS and not sign and plain.isdigit():
        native = ko_native(int(plain))
        if native:
            return f"{native} {counter}"
    if counter == "월" and plain.isdigit() and int(plain) in _MONTHS:
        return _MONTHS[int(plain)]
    return f"{sino(sign, digits)} {counter}"


def _ordinal(match: re.Match) -> str:
    number = int(match[1])
    if number == 1:
        return "첫 번째"
    native = ko_native(number)
    return f"{native or ko_sino(number)} 번째"


def _time(match: re.Match) -> str:
    hour, minute = int(match[1]), int(match[2])
    if hour > 24 or minute > 59:
        return f"{ko_sino(hour)} {ko_sino(minute)}"
    words = f"{ko_native(hour) if hour else '영'} 시"
    return words + (f" {ko_sino(minute)} 분" if minute else "")


def expand(text: str) -> str:
    text = _TIME.sub(_time, text)
    text = _CURRENCY_BEFORE.sub(lambda m: f"{sino(m[1], m[3])} {_CURRENCY_NAMES[m[2]]}", text)
    text = _CURRENCY_AFTER.sub(lambda m: f"{sino(m[1], m[2])} {_CURRENCY_NAMES[m[3]]}", text)
    text = _PERCENT.sub(lambda m: f"{sino(m[1], m[2])} 퍼센트", text)
    text = _ORDINAL.sub(_ordinal, text)
    text = _FIRST_ORDINAL.sub(lambda m: "제" + ko_sino(int(m[1])), text)
    text = _COUNTED.sub(_counted, text)
    text = _NUMBER.sub(lambda m: f" {sino(m[1], m[2])} ", text)
    # Leftover digits are read one by one, so no digit survives into a second pass.
    return _DIGITS.sub(lambda m: f" {read_digits(m[0], 'ko')} ", text)
