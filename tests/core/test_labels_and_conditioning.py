import pytest
import torch

from tts.conditioning import SPEAKER_DIM, STYLE_DIM, Conditioning
from tts.errors import ConfigError, UnsupportedLanguageError
from tts.labels import (
    EMOTIONS,
    LANGUAGES,
    MAX_INTENSITY,
    UnsupportedEmotionError,
    check_emotion,
    check_intensity,
    check_language,
)


def test_language_codes_are_normalised():
    assert check_language("JA") == "ja"
    assert check_language("en_US") == "en"
    assert check_language("de-DE") == "de"
    assert set(LANGUAGES) == {"ja", "en", "ko", "vi", "de"}


@pytest.mark.parametrize("bad", ["fr", "", None, 3, "zh-CN"])
def test_unsupported_language_lists_supported_ones(bad):
    with pytest.raises(UnsupportedLanguageError) as info:
        check_language(bad)
    assert "ja, en, ko, vi, de" in str(info.value)


def test_emotions():
    assert {"neutral", "happy", "sad", "angry", "surprised"} <= set(EMOTIONS)
    assert check_emotion(" Happy ") == "happy"
    with pytest.raises(UnsupportedEmotionError, match="neutral"):
        check_emotion("bored")


def test_intensity_is_a_number_from_neutral_up_to_four_times_the_label():
    assert MAX_INTENSITY == 4.0
    assert check_intensity(0) == 0.0 and isinstance(check_intensity(1), float)
    assert check_intensity(MAX_INTENSITY) == MAX_INTENSITY
    for bad in (-0.01, 4.01, 100.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match=r"intensity must lie in \[0, 4\]"):
            check_intensity(bad)
    for bad in (True, "1", None):
        with pytest.raises(ConfigError, match="intensity must be a number"):
            check_intensity(bad)


def test_conditioning_single_and_cat():
    a = Conditioning.single(torch.randn(SPEAKER_DIM), "ja", "sad", 0.5)
    b = Conditioning.single(torch.randn(SPEAKER_DIM), "de", style=torch.randn(STYLE_DIM))
    batch = Conditioning.cat([a, b])
    assert batch.batch_size == 2
    assert batch.language.tolist() == [LANGUAGES.index("ja"), LANGUAGES.index("de")]
    assert batch.emotion.tolist() == [EMOTIONS.index("sad"), EMOTIONS.index("neutral")]
    assert batch.style is None  # style only kept when every item has one
    both = Conditioning.cat([b, b])
    assert both.style is not None and both.style.shape == (2, STYLE_DIM)
