"""Synthesis with a decoder that reads the text: the kept take is decoded again, told by the mel
reader's forced alignment which phoneme each frame says (`Synthesizer.phoneme_frames`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from tts.codecs.koe import KoeCodec
from tts.errors import ConfigError
from tts.generate import SamplingConfig
from tts.reader import ReaderConfig, UnitReader, read_ids
from tts.synthesizer import Synthesizer, random_synthesizer


@pytest.fixture(scope="module")
def text_synth() -> Synthesizer:
    base = random_synthesizer(style_encoder=False, max_frames_per_phoneme=4.0)
    inventory = base.frontend.inventory
    torch.manual_seed(0)
    config = dataclasses.replace(
        base.codec.config, decoder_kind="source_filter", n_phonemes=len(inventory)
    )
    codec = KoeCodec.from_config(config)
    with torch.no_grad():  # random tables, so the text changes the audio
        codec.model.decoder.phoneme_embedding.weight.normal_(0.0, 0.5)
    reader = UnitReader(
        ReaderConfig(source="mel", vocab_size=len(inventory), d_model=32, n_layer=1, n_head=2,
                     n_mels=16, upsample=1, dropout=0.0)
    )  # fmt: skip
    return Synthesizer(
        base.lm, codec, base.frontend, base.speaker_encoder, voices=base.voices,
        config=base.config, reader=reader,
    )  # fmt: skip


@pytest.mark.parametrize(("takes", "speed"), [(2, 1.0), (1, 0.9)])
def test_the_kept_take_is_decoded_again_with_itsphoneme_frames(
    text_synth: Synthesizer, takes: int, speed: float
) -> None:
    calls: list[tuple[torch.Tensor, torch.Tensor | None, np.ndarray]] = []
    decode = Synthesizer._decode

    def spy(self, codes, *args):  # type: ignore[no-untyped-def]
        wav = decode(self, codes, *args)
        calls.append((codes, args[4] if len(args) > 4 else None, wav))
        return wav

    text_synth._decode = spy.__get__(text_synth)  # type: ignore[method-assign]
    try:
        sampling = SamplingConfig(temperature=0.9, top_k=50, candidates=takes)
        audio = text_synth.synthesize(
            "Where is the old station?", language="en", seed=0, sampling=sampling,
            watermark=False, speed=speed, label_prosody=False,
        )  # fmt: skip
    finally:
        del text_synth._decode
    (chunk,) = text_synth.frontend.process("Where is the old station?", "en")
    plain = [c for c in calls if c[1] is None]
    with_text = [c for c in calls if c[1] is not None]
    assert len(plain) == takes and len(with_text) == 1  # every take heard, the kept one again
    codes, frames, wav = with_text[0]
    n = codes.shape[-1]
    assert frames.shape == (1, 2, n) and frames.dtype == torch.long
    # the frames say the text's phonemes in order ("none" only before them); a phoneme the
    # reader gives less than a frame may be passed over
    target = read_ids(chunk.ids, text_synth.frontend.inventory)
    none = len(text_synth.frontend.inventory)
    row = frames[0, 0].tolist()
    said = [x for x in row if x != none]
    assert row[len(row) - len(said) :] == said  # the "none" frames come first
    merged = [x for i, x in enumerate(said) if i == 0 or x != said[i - 1]]
    rest = iter(target)
    assert all(any(x == y for y in rest) for x in merged)  # a subsequence of the text
    assert len(merged) >= len(target) // 2
    # they are the reader's alignment of the kept take's first decoding ...
    first = next(c for c in plain if torch.equal(c[0], codes))
    expected = text_synth.phoneme_frames(chunk, first[2], n)
    assert torch.equal(expected, frames)
    # ... and what the synthesis returns is that second decoding (the joiner's fades aside)
    assert not np.allclose(wav, first[2])
    if speed == 1.0:  # (else the returned audio is also stretched)
        assert best_match(audio.wav, wav) > 0.99 > best_match(audio.wav, first[2])


def best_match(signal: np.ndarray, part: np.ndarray) -> float:
    """The highest normalised correlation of `part`'s middle half with a stretch of `signal`."""
    piece = part[len(part) // 4 : 3 * len(part) // 4].astype(np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(signal.astype(np.float64), len(piece))
    dots = windows @ piece
    norms = np.linalg.norm(windows, axis=1) * np.linalg.norm(piece) + 1e-12
    return float(np.max(dots / norms))


def test_nophoneme_frames_without_a_mel_reader_or_room_for_the_text(
    text_synth: Synthesizer,
) -> None:
    (chunk,) = text_synth.frontend.process("Where is the old station?", "en")
    audio = np.zeros(text_synth.codec.samples_per_frame * 3, dtype=np.float32)
    assert text_synth.phoneme_frames(chunk, audio, 3) is None  # 15 phonemes in 3 frames
    reader, text_synth.reader = text_synth.reader, None
    try:
        long = np.zeros(text_synth.codec.samples_per_frame * 60, dtype=np.float32)
        assert text_synth.phoneme_frames(chunk, long, 60) is None
    finally:
        text_synth.reader = reader


def test_the_phoneme_weight_changes_what_synthesis_decodes_and_the_cli_sets_it(
    text_synth: Synthesizer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tts import cli

    sampling = SamplingConfig(temperature=0.9, top_k=50, candidates=1)
    said = dict(language="en", seed=0, sampling=sampling, watermark=False, label_prosody=False)
    try:
        as_trained = text_synth.synthesize("Where is the old station?", **said).wav
        text_synth.set_phoneme_weight(3.0)
        pushed = text_synth.synthesize("Where is the old station?", **said).wav
        assert text_synth.codec.config.phoneme_weight == 3.0
        # the same take (one, same seed), decoded leaning harder on the text
        assert len(pushed) == len(as_trained)
        assert np.abs(pushed - as_trained).max() > 0.05 * np.abs(as_trained).max()
        text_synth.set_phoneme_weight(1.0)
        np.testing.assert_array_equal(text_synth.synthesize("Where is the old station?", **said).wav, as_trained)  # fmt: skip
    finally:
        text_synth.set_phoneme_weight(1.0)
    # a decoder without the text has no weight to set
    with pytest.raises(ConfigError, match="reads no phonemes"):
        random_synthesizer(style_encoder=False).set_phoneme_weight(2.0)
    # the command line: a bad weight is an error naming it, a good one synthesises
    text_synth.save(tmp_path / "bundle")
    base = [
        "synthesize",
        "--model",
        str(tmp_path / "bundle"),
        "--text",
        "Where?",
        "--language",
        "en",
    ]
    assert cli.main([*base, "--out", str(tmp_path / "a.wav"), "--phoneme-weight", "-1"]) == 1
    assert "phoneme_weight" in capsys.readouterr().err
    assert cli.main([*base, "--out", str(tmp_path / "b.wav"), "--phoneme-weight", "2.5"]) == 0
    assert (tmp_path / "b.wav").stat().st_size > 1000


def test_tts_eval_sets_and_records_the_phoneme_weight(
    text_synth: Synthesizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tts.eval import evaluate

    seen: list[float] = []

    def run(synth, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(synth.codec.model.decoder.phoneme_weight)  # what the measurements decode with
        return {"config": {}}

    monkeypatch.setattr(evaluate, "run_evaluation", run)
    monkeypatch.setattr(Synthesizer, "from_pretrained", classmethod(lambda cls, *a, **k: text_synth))  # fmt: skip
    try:
        argv = ["--model", "m", "--only", "speed", "--out", str(tmp_path), "--phoneme-weight", "2.5"]  # fmt: skip
        results = evaluate.main(argv)
        assert seen == [2.5] and results["config"]["phoneme_weight"] == 2.5
    finally:
        text_synth.set_phoneme_weight(1.0)
    with pytest.raises(ConfigError, match="--model"):
        evaluate.main(["--only", "speed", "--out", str(tmp_path), "--phoneme-weight", "2.5"])
