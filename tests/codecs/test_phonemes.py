"""A Koe decoder that also reads the text per frame (`CodecConfig.n_phonemes`), and the forced
alignment that places the phonemes (`tts.forced_align`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from tts.codecs.koe import KoeCodec
from tts.codecs.model import CodecConfig, CodecModel, tiny_config
from tts.errors import ConfigError
from tts.forced_align import (
    ctc_align,
    frame_phonemes,
    load_phoneme_frames,
    read_phoneme_frames,
    save_phoneme_frames,
)

N_PHONEMES = 6


def posteriors(best: list[int], vocab: int = 6) -> np.ndarray:
    """Log-probabilities [T, V] that favour `best[t]` at frame t."""
    lp = np.full((len(best), vocab), np.log(0.02))
    lp[np.arange(len(best)), best] = np.log(0.9)
    return lp


def test_ctc_align_follows_the_reader_and_needs_a_blank_between_repeats() -> None:
    # blank blank 3 3 blank 3 blank blank 5 5 blank blank: the phonemes 3, 3, 5
    best = [0, 0, 3, 3, 0, 3, 0, 0, 5, 5, 0, 0]
    index = ctc_align(posteriors(best), [3, 3, 5])
    assert index.tolist() == [-1, -1, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
    # a text the reader does not hear is still placed, in order, each phoneme somewhere
    index = ctc_align(posteriors(best), [2, 4, 1, 5])
    assert index[0] in (-1, 0) and index[-1] == 3
    assert np.all(np.diff(index) >= 0) and set(index.tolist()) >= {0, 1, 2, 3}
    # two frames hold "a b" but not "a a" (a repeat needs a blank between)
    assert ctc_align(posteriors([1, 2]), [1, 2]).tolist() == [0, 1]
    with pytest.raises(ConfigError, match="cannot fit"):
        ctc_align(posteriors([1, 2]), [1, 1])
    with pytest.raises(ConfigError, match="blank"):
        ctc_align(posteriors([1, 2]), [0, 1])
    assert ctc_align(posteriors([1, 2]), []).tolist() == [-1, -1]


def test_frame_phonemes_reads_each_frames_middle() -> None:
    index = np.array([-1, -1, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    frames = frame_phonemes(index, [3, 3, 5], n_frames=6, per_frame=2, none_id=9)
    assert frames.tolist() == [[9, 3, 3, 3, 5, 5], [3, 3, 5, 5, 9, 9]]
    # a slower decoder (3 reader frames a frame) and frames past the reader's last
    frames = frame_phonemes(index, [3, 3, 5], n_frames=5, per_frame=3.0, none_id=9)
    assert frames[0].tolist() == [9, 3, 3, 5, 5]
    assert frame_phonemes(np.array([], dtype=np.int64), [3], 2, 2, 9).tolist() == [[9, 9]] * 2
    with pytest.raises(ConfigError, match="per_frame"):
        frame_phonemes(index, [3], 2, 0, 9)


def test_phoneme_frames_round_trip_through_a_file(tmp_path: Path) -> None:
    frames = {"a/x.wav": np.array([[1, 2, 2], [2, 9, 9]]), "b.wav": np.zeros((2, 0), np.int64)}
    path = save_phoneme_frames(tmp_path / "p.safetensors", frames)
    back = load_phoneme_frames(path)
    assert list(back) == list(frames)
    for key, value in frames.items():
        assert back[key].dtype == np.int64 and np.array_equal(back[key], value)
    (tmp_path / "bad.safetensors").write_bytes(b"not a file")
    with pytest.raises(ConfigError, match="not a phoneme frames file"):
        load_phoneme_frames(tmp_path / "bad.safetensors")


def test_phoneme_frames_of_several_files_read_as_one(tmp_path: Path) -> None:
    old = save_phoneme_frames(tmp_path / "old.safetensors", {"a.wav": np.array([[1, 2], [2, 9]]), "b.wav": np.array([[3], [9]])})  # fmt: skip
    new = save_phoneme_frames(tmp_path / "new.safetensors", {"b.wav": np.array([[4], [9]]), "c.wav": np.array([[5, 5, 6], [6, 9, 9]])})  # fmt: skip
    merged = read_phoneme_frames(f"{old}, {new}")
    assert sorted(merged) == ["a.wav", "b.wav", "c.wav"]
    assert merged["b.wav"].tolist() == [[3], [9]]  # the first file's frames of a shared utterance
    assert merged["c.wav"].tolist() == [[5, 5, 6], [6, 9, 9]]
    assert read_phoneme_frames(str(new))["b.wav"].tolist() == [[4], [9]]
    other = save_phoneme_frames(tmp_path / "other.safetensors", {"a.wav": np.array([[1], [9]])})
    with pytest.raises(ConfigError, match="a.wav has 2 phoneme frames .* 1 in"):
        read_phoneme_frames(f"{old},{other}")
    with pytest.raises(ConfigError, match="no phoneme frames file"):
        read_phoneme_frames(" , ")
    with pytest.raises(ConfigError, match="not a phoneme frames file"):
        read_phoneme_frames(f"{old},{tmp_path / 'missing.safetensors'}")


def phoneme_config(**changes) -> CodecConfig:
    return dataclasses.replace(
        tiny_config(), **{"decoder_kind": "source_filter", "n_phonemes": N_PHONEMES, **changes}
    )


def test_the_phoneme_tables_start_at_zero_and_then_change_the_audio() -> None:
    torch.manual_seed(0)
    with_text = CodecModel(phoneme_config()).eval()
    plain = CodecModel(phoneme_config(n_phonemes=0)).eval()
    missing, unexpected = plain.load_state_dict(with_text.state_dict(), strict=False)
    assert not missing and unexpected == ["decoder.phoneme_embedding.weight"]
    codes = torch.randint(0, 1000, (2, 2, 12))
    phonemes = torch.randint(0, N_PHONEMES, (2, 2, 12))
    with torch.no_grad():
        expected = plain.decode(codes)
        torch.testing.assert_close(with_text.decode(codes, phonemes=phonemes), expected)
        with_text.decoder.phoneme_embedding.weight.normal_(0.0, 0.5)
        none = with_text.decode(codes)
        all_none = torch.full((2, 2, 12), N_PHONEMES)
        torch.testing.assert_close(with_text.decode(codes, phonemes=all_none), none)
        read = with_text.decode(codes, phonemes=phonemes)
        # the next phoneme has its own table: swapping the rows changes the audio
        swapped = with_text.decode(codes, phonemes=phonemes.flip(1))
    assert (read - none).abs().max() > 0.05 * none.abs().max()
    assert (read - swapped).abs().max() > 0.05 * none.abs().max()


def test_the_phoneme_weight_pushes_the_text_away_from_none() -> None:
    torch.manual_seed(2)
    base = CodecModel(phoneme_config()).eval()
    with torch.no_grad():
        base.decoder.phoneme_embedding.weight.normal_(0.0, 0.5)
    strong = CodecModel(phoneme_config(phoneme_weight=1.7)).eval()
    strong.load_state_dict(base.state_dict())
    # the same decoder with its tables moved by hand: E(none) + 1.7 (E(p) - E(none)) per table
    edited = CodecModel(phoneme_config()).eval()
    edited.load_state_dict(base.state_dict())
    with torch.no_grad():
        table = edited.decoder.phoneme_embedding.weight.view(2, N_PHONEMES + 1, -1)
        none = table[:, N_PHONEMES:].clone()
        table.copy_(none + 1.7 * (table - none))
    codes = torch.randint(0, 1000, (2, 2, 12))
    phonemes = torch.randint(0, N_PHONEMES + 1, (2, 2, 12))  # some frames "none"
    with torch.no_grad():
        pushed = strong.decode(codes, phonemes=phonemes)
        read = base.decode(codes, phonemes=phonemes)
        # (the two sums round differently: a float32 difference through the trunk)
        torch.testing.assert_close(pushed, edited.decode(codes, phonemes=phonemes), atol=1e-3, rtol=0)  # fmt: skip
        assert (pushed - read).abs().max() > 0.05 * read.abs().max()
        # without the text the weight changes nothing
        torch.testing.assert_close(strong.decode(codes), base.decode(codes))
        # 0: the text is not read at all
        mute = CodecModel(phoneme_config(phoneme_weight=0.0)).eval()
        mute.load_state_dict(base.state_dict())
        torch.testing.assert_close(mute.decode(codes, phonemes=phonemes), base.decode(codes))


def test_phoneme_errors_and_the_codec_interface() -> None:
    with pytest.raises(ConfigError, match="n_phonemes"):
        phoneme_config(n_phonemes=-1).validate()
    for bad in (-0.5, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="phoneme_weight"):
            phoneme_config(phoneme_weight=bad).validate()
    codes = torch.randint(0, 1000, (1, 2, 5))
    with pytest.raises(ConfigError, match="reads no phonemes"):
        CodecModel(tiny_config()).decode(codes, phonemes=torch.zeros(1, 2, 5, dtype=torch.long))
    with pytest.raises(ConfigError, match="shaped"):
        CodecModel(phoneme_config()).decode(codes, phonemes=torch.zeros(1, 5, dtype=torch.long))
    torch.manual_seed(1)
    codec = KoeCodec.from_config(phoneme_config())
    plain = KoeCodec.from_config(tiny_config())
    assert codec.reads_phonemes == N_PHONEMES and plain.reads_phonemes == 0
    with torch.no_grad():
        codec.model.decoder.phoneme_embedding.weight.normal_(0.0, 0.5)
    phonemes = torch.randint(0, N_PHONEMES, (1, 2, 5))
    with pytest.raises(ConfigError, match="reads no phonemes"):
        plain.decode(codes, phonemes=phonemes)
    with pytest.raises(ConfigError, match="reads no phonemes"):
        plain.decode_window(codes, 0, 0, 0.0, phonemes=phonemes)
    # decode and decode_window hear the same phonemes
    whole = codec.decode(codes, phonemes=phonemes)
    window, _ = codec.decode_window(codes, 0, 0, 0.0, phonemes=phonemes)
    torch.testing.assert_close(window, whole)
    assert (whole - codec.decode(codes)).abs().max() > 0


def test_set_phoneme_weight_decodes_as_a_codec_built_with_it_and_is_saved(tmp_path: Path) -> None:
    torch.manual_seed(3)
    codec = KoeCodec.from_config(phoneme_config())
    with torch.no_grad():
        codec.model.decoder.phoneme_embedding.weight.normal_(0.0, 0.5)
    built = KoeCodec(CodecModel(phoneme_config(phoneme_weight=2.5)).eval())
    built.model.load_state_dict(codec.model.state_dict())
    codes = torch.randint(0, 1000, (1, 2, 10))
    phonemes = torch.randint(0, N_PHONEMES + 1, (1, 2, 10))
    with torch.no_grad():
        before = codec.model.decode(codes, phonemes=phonemes)
        codec.set_phoneme_weight(2.5)
        after = codec.model.decode(codes, phonemes=phonemes)
        torch.testing.assert_close(after, built.model.decode(codes, phonemes=phonemes))
    assert (after - before).abs().max() > 0.05 * before.abs().max()
    assert codec.config.phoneme_weight == codec.model.cfg.phoneme_weight == 2.5
    codec.save(tmp_path / "codec")
    assert KoeCodec.load(tmp_path / "codec").model.decoder.phoneme_weight == 2.5
    # a bad weight is refused and leaves the codec as it was
    with pytest.raises(ConfigError, match="phoneme_weight"):
        codec.set_phoneme_weight(-1.0)
    assert codec.config.phoneme_weight == codec.model.decoder.phoneme_weight == 2.5
    with pytest.raises(ConfigError, match="reads no phonemes"):
        KoeCodec.from_config(tiny_config()).set_phoneme_weight(2.0)
