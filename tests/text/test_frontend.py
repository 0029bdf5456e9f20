"""TextFrontend: chunks, bounds, typed errors."""

from __future__ import annotations

import pytest

from tts.errors import TextError, UnsupportedLanguageError
from tts.text import MAX_TEXT_CHARS, SymbolInventory, TextChunk, TextFrontend, phonemize


def _no_space(text: str) -> str:
    return "".join(text.split())


def test_process_returns_chunks_per_sentence() -> None:
    frontend = TextFrontend()
    chunks = frontend.process("Dr. Smith paid $5. Is it 3:30?", "en")
    assert [c.text for c in chunks] == ["doctor Smith paid five dollars.", "Is it three thirty?"]
    inventory = SymbolInventory.default()
    for chunk in chunks:
        assert isinstance(chunk, TextChunk) and chunk.language == "en"
        assert chunk.ids == inventory.encode(chunk.symbols)
        assert chunk.symbols == phonemize(chunk.text, "en", normalized=True)
    assert chunks[1].symbols[-1] == "?"
    assert frontend.encode("Hello.", "en") == [frontend.process("Hello.", "en")[0].ids]


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("en", "This clause is long enough, and this one also goes on, and on, and on again"),
        ("ja", "今日はとても良い天気なので、公園に行って散歩をしたり、友達と話したりしました"),
        ("de", "Wir gingen in den Wald und sahen viele Bäume und Vögel und Füchse und Hasen"),
        ("ko", "오늘은 날씨가 좋아서 공원에 가서 산책을 하고 친구들과 이야기를 했습니다"),
        ("vi", "Hôm nay trời đẹp nên chúng tôi đi dạo trong công viên và nói chuyện rất lâu"),
    ],
)
def test_long_sentence_is_chunked_without_loss(language: str, sentence: str) -> None:
    frontend = TextFrontend(max_symbols=24)
    chunks = frontend.process(sentence, language)
    assert len(chunks) > 1
    assert all(len(c.symbols) <= 24 for c in chunks)
    from tts.text import normalize

    assert _no_space("".join(c.text for c in chunks)) == _no_space(normalize(sentence, language))


def test_long_text_is_chunked_not_truncated() -> None:
    sentence = "The cat sat on the mat. "
    text = sentence * 400  # ~9.6k characters
    chunks = TextFrontend().process(text, "en")
    assert len(chunks) == 400
    assert all(c.text == "The cat sat on the mat." for c in chunks)


@pytest.mark.parametrize("text", ["", "   \n\t ", "😀🎉", "!!! ...", "Привет"])
def test_nothing_pronounceable_is_a_text_error(text: str) -> None:
    with pytest.raises(TextError):
        TextFrontend().process(text, "en")


def test_emoji_sentence_rides_along_instead_of_being_dropped() -> None:
    chunks = TextFrontend().process("Hello there. 😀 See you.", "en")
    assert _no_space(" ".join(c.text for c in chunks)) == _no_space("Hello there. 😀 See you.")


def test_too_long_text_names_the_limit() -> None:
    with pytest.raises(TextError, match=str(MAX_TEXT_CHARS)):
        TextFrontend().process("a" * (MAX_TEXT_CHARS + 1), "en")


def test_unsupported_language_and_bad_arguments() -> None:
    with pytest.raises(UnsupportedLanguageError):
        TextFrontend().process("hola", "es")
    with pytest.raises(TextError):
        TextFrontend().process(None, "en")  # type: ignore[arg-type]
    with pytest.raises(TextError):
        TextFrontend(max_symbols=2)


def test_cli_text_command(capsys) -> None:
    from tts.cli import main

    assert main(["text", "--language", "ja", "--text", "3本ください。", "--ids"]) == 0
    out = capsys.readouterr().out
    assert "symbols: s a ] ɴ b o ɴ" in out and "ids:" in out


def test_front_ends_on_several_threads_say_every_word():
    """libespeak-ng's state is the process's: two threads phonemizing at once dropped words
    (stop 52: 6 of 600 results, and a two-worker server answered one request two ways). The
    front end lets one thread at a time into espeak, so every thread gets the whole text."""
    import copy
    import threading

    from tts.text import TextFrontend

    frontends = [TextFrontend(), copy.deepcopy(TextFrontend())]
    texts = {"en": "Hello there, how are you today?", "de": "Guten Morgen, wie geht es dir?"}
    expected = {lang: [c.ids for c in frontends[0].process(t, lang)] for lang, t in texts.items()}
    wrong = []

    def speak(frontend, lang):
        for _ in range(150):
            got = [c.ids for c in frontend.process(texts[lang], lang)]
            if got != expected[lang]:
                wrong.append((lang, got))

    threads = [
        threading.Thread(target=speak, args=(frontends[i % 2], lang))
        for i, lang in enumerate(["en", "en", "de", "de"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
