"""Which writing system a character belongs to, and splitting text into script runs.

Mixed-script policy (used by `tts.text.g2p`):
- Japanese text: kana/kanji runs go to OpenJTalk. A Latin run goes to OpenJTalk too when it
  is an acronym ("AI", "NHK") or a word OpenJTalk's dictionary knows ("iPhone"); otherwise
  OpenJTalk would spell it letter by letter, so it is read with English G2P instead.
- English, German, Vietnamese text: Latin runs use the text's language; Hangul runs are read
  as Korean, kana/kanji runs as Japanese.
- Korean text: Hangul runs are Korean; Latin runs are read as English (loanwords, names);
  kana/kanji runs as Japanese (Korean rarely writes Hanja in running text).
- Digits join the run next to them (normalisation has usually spelled them out already).
- Other scripts (Cyrillic, Greek, Arabic, Thai, ...) and symbols (emoji, ...) are not
  pronounced: no G2P here can read them. They stay in the chunk text; if nothing else is
  left, the front end raises `TextError`.
"""

from __future__ import annotations

import unicodedata

LATIN, HANGUL, JAPANESE, DIGIT, OTHER, NONE = "latin", "hangul", "japanese", "digit", "other", ""


def script_of(char: str) -> str:
    """The script class of one character ('' for spaces, punctuation and symbols)."""
    code = ord(char)
    if char.isascii():
        if char.isalpha():
            return LATIN
        return DIGIT if char.isdigit() else NONE
    if 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return HANGUL
    if 0xA960 <= code <= 0xA97F or 0xD7B0 <= code <= 0xD7FF:
        return HANGUL
    if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9F:
        return JAPANESE
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x3FFFF:
        return JAPANESE
    if 0xF900 <= code <= 0xFAFF or code in (0x3005, 0x3006, 0x3007):
        return JAPANESE
    category = unicodedata.category(char)
    if category == "Nd":
        return DIGIT
    if category.startswith("L"):
        if code < 0x250 or 0x1E00 <= code <= 0x1EFF:
            return LATIN
        return OTHER
    if category == "Mn" and (
        0x300 <= code <= 0x36F or 0x1AB0 <= code <= 0x1AFF or 0x1DC0 <= code <= 0x1DFF
    ):
        return DIGIT  # a Latin combining mark joins the letter it sits on
    if category in ("Mn", "Mc"):
        return OTHER  # vowel signs of Indic and other scripts belong to those scripts
    return NONE


def script_runs(word: str) -> list[tuple[str, str]]:
    """Split text into (script, text) runs; digits and combining marks join a neighbour run.

    Characters of no script (spaces, punctuation, symbols) end a run and belong to none.
    """
    scripts = [script_of(char) for char in word]
    # Digits take the script of the letter run before them, else of the one after them.
    previous = NONE
    for i, script in enumerate(scripts):
        if script == DIGIT:
            scripts[i] = previous if previous not in (NONE, DIGIT) else DIGIT
        previous = scripts[i]
    following = NONE
    for i in range(len(scripts) - 1, -1, -1):
        if scripts[i] == DIGIT and following not in (NONE, DIGIT):
            scripts[i] = following
        following = scripts[i]
    runs: list[tuple[str, str]] = []
    start = 0
    for i in range(1, len(word) + 1):
        if i == len(word) or scripts[i] != scripts[start]:
            if scripts[start] != NONE:
                runs.append((scripts[start], word[start:i]))
            start = i
    return runs
