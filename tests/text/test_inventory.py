"""SymbolInventory: round trips, errors, and coverage of everything the G2P can produce."""

from __future__ import annotations

import random

import pytest

from tts.errors import ConfigError, UnknownSymbolError, UnsupportedLanguageError
from tts.labels import EMOTIONS, LANGUAGES
from tts.text import SymbolInventory, phonemize_many
from tts.text.symbols import ALL_SYMBOLS, INVENTORY_VERSION


def test_version_and_specials() -> None:
    inventory = SymbolInventory.default()
    assert inventory.version == INVENTORY_VERSION
    assert inventory.pad_id == 0 and inventory.symbols[:3] == ("<pad>", "<bos>", "<eos>")
    assert len(inventory) == len(ALL_SYMBOLS) == len(set(ALL_SYMBOLS))
    assert "<unk>" not in inventory


def test_language_and_emotion_tokens() -> None:
    inventory = SymbolInventory.default()
    for language in LANGUAGES:
        token = inventory.language_token(language)
        assert inventory.decode([inventory.id_of(token)]) == [token]
    assert inventory.language_token("ja-JP") == "<lang:ja>"
    for emotion in EMOTIONS:
        assert inventory.emotion_token(emotion) in inventory
    with pytest.raises(UnsupportedLanguageError):
        inventory.language_token("fr")


def test_encode_decode_round_trip() -> None:
    inventory = SymbolInventory.default()
    symbols = ["<bos>", "h", "ə", "l", "ˈ", "oʊ", "|", "˨˩", "ɯ̥", "[", "]", "?", "<eos>"]
    ids = inventory.encode(symbols)
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids)
    assert inventory.decode(ids) == symbols


def test_unknown_symbols_are_reported_not_dropped() -> None:
    inventory = SymbolInventory.default()
    with pytest.raises(UnknownSymbolError) as info:
        inventory.encode(["a", "☃", "b", "<unk>"])
    assert set(info.value.symbols) == {"☃", "<unk>"}
    with pytest.raises(UnknownSymbolError):
        inventory.id_of("☃")
    with pytest.raises(UnknownSymbolError):
        inventory.decode([len(inventory)])


def test_save_load_and_dict_round_trip(tmp_path) -> None:
    inventory = SymbolInventory.default()
    path = tmp_path / "symbols.json"
    inventory.save(path)
    loaded = SymbolInventory.load(path)
    assert loaded == inventory and loaded.version == inventory.version
    assert SymbolInventory.from_dict(inventory.to_dict()) == inventory
    assert "ɯ̥" in path.read_text(encoding="utf-8")  # stored readable, not escaped


def test_bad_inventories_are_rejected() -> None:
    with pytest.raises(ConfigError):
        SymbolInventory(["<pad>", "<bos>", "<eos>", "a", "a"])
    with pytest.raises(ConfigError):
        SymbolInventory(["a", "b"])
    with pytest.raises(ConfigError):
        SymbolInventory.from_dict({"symbols": ["<pad>"]})


# --- coverage: a large, varied corpus per language must produce only inventory symbols ----

NATURAL = {
    "en": [
        "The quick brown fox jumps over the lazy dog.",
        "She sells seashells by the seashore, doesn't she?",
        "Thirty-three thousand judges measured the vision of pleasure and treasure.",
        "Why would a young girl enjoy jazz, yoga, and rhythm in Zurich or Lyon?",
        "Our hour-long journey through the thorough, rough boroughs was awful!",
        "Button, kitten, bottle, little; whether weather wherever; choir, quay, colonel.",
        "I'd've thought you'll know Müller, Nguyễn and Dvořák; naïve café résumé.",
    ],
    "de": [
        "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.",
        "Fischers Fritz fischt frische Fische; frische Fische fischt Fischers Fritz.",
        "Die Pfeife, der Zahn, die Bäume, die Häuser und ein ächzendes Eichhörnchen.",
        "Brautkleid bleibt Brautkleid und Blaukraut bleibt Blaukraut.",
        "Chemie, Chaos, Chance: Ob Jugend, Journalist oder Genie, jeder lacht.",
        "Wir wohnen in der Schloßstraße; das Mädchen übt Ölmalerei.",
    ],
    "ko": [
        "키스의 고유조건은 입술끼리 만나야 하고 특별한 기술은 필요치 않다.",
        "닭 값이 얼마예요? 몫을 나누고 읽기 연습을 합시다.",
        "빨리 싸다 짜다 없다 꽃잎 넓다 밟다 흙 앉다 많이.",
        "의사 선생님께서 희망을 잃지 말라고 하셨습니다.",
        "서울에서 부산까지 기차로 두 시간 반 걸려요.",
    ],
    "vi": [
        "Tôi yêu tiếng nước tôi từ khi mới ra đời, người ơi!",
        "Trăm năm trong cõi người ta, chữ tài chữ mệnh khéo là ghét nhau.",
        "Khuya rồi, nghiêng nghiêng giọt sương rơi trên đường quê.",
        "Phở bò, bánh mì, gỏi cuốn và cà phê sữa đá ở Sài Gòn.",
        "Quốc gia, huyện, xã, thuyền, khuỷu tay, ngoằn ngoèo.",
    ],
    "ja": [
        "いろはにほへと、ちりぬるを。わかよたれそ、つねならむ？",
        "ヴァイオリンとティーカップ、ディズニーのフィルム。",
        "東京特許許可局で、きゃきゅきょ、しゃしゅしょ、ぎゃぎゅぎょ！",
        "今日は良い天気ですね。明日は雨が降るでしょうか？",
        "クヮ、グヮ、ファ、フュ、テュ、デュ、ウィ、ウェ、ウォ、ツァ。",
    ],
}
ALPHABETS = {
    "en": "abcdefghijklmnopqrstuvwxyz",
    "de": "abcdefghijklmnopqrstuvwxyzäöüß",
    "vi": "abcdeghiklmnopqrstuvxyăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ",
}


def _random_corpus(language: str, size: int, rng: random.Random) -> list[str]:
    texts = []
    for _ in range(size):
        if language == "ko":
            words = [
                "".join(chr(0xAC00 + rng.randrange(11172)) for _ in range(rng.randint(1, 4)))
                for _ in range(6)
            ]
        elif language == "ja":
            words = [
                "".join(chr(rng.randrange(0x30A1, 0x30F5)) for _ in range(rng.randint(1, 5)))
                for _ in range(4)
            ]
        else:
            alphabet = ALPHABETS[language]
            words = [
                "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9))) for _ in range(6)
            ]
        texts.append(" ".join(words) + rng.choice([".", "?", "!", ","]))
    return texts


@pytest.mark.parametrize("language", ["en", "de", "ko", "vi", "ja"])
def test_corpus_symbols_are_all_in_inventory(language: str) -> None:
    inventory = SymbolInventory.default()
    rng = random.Random(1234)
    corpus = NATURAL[language] + _random_corpus(language, 600, rng)
    seen: set[str] = set()
    for symbols in phonemize_many(corpus, language):
        seen.update(symbols)
    missing = sorted(s for s in seen if s not in inventory)
    assert not missing, f"{language}: symbols missing from the inventory: {missing}"
    assert len(seen) > 30  # the corpus really exercised the G2P
