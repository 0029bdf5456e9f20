import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tts.codecs import load_codec
from tts.errors import ConfigError
from tts.streaming import SegmentJoiner, StreamingDecoder, decoder_context_frames


def _join(segments, pieces_per_segment, sr=1000, crossfade_ms=20.0, pause_ms=0.0):
    joiner = SegmentJoiner(sr, crossfade_ms, pause_ms)
    out = []
    for seg, n in zip(segments, pieces_per_segment, strict=True):
        out.append(joiner.start_segment())
        for piece in np.array_split(seg, n):
            out.append(joiner.push(piece))
    out.append(joiner.finish())
    return np.concatenate(out)


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 80), min_size=1, max_size=6),
    splits=st.lists(st.integers(1, 7), min_size=6, max_size=6),
    pause=st.sampled_from([0.0, 30.0]),
)
def test_joiner_pieces_equal_whole_segments_and_nothing_is_lost(lengths, splits, pause):
    rng = np.random.default_rng(len(lengths))
    segments = [rng.standard_normal(n).astype(np.float32) for n in lengths]
    whole = _join(segments, [1] * len(segments), pause_ms=pause)
    pieces = _join(segments, splits[: len(segments)], pause_ms=pause)
    np.testing.assert_allclose(pieces, whole, atol=1e-6)
    # every sample is kept: only the cross-fades overlap, each over at most 20 samples and
    # only over samples of the previous segment that no earlier fade used (or pauses are added)
    crossfade = 20
    if pause:
        expected = sum(lengths) + 30 * (len(lengths) - 1)
    else:
        expected, used = sum(lengths), 0
        for prev, nxt in itertools.pairwise(lengths):
            overlap = min(crossfade, prev - used, nxt)
            expected -= overlap
            used = overlap
    assert len(whole) == expected


def test_crossfade_is_smooth_between_constant_segments():
    a, b = np.ones(100, np.float32), -np.ones(100, np.float32)
    out = _join([a, b], [1, 1])
    assert len(out) == 180
    assert np.all(np.abs(np.diff(out)) < 0.2)  # no click: small steps only
    assert out[0] == 1 and out[-1] == -1


@pytest.fixture(scope="module")
def codec():
    torch.manual_seed(0)
    return load_codec("koe-tiny", pretrained=False)


@pytest.mark.parametrize("step", [1, 3, 8])
def test_streaming_decoder_matches_one_shot_decode(codec, step):
    codes = torch.randint(0, codec.codebook_size, (codec.n_codebooks, 57))
    full = codec.decode(codes[None])[0].numpy()
    decoder = StreamingDecoder(codec)
    parts = [decoder.push(codes[:, i : i + step]) for i in range(0, codes.shape[1], step)]
    first_ready = next(i for i, p in enumerate(parts) if p.size)
    parts.append(decoder.flush())
    streamed = np.concatenate(parts)
    assert streamed.shape == full.shape
    np.testing.assert_allclose(streamed, full, atol=1e-4)
    # audio starts flowing before the sequence ends (that is the point of streaming)
    assert first_ready * step < codes.shape[1]


def test_attention_decoders_get_long_history_and_short_lookahead():
    # A decoder with a frame transformer has no exact window: it decodes each window with 32
    # frames before (compute only) and 4 after (latency), so 8 frames give 4 frames of audio.
    torch.manual_seed(0)
    codec = load_codec("koe-small", pretrained=False)
    assert decoder_context_frames(codec) == (32, 4)
    codes = torch.randint(0, codec.codebook_size, (codec.n_codebooks, 60))
    decoder = StreamingDecoder(codec)
    first = decoder.push(codes[:, :8])
    assert first.size == 4 * codec.samples_per_frame
    parts = [first] + [decoder.push(codes[:, i : i + 8]) for i in range(8, 60, 8)]
    streamed = np.concatenate([*parts, decoder.flush()])
    full = codec.decode(codes[None])[0].numpy()
    assert streamed.shape == full.shape
    # conv-only decoders get an exact, symmetric window
    tiny = load_codec("koe-tiny", pretrained=False)
    before, after = decoder_context_frames(tiny)
    assert before == after > 0
    with pytest.raises(ConfigError, match="context"):
        StreamingDecoder(tiny, context=(-1, 2))
