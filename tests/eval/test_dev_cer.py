"""recipes/dev_cer.py: development sentences stay out of every corpus, and the table is the mean
of each language's items."""

import dataclasses
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tts.audio import Audio
from tts.codecs.koe import KoeCodec
from tts.codecs.model import tiny_config
from tts.generate import SamplingConfig
from tts.synthesizer import Synthesizer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "recipes"))
import dev_cer as recipe

RECIPES = Path(recipe.__file__).parent


@pytest.mark.parametrize("language", ["ja", "en", "de"])
def test_development_sentences_appear_in_no_corpus_list(language: str) -> None:
    dev = recipe.dev_sentences(language)
    assert len(dev) >= 12 and len(set(dev)) == len(dev)
    for folder in ("sentences", "sentences_wordfreq"):
        corpus = (RECIPES / "data" / folder / f"{language}.txt").read_text(encoding="utf-8")
        lines = {line.strip() for line in corpus.splitlines()}
        assert not lines & set(dev), f"{folder}/{language}.txt holds a development sentence"


def test_missing_language_is_named() -> None:
    with pytest.raises(FileNotFoundError, match="no development sentences for 'ko'"):
        recipe.dev_sentences("ko", root=RECIPES / "data" / "dev_sentences")


class Silent:
    def __init__(self) -> None:
        self.voices: list[object] = []

    def synthesize(self, text: str, language: str, seed: int, reference=None) -> Audio:  # type: ignore[no-untyped-def]
        self.voices.append(reference)
        return Audio(np.zeros(1600, dtype=np.float32), 16000)


class Judge:
    """Hears every ja sentence right and half of each en one wrong."""

    def score(self, wav, sr, text, lang):  # type: ignore[no-untyped-def]
        return text, 0.0 if lang == "ja" else 0.5


def test_table_is_the_mean_per_language_then_over_languages(tmp_path: Path) -> None:
    (tmp_path / "ja.txt").write_text("一つ目。\n\n二つ目。\n", encoding="utf-8")
    (tmp_path / "en.txt").write_text("One.\n", encoding="utf-8")
    result = recipe.dev_cer(Silent(), Judge(), ["ja", "en"], seeds=[0, 1], root=tmp_path)
    assert result["per_language"] == {"ja": 0.0, "en": 0.5} and result["mean"] == 0.25
    assert len(result["items"]) == (2 + 1) * 2  # blank lines are not sentences


def test_reference_voice_is_passed_to_every_synthesis(tmp_path: Path) -> None:
    (tmp_path / "en.txt").write_text("One.\nTwo.\n", encoding="utf-8")
    default, other = Silent(), Silent()
    recipe.dev_cer(default, Judge(), ["en"], seeds=[0], root=tmp_path)
    recipe.dev_cer(other, Judge(), ["en"], seeds=[0, 1], root=tmp_path, reference="m3.wav")
    assert default.voices == [None, None]
    assert other.voices == ["m3.wav"] * 4


class WithCodec(Silent):
    """A synthesizer stand-in with a codec and a sampling config, as main() needs."""

    set_phoneme_weight = Synthesizer.set_phoneme_weight

    def __init__(self, codec) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.codec = codec
        self.config = SimpleNamespace(sampling=SamplingConfig())


def test_phoneme_weight_option_sets_the_codec_and_is_recorded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = dataclasses.replace(tiny_config(), decoder_kind="source_filter", n_phonemes=6)
    synth = WithCodec(KoeCodec.from_config(config))
    monkeypatch.setattr(recipe.Synthesizer, "from_pretrained", lambda model: synth)
    monkeypatch.setattr(recipe, "load_whisper", Judge)
    result = recipe.main(["--languages", "ja", "--seeds", "0", "--phoneme-weight", "2.5"])
    assert result["phoneme_weight"] == synth.codec.model.decoder.phoneme_weight == 2.5
    for bad in ("-1", "nan"):
        with pytest.raises(SystemExit):
            recipe.main(["--languages", "ja", "--phoneme-weight", bad])
    assert synth.codec.model.decoder.phoneme_weight == 2.5
    # a codec that reads no text: the option is refused, naming why
    monkeypatch.setattr(recipe.Synthesizer, "from_pretrained", lambda model: WithCodec(KoeCodec.from_config(tiny_config())))  # fmt: skip
    with pytest.raises(SystemExit):
        recipe.main(["--languages", "ja", "--phoneme-weight", "2"])
