import pytest

from tts.langdetect import detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("こんにちは、元気ですか？", "ja"),
        ("カタカナだけ", "ja"),
        ("東京都", "ja"),  # kanji only
        ("안녕하세요. 반갑습니다.", "ko"),
        ("Xin chào, bạn khỏe không?", "vi"),
        ("Đi đâu đấy?", "vi"),
        ("Schöne Grüße aus München.", "de"),
        ("Das ist nicht gut, aber es geht.", "de"),  # no umlaut: function words decide
        ("This is a test of the system.", "en"),
        ("Hello!", "en"),
        ("", "en"),
        ("12345 !!!", "en"),
    ],
)
def test_detect_language(text, language):
    assert detect_language(text) == language
