"""Sentence splitting per language."""

from __future__ import annotations

import pytest

from tts.text import split_sentences

CASES = [
    (
        "en",
        "Mr. Smith met Dr. Jones. They talked e.g. about 3.5 apples! Really? Yes.",
        ["Mr. Smith met Dr. Jones.", "They talked e.g. about 3.5 apples!", "Really?", "Yes."],
    ),
    ("en", "J. K. Rowling wrote it. It sold.", ["J. K. Rowling wrote it.", "It sold."]),
    ("en", 'He said "Stop!" Then he left.', ['He said "Stop!"', "Then he left."]),
    (
        "de",
        "Am 3. Mai kommt er z.B. mit Dr. Müller. Das ist gut. Der 1. Platz geht an ihn.",
        ["Am 3. Mai kommt er z.B. mit Dr. Müller.", "Das ist gut.", "Der 1. Platz geht an ihn."],
    ),
    ("de", "Ich bin 3. Dann kam er.", ["Ich bin 3.", "Dann kam er."]),
    ("de", "Er kommt bzw. sie kommt. Gut.", ["Er kommt bzw. sie kommt.", "Gut."]),
    (
        "ja",
        "こんにちは。元気ですか？はい、元気です！",
        ["こんにちは。", "元気ですか？", "はい、元気です！"],
    ),
    ("ja", "そうですね…でも、", ["そうですね…でも、"]),  # a trailing-off, not an end
    (
        "ko",
        "안녕하세요.반갑습니다. 뭐 해요?좋아요.",
        ["안녕하세요.", "반갑습니다.", "뭐 해요?", "좋아요."],
    ),
    ("ko", "가격은 3.5달러입니다. 네.", ["가격은 3.5달러입니다.", "네."]),
    (
        "vi",
        "Tôi ở TP. Hồ Chí Minh. Bạn khỏe không? Tốt.",
        ["Tôi ở TP. Hồ Chí Minh.", "Bạn khỏe không?", "Tốt."],
    ),
    ("en", "First paragraph\n\nSecond one", ["First paragraph", "Second one"]),
    ("en", "   ", []),
]


@pytest.mark.parametrize(("language", "text", "expected"), CASES)
def test_split(language: str, text: str, expected: list[str]) -> None:
    assert split_sentences(text, language) == expected
