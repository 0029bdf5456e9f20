"""Japanese normalisation: only what OpenJTalk reads wrongly.

OpenJTalk reads digits with counters correctly (3時 さんじ, 100円 ひゃくえん, 3本 さんぼん,
dates, 50%), so most numbers are left alone. Fixed here:
- thousands separators ('1,000') are removed;
- integers of five digits or more become kanji, because OpenJTalk drops the 一 of 一千万
  (10000000 would be read せんまん instead of いっせんまん);
- a minus sign (OpenJTalk skips it), currency symbols ($5 -> 5ドル, ¥100 -> 100円),
  clock times 3:30 -> 3時30分, Latin ordinals 1st -> 1番目.
"""

from __future__ import annotations

import re

from tts.text.numbers import ja_kanji

_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d])")
# A hyphen after a number (also one already spelled in kanji, e.g. ゼロ or 一万) is a range or
# separator, not a minus sign; excluding those keeps normalisation idempotent.
_MINUS = re.compile(r"(?<![0-9A-Za-z)〇一二三四五六七八九十百千万億兆ロ])-(?=\d)")
_CURRENCY_BEFORE = re.compile(r"([$€£¥₩])\s?(\d+(?:\.\d+)?)")
_CURRENCY_AFTER = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s?([€$£¥₩])")
_CURRENCY_NAMES = {"$": "ドル", "€": "ユーロ", "£": "ポンド", "¥": "円", "₩": "ウォン"}
_TIME = re.compile(r"(?<![\d:])(\d{1,2}):(\d{2})(?![\d:])")
_LATIN_ORDINAL = re.compile(r"(?<!\d)(\d+)(?:st|nd|rd|th)\b")
_BIG = re.compile(r"(?<![\d.])\d{5,15}(?![\d.])")


def _time(match: re.Match) -> str:
    hour, minute = int(match[1]), int(match[2])
    if hour > 24 or minute > 59:
        return match.group(0)
    return f"{hour}時" + (f"{minute}分" if minute else "")


def expand(text: str) -> str:
    text = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    text = _CURRENCY_BEFORE.sub(lambda m: m[2] + _CURRENCY_NAMES[m[1]], text)
    text = _CURRENCY_AFTER.sub(lambda m: m[1] + _CURRENCY_NAMES[m[2]], text)
    text = _TIME.sub(_time, text)
    text = _LATIN_ORDINAL.sub(r"\1番目", text)
    text = _MINUS.sub("マイナス", text)
    text = _BIG.sub(lambda m: ja_kanji(int(m.group(0))), text)
    return text
