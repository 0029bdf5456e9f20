import warnings

import pytest
import torch
from lm_testkit import random_cond, random_texts, select, sharpen, tiny_config

from tts.conditioning import Conditioning
from tts.errors import ConfigError
from tts.generate import MaxLengthWarning, SamplingConfig, generate, generate_stream
from tts.model import CodecLM, ConditioningError

GREEDY = SamplingConfig(temperature=0)
SAMPLED = SamplingConfig(temperature=0.9, top_k=20, top_p=0.95, repetition_penalty=1.3)


@pytest.fixture
def lm() -> CodecLM:
    """A random tiny model whose EOS comes at random points: some items stop, some are capped."""
    torch.manual_seed(3)
    return sharpen(CodecLM(tiny_config())).eval()


def quiet_generate(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MaxLengthWarning)
        return generate(*args, **kwargs)


def prefill_logits(lm, ids, cond, drop=None):
    """The first step's logits of one text ([1, N] ids) under `cond` and `drop`."""
    lm.setup_cache(1, ids.shape[1] + 8)
    try:
        return lm.prefill(ids, torch.tensor([ids.shape[1]]), cond, drop)
    finally:
        lm.clear_cache()


def assert_first_code(result, expected, lm):
    """The first frame's codebook-0 code is `expected` (or EOS ended the item at once)."""
    assert result.codes[0, 0] == expected or (
        result.n_frames == 1 and expected == lm.config.special.eos
    )


def test_outputs_are_undelayed_codes_with_flags(lm):
    texts, cond = random_texts([3, 8, 5]), random_cond(3)
    results = quiet_generate(lm, texts, cond, SAMPLED, seed=0, max_frames=20)
    assert len(results) == 3
    for r in results:
        assert r.codes.dtype == torch.long and r.codes.shape[0] == 3
        assert 1 <= r.n_frames <= 20
        assert ((r.codes >= 0) & (r.codes < lm.config.codebook_size)).all()  # no special ids
        assert r.stopped == (r.n_frames < 20)  # not stopped <=> cut at the cap
    assert {r.stopped for r in results} == {True, False}


@pytest.mark.parametrize("sampling", [GREEDY, SAMPLED], ids=["greedy", "sampled"])
def test_seeded_generation_is_deterministic(lm, sampling):
    texts, cond = random_texts([6, 4]), random_cond(2)
    a = quiet_generate(lm, texts, cond, sampling, seed=7, max_frames=24)
    b = quiet_generate(lm, texts, cond, sampling, seed=7, max_frames=24)
    assert all(
        torch.equal(x.codes, y.codes) and x.stopped == y.stopped for x, y in zip(a, b, strict=True)
    )
    if sampling is SAMPLED:
        c = quiet_generate(lm, texts, cond, sampling, seed=8, max_frames=24)
        assert any(not torch.equal(x.codes, y.codes) for x, y in zip(a, c, strict=True))


@pytest.mark.parametrize(
    "sampling",
    [GREEDY, SAMPLED, SamplingConfig(temperature=0.8, cfg_scale=2.5)],
    ids=["greedy", "sampled", "cfg"],
)
def test_batch_equals_single(lm, sampling):
    lengths = [3, 9, 6, 1]
    texts, cond = random_texts(lengths, seed=5), random_cond(4, seed=5)
    seeds = [11, 22, 33, 44]
    batch = quiet_generate(lm, texts, cond, sampling, seed=seeds, max_frames=30)
    n_stopped = 0
    for i in range(4):
        single = quiet_generate(
            lm, [texts[i]], select(cond, i), sampling, seed=[seeds[i]], max_frames=30
        )[0]
        assert torch.equal(single.codes, batch[i].codes), i
        assert single.stopped == batch[i].stopped
        n_stopped += single.stopped
    assert 0 < n_stopped < 4  # covers items that stop by EOS and items cut at the cap
    # An int seed gives item i the seed seed + i.
    by_int = quiet_generate(lm, texts, cond, sampling, seed=11, max_frames=30)
    single = quiet_generate(lm, [texts[2]], select(cond, 2), sampling, seed=13, max_frames=30)
    assert torch.equal(by_int[2].codes, single[0].codes)


def test_batch_equals_single_across_mixed_stop_lengths(lm):
    # Enough items that some stop early and others run to the cap inside one batch.
    lengths = [2, 5, 7, 4, 9, 3]
    texts, cond = random_texts(lengths, seed=9), random_cond(6, seed=9)
    batch = quiet_generate(lm, texts, cond, SAMPLED, seed=list(range(6)), max_frames=40)
    assert len({r.n_frames for r in batch}) > 1
    for i in (0, 4):
        single = quiet_generate(lm, [texts[i]], select(cond, i), SAMPLED, seed=[i], max_frames=40)
        assert torch.equal(single[0].codes, batch[i].codes)


def test_cfg(lm):
    texts, cond = random_texts([5, 7]), random_cond(2)
    plain = quiet_generate(lm, texts, cond, GREEDY, max_frames=16)
    one = SamplingConfig(temperature=0, cfg_scale=1.0)
    assert all(
        torch.equal(a.codes, b.codes)
        for a, b in zip(plain, quiet_generate(lm, texts, cond, one, max_frames=16), strict=True)
    )
    # The doubled-batch path with a scale of (almost) 1 reproduces the conditional output.
    near_one = SamplingConfig(temperature=0, cfg_scale=1.0 + 1e-6)
    guided = quiet_generate(lm, texts, cond, near_one, max_frames=16)
    assert all(torch.equal(a.codes, b.codes) for a, b in zip(plain, guided, strict=True))
    # Scale 0 keeps only the unconditional half: speaker, style and emotion stop mattering.
    zero = SamplingConfig(temperature=0, cfg_scale=0.0)
    other = random_cond(2, seed=42)
    other.language = cond.language
    a = quiet_generate(lm, texts, cond, zero, max_frames=16)
    b = quiet_generate(lm, texts, other, zero, max_frames=16)
    assert all(torch.equal(x.codes, y.codes) for x, y in zip(a, b, strict=True))
    strong = quiet_generate(
        lm, texts, cond, SamplingConfig(temperature=0, cfg_scale=4.0), max_frames=16
    )
    assert any(not torch.equal(x.codes, y.codes) for x, y in zip(plain, strong, strict=True))


def test_emotion_guidance(lm):
    from tts.labels import EMOTIONS

    texts, cond = random_texts([5, 7, 6]), random_cond(3)
    cond.emotion = torch.tensor([EMOTIONS.index("angry"), EMOTIONS.index("neutral"), 2])
    cond.intensity = torch.tensor([1.0, 1.0, 0.0])  # item 2: an emotion at intensity 0
    plain = quiet_generate(lm, texts, cond, GREEDY, max_frames=16)
    strong = SamplingConfig(temperature=0, emotion_guidance=4.0)
    guided = quiet_generate(lm, texts, cond, strong, max_frames=16)
    # Neutral items, and emotions at intensity 0, are their own neutral pass: unchanged.
    assert torch.equal(plain[1].codes, guided[1].codes)
    assert torch.equal(plain[2].codes, guided[2].codes)
    assert not torch.equal(plain[0].codes, guided[0].codes)
    # The first step's codes follow emotional + (g - 1) * (emotional - neutral).
    neutral = Conditioning(**{**vars(select(cond, 0)), "intensity": torch.zeros(1)})
    emotional, plain_pass = (
        prefill_logits(lm, texts[0][None], c) for c in (select(cond, 0), neutral)
    )
    expected = (emotional + 3.0 * (emotional - plain_pass))[0, 0].argmax()
    first = quiet_generate(lm, texts[:1], select(cond, 0), strong, max_frames=16)[0]
    assert_first_code(first, expected, lm)
    with pytest.raises(ConfigError, match="emotion_guidance"):
        SamplingConfig(emotion_guidance=-1)


def test_cfg_drop_text_keeps_voice_and_emotion_in_the_unconditional_pass():
    from tts.model import ConditionDrop

    torch.manual_seed(5)
    lm = sharpen(CodecLM(tiny_config(null_text=True))).eval()
    with torch.no_grad():
        lm.null_text.normal_()
    texts, cond = random_texts([6, 4]), random_cond(2)
    text_only = SamplingConfig(temperature=0, cfg_scale=3.0, cfg_drop="text")
    everything = SamplingConfig(temperature=0, cfg_scale=3.0)
    a = quiet_generate(lm, texts, cond, text_only, max_frames=16)
    b = quiet_generate(lm, texts, cond, everything, max_frames=16)
    assert any(not torch.equal(x.codes, y.codes) for x, y in zip(a, b, strict=True))
    # The first step follows cond + (s - 1) * (cond - no text), speaker/style/emotion kept.
    no_text = ConditionDrop.only(1, "cpu", "text")
    with_text, without = (
        prefill_logits(lm, texts[0][None], select(cond, 0), d) for d in (None, no_text)
    )
    assert_first_code(a[0], (without + 3.0 * (with_text - without))[0, 0].argmax(), lm)
    # Only an LM with a null text can drop its text; unknown values are refused.
    plain = CodecLM(tiny_config()).eval()
    with pytest.raises(ConfigError, match="null text"):
        quiet_generate(plain, texts, cond, text_only, max_frames=4)
    with pytest.raises(ConfigError, match="cfg_drop"):
        SamplingConfig(cfg_drop="speaker")


def test_speaker_guidance(lm):
    from tts.model import ConditionDrop

    texts, cond = random_texts([5, 7]), random_cond(2)
    plain = quiet_generate(lm, texts, cond, GREEDY, max_frames=16)
    strong = SamplingConfig(temperature=0, speaker_guidance=4.0)
    guided = quiet_generate(lm, texts, cond, strong, max_frames=16)
    assert any(not torch.equal(x.codes, y.codes) for x, y in zip(plain, guided, strict=True))
    # The first step's codes follow with + (g - 1) * (with - without the speaker).
    no_speaker = ConditionDrop.only(1, "cpu", "speaker")
    voiced, voiceless = (
        prefill_logits(lm, texts[0][None], select(cond, 0), d) for d in (None, no_speaker)
    )
    assert not torch.allclose(voiced, voiceless)  # the speaker pass really differs
    expected = (voiced + 3.0 * (voiced - voiceless))[0, 0].argmax()
    first = quiet_generate(lm, texts[:1], select(cond, 0), strong, max_frames=16)[0]
    assert_first_code(first, expected, lm)
    # Batched with the other guidances, each item is still its own single run.
    both = SamplingConfig(temperature=0, cfg_scale=2.0, speaker_guidance=2.0)
    batch = quiet_generate(lm, texts, cond, both, max_frames=16)
    alone = quiet_generate(lm, texts[1:], select(cond, 1), both, max_frames=16)[0]
    assert torch.equal(batch[1].codes, alone.codes)
    with pytest.raises(ConfigError, match="speaker_guidance"):
        SamplingConfig(speaker_guidance=-1)


def test_max_length_cap_is_enforced_and_reported(model):
    config = tiny_config(max_frames_per_phoneme=2.0, max_frames_offset=3)
    lm = CodecLM(config).eval()
    texts, cond = random_texts([4, 2]), random_cond(2)
    with pytest.warns(MaxLengthWarning) as record:
        results = generate(lm, texts, cond, GREEDY, min_frames=1000)  # EOS never allowed
    assert [r.n_frames for r in results] == [2 * 4 + 3, 2 * 2 + 3]
    assert [r.stopped for r in results] == [False, False]
    assert sorted(str(w.message)[:6] for w in record) == ["text 0", "text 1"]
    with pytest.warns(MaxLengthWarning):
        capped = generate(lm, texts, cond, GREEDY, min_frames=1000, max_frames=5)
    assert [r.n_frames for r in capped] == [5, 5]


def test_streaming_yields_the_same_frames_in_chunks(lm):
    texts, cond = random_texts([6]), random_cond(1)
    whole = quiet_generate(lm, texts, cond, SAMPLED, seed=3, max_frames=30)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MaxLengthWarning)
        chunks = list(
            generate_stream(lm, texts, cond, SAMPLED, seed=3, max_frames=30, chunk_frames=4)
        )
    sizes = [c.codes[0].shape[1] for c in chunks]
    assert all(s == 4 for s in sizes[:-1]) and 0 <= sizes[-1] <= 4
    assert [c.finished[0] for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert chunks[-1].stopped[0] == whole.stopped
    assert torch.equal(torch.cat([c.codes[0] for c in chunks], dim=1), whole.codes)


def test_generation_input_errors(lm):
    texts = random_texts([3, 4])
    with pytest.raises(ConditioningError, match="2 texts"):
        generate(lm, texts, random_cond(1))
    with pytest.raises(ConfigError, match="seeds"):
        generate(lm, texts, random_cond(2), seed=[1, 2, 3])
    with pytest.raises(ConfigError, match="max_frames"):
        generate(lm, texts, random_cond(2), max_frames=0)
    single = Conditioning.single(torch.randn(256), "ja", "happy", 0.5)
    assert quiet_generate(lm, texts[:1], single, GREEDY, max_frames=3)[0].n_frames <= 3


@pytest.mark.slow  # compiling takes ~20 s on two CPU cores
def test_compiled_decoding_matches_eager(lm):
    texts, cond = random_texts([5, 8]), random_cond(2)
    eager = quiet_generate(lm, texts, cond, SAMPLED, seed=1, max_frames=12)
    compiled = quiet_generate(lm, texts, cond, SAMPLED, seed=1, max_frames=12, compile=True)
    for a, b in zip(eager, compiled, strict=True):
        assert torch.equal(a.codes, b.codes) and a.stopped == b.stopped
    # Another text length reuses the compiled step (the cache length is bucketed).
    other = quiet_generate(lm, random_texts([3]), random_cond(1), SAMPLED, seed=2, max_frames=12)
    again = quiet_generate(
        lm, random_texts([3]), random_cond(1), SAMPLED, seed=2, max_frames=12, compile=True
    )
    assert torch.equal(other[0].codes, again[0].codes)
