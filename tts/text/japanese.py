"""Japanese G2P with pitch accent, from OpenJTalk full-context labels (pyopenjtalk-plus).

For each phone label we read the mora's position in its accent phrase and its position
relative to the accent nucleus (fields A and F of the HTS Japanese label format) and place
prosody marks after the mora:

- '[' after the first mora when pitch rises to the second (every phrase not accented on its
  first mora),
- ']' after the accent nucleus, where pitch falls (not written when the nucleus is the last
  mora of the phrase: the fall then lands on the next phrase, which starts low anyway),
- '#' between accent phrases, '_' for a pause OpenJTalk inserts inside the text,
- '?' at the end when OpenJTalk marks the last accent phrase as a question (field F, f3).

OpenJTalk phone names are mapped to IPA so that the same sound is the same symbol in every
language (OpenJTalk 'y' is IPA 'j', its 'j' is IPA 'dʑ').
"""

from __future__ import annotations

import re
import unicodedata

JA_PHONES: dict[str, str] = {
    "a": "a", "i": "i", "u": "ɯ", "e": "e", "o": "o",
    "A": "ḁ", "I": "i̥", "U": "ɯ̥", "E": "e̥", "O": "o̥",
    "N": "ɴ", "cl": "Q",
    "k": "k", "g": "ɡ", "s": "s", "sh": "ɕ", "z": "z", "j": "dʑ", "t": "t", "ch": "tɕ",
    "ts": "ts", "d": "d", "n": "n", "h": "h", "f": "ɸ", "b": "b", "p": "p", "m": "m",
    "y": "j", "r": "ɾ", "w": "w", "v": "v",
    "ky": "kʲ", "gy": "ɡʲ", "ny": "ɲ", "hy": "ç", "by": "bʲ", "py": "pʲ", "my": "mʲ",
    "ry": "ɾʲ", "dy": "dʲ", "ty": "tʲ", "fy": "ɸʲ", "kw": "kʷ", "gw": "ɡʷ",
}  # fmt: skip
JA_PHONES = {k: unicodedata.normalize("NFC", v) for k, v in JA_PHONES.items()}

_MORA_END = frozenset(("a", "i", "u", "e", "o", "A", "I", "U", "E", "O", "N", "cl"))

_PHONE = re.compile(r"-(.+?)\+")
_A = re.compile(r"/A:(-?\d+|xx)\+(\d+|xx)\+(\d+|xx)/")
_F = re.compile(r"/F:(\d+|xx)_(\d+|xx)#(\d+|xx)_")


def _int(value: str) -> int | None:
    return None if value == "xx" else int(value)


def _fields(label: str) -> tuple[str, int | None, int | None, int | None, int | None, bool]:
    """Phone, a1 (mora minus accent type), a2 (mora index), a3 (from end), f1, interrogative."""
    phone = _PHONE.search(label).group(1)
    a = _A.search(label)
    f = _F.search(label)
    a1, a2, a3 = (_int(g) for g in a.groups()) if a else (None, None, None)
    f1 = _int(f.group(1)) if f else None
    question = bool(f and f.group(3) == "1")
    return phone, a1, a2, a3, f1, question


def labels_to_symbols(labels: list[str]) -> list[str]:
    """Prosody-marked symbols from OpenJTalk full-context labels (see the module docstring)."""
    fields = [_fields(label) for label in labels]
    symbols: list[str] = []
    question = False
    for n, (phone, a1, a2, a3, f1, interrogative) in enumerate(fields):
        if phone == "sil":
            continue
        if phone == "pau":
            symbols.append("_")
            continue
        symbols.append(JA_PHONES[phone])
        question = interrogative
        a2_next = fields[n + 1][2] if n + 1 < len(fields) else None
        if phone not in _MORA_END or a2 is None:
            continue
        if a3 == 1 and a2_next == 1:
            symbols.append("#")
        elif a1 == 0 and a2_next == a2 + 1 and a2 != f1:
            symbols.append("]")
        elif a2 == 1 and a2_next == 2:
            symbols.append("[")
    if question:
        symbols.append("?")
    return symbols


def japanese_symbols(text: str) -> list[str]:
    """Phonemize a Japanese phrase (no sentence punctuation inside) with prosody marks."""
    import pyopenjtalk

    # OpenJTalk warns on stderr about a leading 'ー' and similar; a leading long-vowel mark
    # has nothing to lengthen, so it is not given to it.
    text = text.lstrip("ー-〜~ ")
    if not text.strip():
        return []
    labels = pyopenjtalk.extract_fullcontext(text)
    return labels_to_symbols(labels)


def japanese_reading(text: str) -> str:
    """OpenJTalk's katakana reading (used to tell a known Latin word from a spelled one)."""
    import pyopenjtalk

    return pyopenjtalk.g2p(text, kana=True)
