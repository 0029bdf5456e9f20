"""Numbers as words: num2words where it is right, our own readers where it is not.

num2words reads en, de and Sino-Korean integers well. Its Vietnamese is wrong for negative
numbers and decimals, so Vietnamese has its own reader here; Korean native numbers (한, 두,
세 ... used with counters) and Japanese kanji numerals are not in num2words at all.
"""

from __future__ import annotations

import functools

from num2words import num2words

# Integers longer than this are read digit by digit (phone numbers, IDs, and a guard
# against num2words' limits and absurdly long readings).
MAX_CARDINAL_DIGITS = 15

DIGIT_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "de": ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
    "ko": ("영", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"),
    "vi": ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"),
    "ja": ("ゼロ", "一", "二", "三", "四", "五", "六", "七", "八", "九"),
}


def read_digits(digits: str, language: str) -> str:
    """'0815' -> 'zero eight one five'."""
    return " ".join(DIGIT_WORDS[language][int(d)] for d in digits if d.isdigit())


@functools.lru_cache(maxsize=65536)
def cardinal(number: int, language: str) -> str:
    """An integer in words ('minus' for negatives); very long ones digit by digit."""
    if len(str(abs(number))) > MAX_CARDINAL_DIGITS:
        sign = {"en": "minus ", "de": "minus ", "ko": "마이너스 ", "vi": "âm ", "ja": "マイナス"}
        return (sign[language] if number < 0 else "") + read_digits(str(abs(number)), language)
    if language == "vi":
        return vi_cardinal(number)
    if language == "ja":
        return ja_kanji(number)
    words = num2words(number, lang=language)
    if language == "en":
        # num2words writes "one thousand, two hundred": the comma would become a pause.
        words = words.replace(",", "").replace("-", " ")
    return words


# --- Vietnamese ----------------------------------------------------------------------------

_VI_UNITS = DIGIT_WORDS["vi"]


def _vi_below_thousand(n: int, full: bool) -> list[str]:
    """0 < n < 1000. `full` reads a leading zero hundred ('không trăm') inside big numbers."""
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or full:
        words += [_VI_UNITS[hundreds], "trăm"]
    if tens == 0:
        if units:
            if words:
                words.append("lẻ")
            words.append(_VI_UNITS[units])
        return words
    if tens == 1:
        words.append("mười")
    else:
        words += [_VI_UNITS[tens], "mươi"]
    if units == 1 and tens >= 2:
        words.append("mốt")
    elif units == 5:
        words.append("lăm")
    elif units == 4 and tens >= 2:
        words.append("tư")
    elif units:
        words.append(_VI_UNITS[units])
    return words


def vi_cardinal(number: int) -> str:
    if number < 0:
        return "âm " + vi_cardinal(-number)
    if number == 0:
        return "không"
    scales = ["", "nghìn", "triệu", "tỷ", "nghìn tỷ", "triệu tỷ"]
    groups: list[int] = []
    while number:
        number, group = divmod(number, 1000)
        groups.append(group)
    words: list[str] = []
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            continue
        words += _vi_below_thousand(group, full=bool(words))
        if scales[index]:
            words.append(scales[index])
    return " ".join(words)


# --- Korean native numbers -----------------------------------------------------------------

_KO_NATIVE_UNITS = ("", "하나", "둘", "셋", "넷", "다섯", "여섯", "일곱", "여덟", "아홉")
_KO_NATIVE_PRENOMINAL = {"하나": "한", "둘": "두", "셋": "세", "넷": "네"}
_KO_NATIVE_TENS = ("", "열", "스물", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔")


def ko_native(number: int, before_counter: bool = True) -> str | None:
    """1..99 in native Korean ('세', '스무', '스물세'); None outside that range."""
    if not 1 <= number <= 99:
        return None
    tens, units = divmod(number, 10)
    unit = _KO_NATIVE_UNITS[units]
    ten = _KO_NATIVE_TENS[tens]
    if before_counter:
        unit = _KO_NATIVE_PRENOMINAL.get(unit, unit)
        if units == 0 and tens == 2:
            ten = "스무"
    return ten + unit


def ko_sino(number: int) -> str:
    return cardinal(number, "ko")


# --- Japanese kanji numerals ---------------------------------------------------------------

_JA_DIGITS = ("", "一", "二", "三", "四", "五", "六", "七", "八", "九")


def _ja_below_10000(n: int, leading_one_for_thousand: bool) -> str:
    parts = []
    for value, name in ((1000, "千"), (100, "百"), (10, "十")):
        digit, n = divmod(n, value)
        if digit == 0:
            continue
        if digit > 1 or (value == 1000 and leading_one_for_thousand):
            parts.append(_JA_DIGITS[digit])
        parts.append(name)
    parts.append(_JA_DIGITS[n])
    return "".join(parts)


def ja_kanji(number: int) -> str:
    """An integer as kanji ('一千万' keeps the 一 that OpenJTalk needs to say いっせんまん)."""
    if number < 0:
        return "マイナス" + ja_kanji(-number)
    if number == 0:
        return "ゼロ"
    names = ["", "万", "億", "兆"]
    groups: list[int] = []
    while number:
        number, group = divmod(number, 10000)
        groups.append(group)
    parts = []
    for index in range(len(groups) - 1, -1, -1):
        if groups[index]:
            parts.append(_ja_below_10000(groups[index], leading_one_for_thousand=index > 0))
            parts.append(names[index])
    return "".join(parts)
