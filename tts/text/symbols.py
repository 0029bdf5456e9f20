"""The frozen symbol list shared by all five languages.

The order of `ALL_SYMBOLS` fixes the token ids a model is trained with, so it only ever grows
at the end, and every change bumps `INVENTORY_VERSION`. The inventory travels with each
checkpoint (`SymbolInventory.to_dict`), so an old model keeps its own ids.

How the lists were built:
- espeak-ng 1.51 segments: the phones espeak-ng writes for en-us, de, ko and vi, collected by
  running natural sentences and thousands of random letter strings / Hangul syllables through
  `tts.text.espeak` (after `split_ipa_word`), plus the few base IPA letters espeak-ng writes
  when it reads a foreign word inside these languages. `tests/text/test_inventory_coverage.py`
  re-checks this on a large corpus.
- Japanese: every phone OpenJTalk produces (all kana and small-kana combinations), written in
  IPA so that they share symbols with the other languages where the sound is the same
  (see `JA_PHONES` in `tts.text.japanese`), plus the prosody marks.
"""

from __future__ import annotations

import unicodedata

from tts.labels import EMOTIONS, LANGUAGES

INVENTORY_VERSION = 1

PAD = "<pad>"
BOS = "<bos>"
EOS = "<eos>"
SPECIAL_SYMBOLS: tuple[str, ...] = (PAD, BOS, EOS)

LANGUAGE_SYMBOLS: tuple[str, ...] = tuple(f"<lang:{code}>" for code in LANGUAGES)
EMOTION_SYMBOLS: tuple[str, ...] = tuple(f"<emo:{name}>" for name in EMOTIONS)

# Between two words (espeak languages). Japanese marks accent phrases with '#' instead.
WORD_BOUNDARY = "|"

# Punctuation that shapes prosody. Normalisation maps every other mark onto these
# ('、' -> ',', '「' -> '"', '–' -> '—', ...).
PUNCTUATION: tuple[str, ...] = (",", ".", "!", "?", ";", ":", "…", "—", '"', "(", ")")

# Japanese prosody marks derived from OpenJTalk full-context labels:
# '[' pitch rises, ']' pitch falls (after the accent nucleus), '#' accent phrase boundary,
# '_' pause inside a sentence. A question ends with '?' (shared with the punctuation).
JA_PROSODY: tuple[str, ...] = ("[", "]", "#", "_")

STRESS: tuple[str, ...] = ("ˈ", "ˌ")
LENGTH: tuple[str, ...] = ("ː", "ˑ")

# Vietnamese tones as Chao tone letters (see `tts.text.espeak.VI_TONES`).
TONES: tuple[str, ...] = ("˧", "˨˩", "˧˥", "˧˩˧", "˧ˀ˥", "˨˩ˀ")

# Japanese phones (OpenJTalk names mapped to IPA in `tts.text.japanese`). 'Q' is the moraic
# obstruent (sokuon) and 'ɴ' the moraic nasal; devoiced vowels carry the ring below.
JA_SEGMENTS: tuple[str, ...] = (
    "a", "i", "ɯ", "e", "o", "ḁ", "i̥", "ɯ̥", "e̥", "o̥", "ɴ", "Q",
    "k", "ɡ", "s", "ɕ", "z", "dʑ", "t", "tɕ", "ts", "d", "n", "h", "ɸ", "b", "p", "m",
    "j", "ɾ", "w", "v", "kʲ", "ɡʲ", "ɲ", "ç", "bʲ", "pʲ", "mʲ", "ɾʲ", "dʲ", "tʲ", "ɸʲ",
    "kʷ", "ɡʷ",
)  # fmt: skip

# espeak-ng segments for en-us, de, ko and vi (see the module docstring).
ESPEAK_SEGMENTS: tuple[str, ...] = (
    # vowels and diphthongs
    "a", "e", "i", "o", "u", "y", "æ", "ɐ", "ɑ", "ɒ", "ɔ", "ə", "ɚ", "ɛ", "ɜ", "ɪ", "ʊ", "ʌ",
    "ɯ", "ø", "œ", "ᵻ", "ɵ", "ɨ", "ɤ",
    "ɑ̃", "ɛ̃", "ɔ̃", "œ̃", "ã", "õ", "ẽ",  # French loanwords in German and English
    "aɪ", "aʊ", "ɔɪ", "oʊ", "eɪ", "əʊ", "ɔø", "ɛɪ", "iə", "uə", "yə", "iɛ", "ʊə",
    # consonants
    "b", "c", "d", "f", "h", "j", "k", "l", "m", "n", "p", "q", "r", "s", "t", "v", "w", "x",
    "z", "ç", "ð", "ŋ", "ɡ", "ɣ", "ɫ", "ɬ", "ɲ", "ɹ", "ɾ", "ʃ", "ʒ", "ʔ", "ʍ", "ʐ", "θ", "ɗ",
    "ʁ", "χ", "ʀ", "ɕ", "ʑ", "ʎ", "ɭ", "ɳ", "ʂ", "ɖ", "ʈ", "β", "ɸ",
    "n̩", "l̩", "m̩", "t̪", "d̪", "n̪",
    "tʃ", "dʒ", "ts", "dz", "tɕ", "dʑ", "pf",
    # Korean: aspirated and tense stops, palatalised
    "pʰ", "tʰ", "kʰ", "tɕʰ", "tʃʰ", "tʃʰʲ", "p͈", "t͈", "k͈", "q͈", "s͈", "tɕ͈", "ts͈", "d͈",
    # Vietnamese short vowels (espeak's 'e-', 'a-')
    "ĕ", "ă", "ɛ̆",
)  # fmt: skip


# Diacritics and modifier letters on their own. `split_ipa_word` keeps a diacritic on its phone
# ('kʰ'); only when espeak writes a combination outside this inventory (it happens for odd
# foreign input) is it written as the base phone followed by these, instead of being lost.
MODIFIERS: tuple[str, ...] = (
    "ʰ", "ʲ", "ʷ", "ˠ", "ˤ", "ⁿ", "ˡ", "ʼ",
    "\u0348", "\u0306", "\u0303", "\u032a", "\u0329", "\u0325", "\u030a", "\u032f",
    "\u0361", "\u035c", "\u0330", "\u031e", "\u031d", "\u0339", "\u031c", "\u0308",
)  # fmt: skip


def _unique(*groups: tuple[str, ...]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        for symbol in group:
            # NFC so that a precomposed and a decomposed spelling are the same symbol.
            seen.setdefault(unicodedata.normalize("NFC", symbol), None)
    return tuple(seen)


ALL_SYMBOLS: tuple[str, ...] = _unique(
    SPECIAL_SYMBOLS,
    LANGUAGE_SYMBOLS,
    EMOTION_SYMBOLS,
    (WORD_BOUNDARY,),
    PUNCTUATION,
    JA_PROSODY,
    STRESS,
    LENGTH,
    TONES,
    ESPEAK_SEGMENTS,
    JA_SEGMENTS,
    MODIFIERS,
)
