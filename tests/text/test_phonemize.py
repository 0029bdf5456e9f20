"""Hand-checked G2P examples: full symbol sequences and key properties per language."""

from __future__ import annotations

import pytest

from tts.text import SymbolInventory, phonemize
from tts.text.espeak import split_ipa_word
from tts.text.japanese import labels_to_symbols

FULL = [
    ("en", "Hello world.", "h ə l ˈ oʊ | w ˈ ɜ ː l d ."),
    ("en", "Is it three?", "ɪ z | ɪ t | θ ɹ ˈ i ː ?"),
    ("en", "the cat", "ð ə | k ˈ æ t"),
    ("de", "Guten Tag.", "ɡ ˈ u ː t ə n | t ˈ ɑ ː k ."),
    ("de", "Pfeife und Zahl?", "pf ˈ aɪ f ə | ʊ n t | ts ˈ ɑ ː l ?"),
    ("ko", "세 시", "s ˈ e | s ˈ i"),
    ("ko", "3시", "s ˈ e | s ˈ i"),  # the normaliser makes the 3 native: 세 시
    ("vi", "Xin chào.", "s ˈ i n | tʃ ˈ a ː ˨˩ w ."),
    # ngang (unmarked), huyền, sắc, hỏi, ngã, nặng
    (
        "vi",
        "ma mà má mả mã mạ",
        "m ˈ a ː | m ˌ a ː ˨˩ | m ˈ a ː ˧˥ | m ˈ a ː ˧˩˧ | m ˈ a ː ˧ˀ˥ | m ˈ a ː ˨˩ˀ",
    ),
    # Tokyo accent: 雨 is accented on the first mora (a]me), 飴 is flat (a[me, the fall of
    # です lands on で), 箸 falls after ha.
    ("ja", "雨", "a ] m e"),
    ("ja", "飴です。", "a [ m e d e ] s ɯ̥ ."),
    ("ja", "箸", "h a ] ɕ i"),
    ("ja", "本当ですか？", "h o [ ɴ t o o d e ] s ɯ̥ k a ?"),
    ("ja", "はい、そうです。", "h a ] i , # s o [ o d e s ɯ̥ ."),
]


@pytest.mark.parametrize(("language", "text", "expected"), FULL)
def test_full_sequences(language: str, text: str, expected: str) -> None:
    assert " ".join(phonemize(text, language)) == expected


def _joined(text: str, language: str) -> str:
    return " ".join(phonemize(text, language))


def test_japanese_numbers_with_counters() -> None:
    symbols = _joined("3時に100円で3本買った", "ja")
    assert symbols.startswith("s a ] ɴ dʑ i")  # さんじ
    assert "ç a [ k ɯ e ɴ" in symbols  # ひゃくえん
    assert "s a ] ɴ b o ɴ" in symbols  # さんぼん (not さんほん)
    assert "Q t a" in symbols  # かった: sokuon


def test_japanese_numeric_dates_and_temperatures_are_read_as_dates_and_degrees() -> None:
    # 2024/12/06: にせんにじゅうよねん じゅうにがつ むいか, not with slashes and ゼロロク; 20°C:
    # にじゅうど (OpenJTalk leaves °C unread). The front end normalises, then phonemises.
    from tts.text import TextFrontend

    frontend = TextFrontend()

    def said(text: str) -> str:
        ids = [i for chunk in frontend.process(text, "ja") for i in chunk.ids]
        return " ".join(frontend.inventory.decode(ids))

    date = said("2024/12/06に会いました。")
    assert "m ɯ [ i k a" in date and "ɡ a ts ɯ" in date  # むいか, がつ
    assert "z e ɾ o" not in date
    assert said("気温は20°Cでした。") == said("気温は20度でした。")


def test_japanese_big_number_keeps_its_one() -> None:
    # いっせんまんえん: the normaliser's 一千万 makes OpenJTalk say いっ(Q)せん
    assert _joined("10000000円", "ja").startswith("i [ Q s e ɴ m a")


def test_japanese_question_from_labels_and_statement() -> None:
    assert phonemize("行くの？", "ja")[-1] == "?"
    assert phonemize("行くの。", "ja")[-1] == "."
    assert "?" not in phonemize("行くの", "ja")


def test_japanese_accent_phrases_and_pause() -> None:
    symbols = phonemize("今日は良い天気ですね", "ja")
    assert symbols.count("#") >= 2  # 今日は | 良い | 天気ですね
    assert "]" in symbols


def test_japanese_pause_from_labels() -> None:
    import pyopenjtalk

    # Given the whole sentence, OpenJTalk puts a pause at 、: it becomes '_'.
    symbols = labels_to_symbols(pyopenjtalk.extract_fullcontext("はい、そうです"))
    assert symbols[:4] == ["h", "a", "]", "i"] and symbols[4] == "_"


def test_japanese_devoiced_vowel_and_moraic_nasal() -> None:
    symbols = phonemize("です", "ja")
    assert "ɯ̥" in symbols
    assert "ɴ" in phonemize("本", "ja")


def test_japanese_mixed_script() -> None:
    # OpenJTalk knows iPhone (アイフォン) and reads the acronym AI as エーアイ.
    assert _joined("iPhoneを買った", "ja").startswith("a ] i ɸ o ɴ o")
    assert _joined("AIの研究", "ja").startswith("e [ e a ] i n o")
    # An unknown Latin word is read as English, not spelled letter by letter.
    symbols = phonemize("Transformerモデル", "ja")
    assert symbols[:4] == ["t", "ɹ", "æ", "n"] and "ˈ" in symbols
    assert symbols[symbols.index("#") + 1 :][:2] == ["m", "o"]


def test_hangul_inside_english_and_kanji_inside_german() -> None:
    symbols = _joined("Kim said 안녕 to me.", "en")
    assert "ˈ ɐ n n j ʌ ŋ" in symbols  # 안녕 read as Korean, not "Korean letter"
    assert "t o [ o kʲ o o" in _joined("Ich liebe 東京.", "de")  # とーきょー


def test_latin_inside_korean_is_english() -> None:
    assert _joined("I love Seoul", "ko").startswith("aɪ | l ˈ ʌ v")


def test_stress_and_tones_are_symbols() -> None:
    assert "ˈ" in phonemize("tomorrow", "en")
    assert "ˈ" in phonemize("Morgen", "de")
    tones = {"˨˩", "˧˥", "˧˩˧", "˧ˀ˥", "˨˩ˀ"}
    assert tones <= set(phonemize("mà má mả mã mạ", "vi"))


def test_korean_aspirated_and_tense_consonants() -> None:
    assert "kʰ" in phonemize("코", "ko")
    assert "k͈" in phonemize("꼬", "ko")
    assert "s͈" in phonemize("싸다", "ko")


def test_german_specifics() -> None:
    symbols = phonemize("Bäume und Häuser, ich lache.", "de")
    assert "ɔø" in symbols and "ç" in symbols and "x" in symbols and "," in symbols


def test_punctuation_and_word_boundaries_kept() -> None:
    symbols = phonemize("Well, yes; no: maybe!", "en")
    for mark in (",", ";", ":", "!"):
        assert mark in symbols
    assert symbols.count("|") == 3


def test_split_ipa_word_rules() -> None:
    assert split_ipa_word("tʃˈɜːtʃ", "en") == ["tʃ", "ˈ", "ɜ", "ː", "tʃ"]
    assert split_ipa_word("kʰˈo", "ko") == ["kʰ", "ˈ", "o"]
    assert split_ipa_word("khˈo", "ko") == ["kʰ", "ˈ", "o"]
    assert split_ipa_word("k-ˈo", "ko") == ["k͈", "ˈ", "o"]
    assert split_ipa_word("mˈaː2", "vi") == ["m", "ˈ", "a", "ː", "˨˩"]
    assert split_ipa_word("t̪ˈəɜn", "vi") == ["t̪", "ˈ", "ə", "˧˥", "n"]


@pytest.mark.parametrize("language", ["en", "de", "ko", "vi", "ja"])
def test_output_is_in_inventory(language: str) -> None:
    inventory = SymbolInventory.default()
    text = {
        "en": "The quick brown fox jumps over the lazy dog at 3:30 pm!",
        "de": "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.",
        "ko": "키스의 고유조건은 입술끼리 만나야 하고 특별한 기술은 필요치 않다.",
        "vi": "Tôi yêu tiếng nước tôi từ khi mới ra đời, người ơi!",
        "ja": "いろはにほへと、ちりぬるを。わかよたれそ、つねならむ？",
    }[language]
    inventory.encode(phonemize(text, language))
