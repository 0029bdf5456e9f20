"""Phone numbers read digit by digit, group by group, before the number rules see them.

Why: until stop 52 "010-1234-5678" came out in Korean as 십 - 천이백삼십사 - 오천육백칠십팔
and "+1 212 555 0100" in English as "plus one two hundred and twelve five hundred and fifty
five one hundred". Read as numbers they are not understood; people say them digit by digit,
with a short pause between the groups (a comma here).

What counts as a phone number (hyphens between groups, never a bare space, so that lists of
numbers are left alone): an international number (+ and a country code, then groups
separated by spaces or hyphens), a number with an area code in parentheses, three or more
groups ("090-123-4567"), or two groups whose first starts with the trunk 0 ("030-1234567").
Two plain groups ("1990-2000", "200-1000") are ranges and stay numbers. Japanese is left to
OpenJTalk, which reads these digit by digit already.
"""

from __future__ import annotations

import re

from tts.text.numbers import read_digits

# Korean particles follow a number directly (010-1234-5678로): only ASCII ends a match.
_INTL = re.compile(
    r"(?<![A-Za-z0-9_+])\+(\d{1,3})((?:[ -]\(?\d{1,8}\)?){2,5})(?![A-Za-z0-9_-]|\.\d)"
)
_LOCAL = re.compile(
    r"(?<![A-Za-z0-9_.,/+-])(\(\d{1,5}\)\s?)?(\d{2,5})-(\d{3,8})((?:-\d{3,5})*)"
    r"(?![A-Za-z0-9_/-]|[.,]\d)"
)
_GROUP = re.compile(r"\d+")
_PLUS = {"en": "plus", "de": "plus", "ko": "플러스", "vi": "cộng"}


def _digits(group: str, language: str) -> str:
    words = read_digits(group, language)
    return words.replace("영", "공") if language == "ko" else words  # 0 in a phone number: 공


def _read(groups: list[str], language: str) -> str:
    return ", ".join(_digits(g, language) for g in groups)


def _local(match: re.Match, language: str) -> str:
    area, first, second, rest = match[1], match[2], match[3], match[4]
    groups = [*_GROUP.findall(area or ""), first, second, *_GROUP.findall(rest)]
    if area or len(groups) >= 3 or first.startswith("0"):
        return _read(groups, language)
    return match[0]  # a range such as 1990-2000


def rewrite(text: str, language: str) -> str:
    """`text` with its phone numbers spelled digit by digit in `language` (not ja)."""
    if language not in _PLUS:
        return text
    text = _INTL.sub(
        lambda m: f"{_PLUS[language]} {_read([m[1], *_GROUP.findall(m[2])], language)}", text
    )
    return _LOCAL.sub(lambda m: _local(m, language), text)
