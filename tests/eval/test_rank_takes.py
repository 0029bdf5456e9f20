"""recipes/rank_takes.py: a reader's picks among kept takes, against the takes' own CER."""

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "recipes"))
import rank_takes as recipe


class Reader:
    """Scores a take by the first code it heard (lower is better, as CTC loss is)."""

    config = SimpleNamespace(source="codes")

    def score(self, heard, target, language):  # type: ignore[no-untyped-def]
        return [float(h.reshape(-1)[0]) for h in heard]


def item(language: str, cer: list[float], first_codes: list[int], stopped=None) -> dict:  # type: ignore[no-untyped-def]
    return {
        "language": language,
        "target": [5, 6],
        "cer": cer,
        "stopped": stopped or [True] * len(cer),
        "codes": [[[c, 0]] for c in first_codes],
    }


def test_pick_prefers_a_stopped_take_then_the_lowest_score() -> None:
    assert recipe.pick([0.9, 0.2, 0.1], [True, True, True], 2) == 1  # only the first 2 count
    assert recipe.pick([0.9, 0.2, 0.1], [True, True, True], 3) == 2
    assert recipe.pick([0.1, 0.5], [False, True], 2) == 1  # a capped take loses


def test_spearman_is_one_for_the_same_order_and_none_without_an_order() -> None:
    assert recipe.spearman([1, 2, 3], [0.1, 0.2, 0.5]) == pytest.approx(1.0)
    assert recipe.spearman([3, 2, 1], [0.1, 0.2, 0.5]) == pytest.approx(-1.0)
    assert recipe.spearman([1, 2, 3], [0.0, 0.0, 0.0]) is None
    assert recipe.spearman([1, 2, 3, 4], [0.0, 0.0, 0.5, 0.5]) == pytest.approx(0.8944, abs=1e-4)


def test_summary_compares_picks_with_the_first_and_the_best_take() -> None:
    items = [
        # the reader ranks these as Whisper does: it picks the best take
        item("ja", [0.4, 0.1, 0.3, 0.0], [4, 2, 3, 1]),
        # and these backwards: it picks the worst
        item("ja", [0.0, 0.2, 0.6, 0.4], [4, 3, 1, 2]),
    ]
    result = recipe.summarise(items, {"r": Reader()})["ja"]
    assert result["sentences"] == 2
    assert result["first"] == pytest.approx((0.4 + 0.0) / 2)
    assert result["best_of_2"] == pytest.approx((0.1 + 0.0) / 2)
    assert result["best_of_4"] == pytest.approx(0.0)
    picks = result["r"]
    assert picks["pick_of_2"] == pytest.approx((0.1 + 0.2) / 2)
    assert picks["pick_of_4"] == pytest.approx((0.0 + 0.6) / 2)
    assert picks["spearman"] == pytest.approx(0.0)  # (1 + -1) / 2


def test_takes_are_drawn_as_synthesis_draws_them() -> None:
    import warnings

    from tts.synthesizer import random_synthesizer

    synth = random_synthesizer(style_encoder=False, seed=3)
    text, seed = "Good morning to you.", 7

    class Judge:
        def __init__(self) -> None:
            self.heard: list[int] = []

        def score(self, wav, sr, reference_text, language):  # type: ignore[no-untyped-def]
            self.heard.append(len(wav))
            return "heard", 0.1 * len(self.heard)

    judge = Judge()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a random LM reaches its frame cap
        item = recipe.draw_takes(synth, judge, text, "en", seed, 3)
        one = synth.synthesize(text, language="en", seed=seed, watermark=False)
    assert item is not None and item["cer"] == pytest.approx([0.1, 0.2, 0.3])
    assert len(item["codes"]) == 3 and len(item["stopped"]) == 3
    (chunk,) = synth.frontend.process(text, "en")
    assert item["target"] == recipe.read_ids(chunk.ids, synth.frontend.inventory)
    frames = one.segments[0].n_frames  # the first take is what one-take synthesis speaks
    assert judge.heard[0] == frames * synth.codec.samples_per_frame
    for codes in item["codes"]:  # what a codes reader hears: every codebook, frame per frame
        assert len(codes) == synth.codec.n_codebooks
    assert len(item["codes"][0][0]) == frames
    # what a mel reader hears: each take's audio, which main() keeps as files
    assert item["sample_rate"] == synth.sample_rate
    assert [len(w) for w in item["audio"]] == judge.heard
    # a text the front end splits into several chunks is skipped
    long_text = " ".join(["This sentence is here to be split into chunks."] * 40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert recipe.draw_takes(synth, judge, long_text, "en", seed, 2) is None


def test_a_mel_reader_reads_the_kept_audio_files(tmp_path: Path) -> None:
    import numpy as np
    import torch

    from tts.errors import ConfigError
    from tts.reader import ReaderConfig, UnitReader

    rng = np.random.default_rng(0)
    audio = [0.3 * rng.standard_normal(n).astype(np.float32) for n in (12000, 9000)]
    drawn = {**item("en", [0.2, 0.1], [1, 2]), "sample_rate": 24000, "audio": audio}
    kept = recipe.keep_audio(drawn, tmp_path / "takes.audio", 7)
    assert kept["audio"] == ["0007_0.flac", "0007_1.flac"]
    torch.manual_seed(0)
    reader = UnitReader(ReaderConfig(source="mel", vocab_size=10, d_model=32, n_layer=1,
                                     n_head=2, upsample=1)).eval()  # fmt: skip
    scores = recipe.reader_scores(reader, kept, tmp_path / "takes.audio")
    # the files hold the audio at 16 bits: the same scores as the arrays, to that precision
    direct = reader.score([reader.log_mel(w, 24000) for w in audio], [5, 6], 1)
    assert scores == pytest.approx(direct, rel=1e-3)
    with pytest.raises(ConfigError, match="without it"):
        recipe.reader_scores(reader, item("en", [0.2, 0.1], [1, 2]), tmp_path / "takes.audio")


def test_voice_pick_chooses_the_closest_voice_among_takes_read_alike() -> None:
    scores, stopped, sims = [0.5, 0.3, 0.45, 0.9], [True] * 4, [0.80, 0.70, 0.75, 0.95]
    assert recipe.voice_pick(scores, stopped, sims, 4, 0.0) == 1  # margin 0: the reader
    assert recipe.voice_pick(scores, stopped, sims, 4, 0.2) == 0  # 0.9 reads too much worse
    assert recipe.voice_pick(scores, stopped, sims, 4, 1.0) == 3
    assert recipe.voice_pick(scores, stopped, sims, 2, 1.0) == 0  # only the first 2 count
    assert recipe.voice_pick(scores, stopped, [0.7, 0.7, 0.7, 0.7], 4, 1.0) == 1  # a tie
    assert recipe.voice_pick(scores, [True, False, True, True], sims, 4, 0.2) == 0


def test_voice_summary_reports_cer_and_voice_of_each_margins_pick() -> None:
    items = [
        # the reader prefers take 1 (first code 2 < 4); take 0 is within 2 and closer in voice
        item("en", [0.3, 0.1], [4, 2]),
        # here take 0 reads 5 worse: only a margin of 5 or more lets the voice choose it
        item("en", [0.0, 0.5], [8, 3]),
    ]
    items.append(item("en", [3.0, 0.2], [1, 5]))  # the reader's pick is a loop: CER 3
    sims = [[0.9, 0.6], [0.8, 0.7], [0.5, 0.9]]
    result = recipe.voice_summary(items, Reader(), None, sims, [2.0, 5.0])["en"]
    assert result[0.0]["cer_of_2"] == pytest.approx((0.1 + 0.5 + 3.0) / 3)
    assert result[0.0]["capped_cer_of_2"] == pytest.approx((0.1 + 0.5 + 1.0) / 3)
    assert result[0.0]["similarity_of_2"] == pytest.approx((0.6 + 0.7 + 0.5) / 3)
    assert result[2.0]["cer_of_2"] == pytest.approx((0.3 + 0.5 + 3.0) / 3)
    assert result[2.0]["similarity_of_2"] == pytest.approx((0.9 + 0.7 + 0.5) / 3)
    # take 1 of the third item reads 4 worse than the reader's pick: only a margin of 5 lets
    # the voice choose it
    assert result[5.0]["cer_of_2"] == pytest.approx((0.3 + 0.0 + 0.2) / 3)
    assert result[5.0]["capped_cer_of_2"] == result[5.0]["cer_of_2"]
    assert result[5.0]["similarity_of_2"] == pytest.approx((0.9 + 0.8 + 0.9) / 3)
