"""Embeddings of a reference are computed once per (clip, encoder) and served identically."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tts.speakers.embedding_cache import EmbeddingCache
from tts.speakers.reference import SAMPLE_RATE, load_reference
from tts.speakers.speaker_encoder import GE2EEncoder


class CountingGE2E(GE2EEncoder):
    """The real encoder, counting how often it actually runs."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def _embed_16k(self, wavs):
        self.calls += 1
        return super()._embed_16k(wavs)


@pytest.fixture(scope="module")
def encoder():
    return CountingGE2E()


@pytest.fixture(scope="module")
def clips(voice_clips):
    return [load_reference(w, sr=sr) for w, sr in voice_clips["en_f2"][:2]]


def test_memory_cache_returns_identical_tensors_without_recomputing(encoder, clips):
    cache = EmbeddingCache(max_items=8)
    start = encoder.calls
    first = encoder.embed_reference(clips[0], cache)
    second = encoder.embed_reference(clips[0], cache)
    assert encoder.calls == start + 1
    assert torch.equal(first, second)
    assert (cache.hits, cache.misses) == (1, 1)
    first.mul_(0)  # callers get copies: the cached value is untouched
    assert torch.equal(encoder.embed_reference(clips[0], cache), second)
    encoder.embed_reference(clips[1], cache)
    assert encoder.calls == start + 2
    torch.testing.assert_close(second, encoder.embed(clips[0].wav, SAMPLE_RATE))


def test_same_audio_from_another_source_hits_the_cache(encoder, voice_clips):
    wav, sr = voice_clips["en_f2"][0]
    cache = EmbeddingCache()
    a = encoder.embed_reference(load_reference(wav, sr=sr), cache)
    b = encoder.embed_reference(load_reference(np.stack([wav, wav]), sr=sr), cache)
    assert torch.equal(a, b) and cache.misses == 1


def test_encoder_identity_is_part_of_the_key(encoder, clips):
    cache = EmbeddingCache()
    calls = []
    cache.get_or_compute(clips[0].content_hash, encoder.identity, lambda: torch.ones(3))
    cache.get_or_compute(
        clips[0].content_hash, "other-encoder:1", lambda: calls.append(1) or torch.zeros(3)
    )
    assert calls == [1]


def test_lru_is_bounded_and_evicts_least_recent():
    cache = EmbeddingCache(max_items=2)
    computed = []

    def make(i):
        return lambda: computed.append(i) or torch.full((2,), float(i))

    cache.get_or_compute("a", "enc", make(0))
    cache.get_or_compute("b", "enc", make(1))
    cache.get_or_compute("a", "enc", make(0))  # touch a: b is now least recent
    cache.get_or_compute("c", "enc", make(2))
    assert len(cache) == 2
    cache.get_or_compute("a", "enc", make(0))
    cache.get_or_compute("b", "enc", make(1))
    assert computed == [0, 1, 2, 1]
    with pytest.raises(ValueError):
        EmbeddingCache(max_items=0)


def test_disk_cache_survives_a_new_process_cache(encoder, clips, tmp_path):
    first = encoder.embed_reference(clips[0], EmbeddingCache(cache_dir=tmp_path))
    files = list(tmp_path.glob("*.safetensors"))
    assert len(files) == 1
    start = encoder.calls
    fresh = EmbeddingCache(cache_dir=tmp_path)
    assert torch.equal(encoder.embed_reference(clips[0], fresh), first)
    assert encoder.calls == start and fresh.hits == 1
    files[0].write_bytes(b"corrupt")  # a damaged file is recomputed, not trusted
    again = encoder.embed_reference(clips[0], EmbeddingCache(cache_dir=tmp_path))
    assert encoder.calls == start + 1
    torch.testing.assert_close(again, first)


def test_cache_none_always_recomputes(encoder, clips):
    start = encoder.calls
    encoder.embed_reference(clips[0], None)
    encoder.embed_reference(clips[0], None)
    assert encoder.calls == start + 2
