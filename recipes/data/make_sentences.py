"""Write thousands of varied training "sentences" per language from word-frequency lists.

    pip install wordfreq==3.1.1
    python recipes/data/make_sentences.py --out recipes/data/sentences_wordfreq --per-language 3000

Why: the hand-written lists in `recipes/data/sentences/` hold ~314 sentences a language. A
token LM trained on them memorises the sentences instead of learning how phonemes map to
sound (validation loss on held-out sentences rises after ~750 steps). Reading frequent words in
random order is not natural prose, but it covers far more phoneme sequences, which is what the
LM needs to generalise; the hand-written lists stay in the corpus for natural prosody.

Lines are built from the `wordfreq` top-N list of each language (half the words drawn from the
1,000 most frequent, half from the rest), filtered to the language's own script, with
punctuation and, for Japanese and Korean, particles between content words so that the engines
phrase them like sentences. Deterministic for a given seed and wordfreq version; the output is
committed so corpus builds never need wordfreq.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

LANGUAGES = ("ja", "en", "ko", "vi", "de")
TOP_N = 12_000

# Letters of each language's own script; other tokens (numbers, foreign words) are dropped.
SCRIPT = {
    "en": re.compile(r"^[a-z]+(?:'[a-z]+)?$"),
    "de": re.compile(r"^[a-zäöüß]+$"),
    # Vietnamese Latin letters (no f, j, w, z) with its diacritics.
    "vi": re.compile(
        r"^[a-eg-ik-vxyàáâãèéêìíòóôõùúýăđĩũơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]+$"
    ),
    "ko": re.compile(r"^[\uac00-\ud7a3]{2,}$"),
    # Content words: two or more kanji/katakana (nouns; hiragana-tailed tokens are often
    # verb-stem fragments of wordfreq's segmentation, e.g. 終わら).
    "ja": re.compile(r"^[\u30a0-\u30ff\u4e00-\u9fff]{2,}$"),
}
# Kept out of a corpus people will listen to.
BLOCKED = {
    "fuck",
    "fucking",
    "fucked",
    "shit",
    "bitch",
    "cunt",
    "dick",
    "pussy",
    "cock",
    "whore",
    "slut",
    "nigga",
    "nigger",
    "fag",
    "faggot",
    "retard",
    "porn",
    "sex",
    "rape",
    "goddamn",
    "scheiße",
    "scheisse",
    "arsch",
    "fotze",
    "hure",
    "wichser",
    "ficken",
    "schlampe",
    "nazi",
}
JA_PARTICLES = ("は", "が", "を", "に", "で", "と", "の", "も", "から", "まで", "へ", "より")
JA_ENDINGS = ("です。", "でした。", "ですか。", "だ。", "ではない。", "でしょう。", "です！")
KO_ENDINGS = ("입니다.", "이에요.", "입니까?", "이다.", "였어요.", "일까요?")
LATIN_ENDINGS = (".", ".", ".", "?", "!")


def ko_particle(word: str, rng: random.Random) -> str:
    """A Korean particle in the form that fits whether `word` ends in a consonant (batchim)."""
    batchim = (ord(word[-1]) - 0xAC00) % 28 != 0
    pairs = (("은", "는"), ("이", "가"), ("을", "를"), ("과", "와"), ("으로", "로"))
    with_batchim, without = rng.choice((*pairs, ("에", "에"), ("에서", "에서"), ("도", "도")))
    return with_batchim if batchim else without


def word_lists(language: str) -> tuple[list[str], list[str]]:
    """(frequent, rest) filtered words of a language from wordfreq."""
    import wordfreq

    words = [w for w in wordfreq.top_n_list(language, TOP_N) if SCRIPT[language].match(w)]
    words = [w for w in words if w not in BLOCKED]
    if language in ("en", "de", "vi"):
        words = [w for w in words if len(w) > 1 or w in ("a", "i")]
    if language == "vi":
        # wordfreq's Vietnamese list holds English words and names too: keep syllables of at
        # most 7 letters that are not frequent English words unless they carry a diacritic.
        english = set(wordfreq.top_n_list("en", 50_000))
        words = [w for w in words if len(w) <= 7 and (w not in english or not w.isascii())]
    cut = min(1000, len(words) // 4)
    return words[:cut], words[cut:]


def draw(frequent: list[str], rest: list[str], rng: random.Random) -> str:
    return rng.choice(frequent if rng.random() < 0.5 else rest)


def make_line(language: str, frequent: list[str], rest: list[str], rng: random.Random) -> str:
    if language == "ja":
        parts = [
            draw(frequent, rest, rng) + rng.choice(JA_PARTICLES) for _ in range(rng.randint(1, 4))
        ]
        if rng.random() < 0.3 and len(parts) > 1:
            parts[rng.randrange(len(parts) - 1)] += "、"
        return "".join(parts) + draw(frequent, rest, rng) + rng.choice(JA_ENDINGS)
    if language == "ko":
        words = [draw(frequent, rest, rng) for _ in range(rng.randint(2, 5))]
        body = [w + ko_particle(w, rng) for w in words[:-1]]
        return " ".join([*body, words[-1] + rng.choice(KO_ENDINGS)])
    words = [draw(frequent, rest, rng) for _ in range(rng.randint(3, 12))]
    if len(words) > 5 and rng.random() < 0.4:
        words[rng.randrange(2, len(words) - 2)] += ","
    text = " ".join(words)
    if language == "en":
        text = re.sub(r"\bi\b", "I", text)
    return text[0].upper() + text[1:] + rng.choice(LATIN_ENDINGS)


def make_sentences(language: str, count: int, seed: int) -> list[str]:
    """`count` distinct lines for `language`, deterministic for a seed."""
    frequent, rest = word_lists(language)
    rng = random.Random(f"{seed}:{language}")
    lines: dict[str, None] = {}
    while len(lines) < count:
        lines[make_line(language, frequent, rest, rng)] = None
    return list(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--per-language", type=int, default=3000)
    p.add_argument("--languages", default=",".join(LANGUAGES))
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    for language in a.languages.split(","):
        lines = make_sentences(language, a.per_language, a.seed)
        header = (
            f"# {len(lines)} lines from wordfreq (recipes/data/make_sentences.py, seed {a.seed})"
        )
        (a.out / f"{language}.txt").write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
        print(f"{language}: {len(lines)} lines, e.g. {lines[0]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
