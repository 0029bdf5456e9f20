"""Text normalisation: Unicode and punctuation clean-up, numeric dates and units put in each
language's pattern (`dates_units`), phone numbers digit by digit (`phone_numbers`), fractions
and multipliers in words (`fraction_words`), then per-language rules that write numbers, currency,
times, ordinals and abbreviations as words.

Every rule is a single compiled regular expression applied once with `re.sub`, so the cost
is linear in the text length (no nested quantifiers that could backtrack).
"""

from __future__ import annotations

import re
import unicodedata

from tts.labels import check_language
from tts.text import dates_units, fraction_words, phone_numbers
from tts.text.numbers import MAX_CARDINAL_DIGITS

# Punctuation variants folded onto one spelling. Japanese 、。 are kept in the text (they are
# mapped to ',' and '.' symbols by the G2P).
_CHAR_MAP = str.maketrans(
    {
        "“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"', "‹": '"', "›": '"',
        "‘": "'", "’": "'", "‚": "'", "‛": "'", "`": "'", "´": "'",
        "–": "—", "―": "—", "‒": "—", "−": "-", "‐": "-", "‑": "-",
        "｡": "。", "､": "、", "〜": "~", "～": "~",
    }
)  # fmt: skip

_INVISIBLE = re.compile(
    r"[\u0000-\u0008\u000e-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2060-\u2064\ufeff]"
)
_SPACES = re.compile(r"\s+")
_ELLIPSIS = re.compile(r"[.…]{2,}")
_REPEATED = re.compile(r"([!?,;:。、])\1+")
_SPACE_BEFORE_PUNCT = re.compile(r" +([,.!?;:…])")
# Digit runs longer than any number we read as a whole (phone numbers, IDs) are read digit by
# digit; spacing them out here also keeps every int() in the rules small.
_LONG_DIGITS = re.compile(rf"\d{{{MAX_CARDINAL_DIGITS + 1},}}")


def clean_text(text: str) -> str:
    """NFKC, invisible characters removed, punctuation variants folded, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = text.translate(_CHAR_MAP)
    return _tidy(text)


def _tidy(text: str) -> str:
    """Collapse whitespace, drop spaces before punctuation, fold '...' and '!!'."""
    text = _SPACES.sub(" ", text).strip()
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _ELLIPSIS.sub("…", text)
    return _REPEATED.sub(r"\1", text)


def normalize(text: str, language: str) -> str:
    """Normalise `text` for G2P in `language` (ja, en, ko, vi, de)."""
    from tts.text import normalize_de, normalize_en, normalize_ja, normalize_ko, normalize_vi

    language = check_language(language)
    rules = {
        "en": normalize_en.expand,
        "de": normalize_de.expand,
        "ko": normalize_ko.expand,
        "vi": normalize_vi.expand,
        "ja": normalize_ja.expand,
    }[language]
    text = clean_text(text)
    text = dates_units.rewrite(text, language)  # before the number rules read the digits
    text = phone_numbers.rewrite(text, language)  # after the dates: 2024-12-06 is no phone
    text = fraction_words.rewrite(text, language)  # after the dates: 1/2/2024 is no fraction
    text = _LONG_DIGITS.sub(lambda m: " ".join(m.group(0)), text)
    # Rules may produce double spaces; one final collapse keeps the output idempotent.
    return _tidy(rules(text))
