import math

import pytest
import torch

from tts.errors import ConfigError
from tts.generate import (
    SamplingConfig,
    apply_repetition_penalty,
    codebook_temperatures,
    sample_codes,
    top_k_filter,
    top_p_filter,
)


def test_top_k_keeps_exactly_the_k_largest():
    logits = torch.tensor([[0.5, 3.0, -1.0, 2.0, 2.5, 0.0]])
    kept = top_k_filter(logits, 3)
    assert torch.isfinite(kept).sum() == 3
    assert set(torch.nonzero(torch.isfinite(kept[0])).flatten().tolist()) == {1, 3, 4}
    assert torch.equal(kept[0, [1, 3, 4]], logits[0, [1, 3, 4]])
    assert torch.equal(top_k_filter(logits, 0), logits)  # off


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([[0.05, 0.4, 0.1, 0.3, 0.15]])
    logits = probs.log()
    # Sorted: 0.4, 0.3, 0.15, 0.1, 0.05. p=0.7 -> {0.4, 0.3} sums to exactly 0.7 >= p.
    kept = torch.isfinite(top_p_filter(logits, 0.69))
    assert kept[0].tolist() == [False, True, False, True, False]
    kept = torch.isfinite(top_p_filter(logits, 0.71))  # needs the 0.15 too
    assert kept[0].tolist() == [False, True, False, True, True]
    kept = torch.isfinite(top_p_filter(logits, 0.1))  # the top id alone already reaches p
    assert kept[0].tolist() == [False, True, False, False, False]
    assert torch.equal(top_p_filter(logits, 1.0), logits)


def test_repetition_penalty_lowers_only_recent_real_codes():
    logits = torch.tensor([[[2.0, -1.0, 0.5, 3.0, 1.0]]])  # [B=1, K=1, V=5], id 4 = EOS
    history = torch.tensor([[[0, 1, 4, 6]]])  # codes 0 and 1; 4 (EOS) and 6 (BOS) are special
    out = apply_repetition_penalty(logits, history, 2.0, n_codes=4)
    assert out[0, 0].tolist() == [1.0, -2.0, 0.5, 3.0, 1.0]
    assert (out <= logits).all()
    assert torch.equal(apply_repetition_penalty(logits, history, 1.0, 4), logits)


def test_sampling_respects_filters_and_generators():
    logits = torch.randn(2, 3, 50)
    greedy = sample_codes(logits, SamplingConfig(temperature=0), None)
    assert torch.equal(greedy, logits.argmax(-1))
    sampling = SamplingConfig(temperature=1.0, top_k=2)
    top2 = logits.topk(2, dim=-1).indices
    for seed in range(20):
        gens = [torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 100)]
        codes = sample_codes(logits, sampling, gens)
        assert (codes[..., None] == top2).any(-1).all()
    gens_a = [torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)]
    gens_b = [torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)]
    assert torch.equal(
        sample_codes(logits, SamplingConfig(), gens_a),
        sample_codes(logits, SamplingConfig(), gens_b),
    )


def test_sampling_follows_the_distribution():
    probs = torch.tensor([0.6, 0.3, 0.1, 0.0])
    logits = probs.log().view(1, 1, 4)
    gen = [torch.Generator().manual_seed(0)]
    counts = torch.zeros(4)
    for _ in range(3000):
        counts[sample_codes(logits, SamplingConfig(), gen)[0, 0]] += 1
    freq = counts / counts.sum()
    assert counts[3] == 0
    assert torch.allclose(freq, probs, atol=0.03)


def test_top_k_sampling_draws_from_the_filtered_distribution():
    # With top-k on, the draw runs on the k kept ids (tts.generate.sample_codes): it must
    # return vocabulary ids, never an id outside the top k, and follow the probabilities of
    # top-k then top-p over the whole vocabulary, here per codebook and temperature.
    probs = torch.tensor([0.02, 0.35, 0.01, 0.25, 0.2, 0.12, 0.05])
    logits = probs.log().view(1, 1, 7).repeat(1, 2, 1)
    sampling = SamplingConfig(top_k=4, top_p=0.75)
    # Top-p runs on the top-k ids' renormalised probabilities. Codebook 0 at temperature 1:
    # top 4 = ids 1, 3, 4, 5 -> 0.38, 0.27, 0.22, 0.13; 0.65 < 0.75 before id 4, so it keeps
    # 1, 3, 4. Codebook 1 at temperature 0.5 (p^2 renormalised): 0.51, 0.26, 0.17, 0.06; 0.77
    # before id 4, so it keeps 1 and 3 only.
    expected0 = torch.zeros(7)
    expected0[[1, 3, 4]] = probs[[1, 3, 4]] / probs[[1, 3, 4]].sum()
    expected1 = torch.zeros(7)
    expected1[[1, 3]] = probs[[1, 3]] ** 2 / (probs[[1, 3]] ** 2).sum()
    gen = [torch.Generator().manual_seed(3)]
    counts = torch.zeros(2, 7)
    for _ in range(4000):
        codes = sample_codes(logits, sampling, gen, [1.0, 0.5])
        counts[0, codes[0, 0]] += 1
        counts[1, codes[0, 1]] += 1
    freq = counts / counts.sum(1, keepdim=True)
    assert counts[:, [0, 2, 5, 6]].sum() == 0
    assert torch.allclose(freq[0], expected0, atol=0.03)
    assert torch.allclose(freq[1], expected1, atol=0.03)

    # Ids come back as vocabulary ids in every row and codebook of a batch.
    logits = torch.randn(3, 5, 100)
    gens = [torch.Generator().manual_seed(i) for i in range(3)]
    codes = sample_codes(logits, SamplingConfig(top_k=1), gens)
    assert torch.equal(codes, logits.argmax(-1))  # top-1 is greedy whatever the noise


def _sample_over_the_vocabulary(logits, sampling, generators, temps):
    """The draw with the filters applied to all V ids (what sample_codes did before it ran
    on the top k only): the reference the shortcut must match code for code."""
    scaled = top_k_filter(logits / torch.tensor(temps)[:, None], sampling.top_k)
    probs = top_p_filter(scaled, sampling.top_p).softmax(-1)
    noise = torch.stack([torch.empty_like(r).exponential_(generator=g)
                         for r, g in zip(probs, generators, strict=True)])  # fmt: skip
    return (probs / noise).argmax(-1)


@pytest.mark.parametrize("top_k, top_p", [(50, 0.95), (50, 1.0), (7, 0.5), (0, 0.9)])
def test_top_k_shortcut_draws_the_codes_of_the_full_vocabulary_filters(top_k, top_p):
    # Same seeds, same codes: the noise is still read per vocabulary id.
    sampling = SamplingConfig(temperature=0.8, unit_temperature=0.4, top_k=top_k, top_p=top_p)
    temps = [0.4, 0.8, 0.8, 0.8, 0.8]
    for step in range(30):
        logits = torch.randn(3, 5, 1001, generator=torch.Generator().manual_seed(step)) * 3
        fast = sample_codes(logits, sampling, [torch.Generator().manual_seed(step + i)
                                               for i in range(3)], temps)  # fmt: skip
        slow = _sample_over_the_vocabulary(logits, sampling, [torch.Generator().manual_seed(
            step + i) for i in range(3)], temps)  # fmt: skip
        assert torch.equal(fast, slow), step
    # Two logits that swap places inside the top k leave every other id's draw alone: each
    # id has its own noise, not the noise of its rank.
    logits = torch.randn(1, 1, 1001, generator=torch.Generator().manual_seed(0)) * 3
    order = logits[0, 0].argsort(descending=True)
    a, b = int(order[10]), int(order[11])
    swapped = logits.clone()
    swapped[0, 0, a], swapped[0, 0, b] = logits[0, 0, b], logits[0, 0, a]
    sampling = SamplingConfig(top_k=50)
    changed = 0
    for seed in range(200):
        x = sample_codes(logits, sampling, [torch.Generator().manual_seed(seed)])
        y = sample_codes(swapped, sampling, [torch.Generator().manual_seed(seed)])
        assert int(x) == int(y) or {int(x), int(y)} <= {a, b}
        changed += int(x) != int(y)
    assert changed < 40  # only draws that picked one of the two can move


def test_unit_temperature_applies_to_the_unit_streams_only():
    sampling = SamplingConfig(temperature=0.8, unit_temperature=0.3)
    assert codebook_temperatures(sampling, 5, 1) == [0.3, 0.8, 0.8, 0.8, 0.8]
    assert codebook_temperatures(sampling, 4, 0) == [0.8] * 4  # no unit stream: unused
    assert codebook_temperatures(SamplingConfig(temperature=0.7), 3, 1) == [0.7] * 3


def test_per_codebook_temperatures_sharpen_only_their_codebook():
    # Two codebooks with the same flat-ish distribution: a cold first codebook concentrates
    # on the top id; the second keeps its spread. Greedy (0) on the first gives exactly the
    # argmax there and leaves the second codebook's draws unchanged (same noise per item).
    probs = torch.tensor([0.4, 0.3, 0.2, 0.1])
    logits = probs.log().view(1, 1, 4).repeat(1, 2, 1)
    counts = torch.zeros(2, 4)
    gen = [torch.Generator().manual_seed(0)]
    for _ in range(2000):
        codes = sample_codes(logits, SamplingConfig(), gen, [0.2, 1.0])
        counts[0, codes[0, 0]] += 1
        counts[1, codes[0, 1]] += 1
    freq = counts / counts.sum(1, keepdim=True)
    assert freq[0, 0] > 0.75  # (0.4^5 / sum p^5 = 0.76)
    assert torch.allclose(freq[1], probs, atol=0.04)

    logits = torch.randn(3, 5, 30)
    plain = sample_codes(
        logits, SamplingConfig(), [torch.Generator().manual_seed(i) for i in range(3)]
    )
    mixed = sample_codes(
        logits,
        SamplingConfig(),
        [torch.Generator().manual_seed(i) for i in range(3)],
        [0, 1, 1, 1, 1],
    )
    assert torch.equal(mixed[:, 0], logits[:, 0].argmax(-1))
    assert torch.equal(mixed[:, 1:], plain[:, 1:])
    with pytest.raises(ConfigError, match="temperatures"):
        sample_codes(logits, SamplingConfig(), None, [1.0, 1.0])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"temperature": -1},
        {"top_k": -2},
        {"top_p": 0.0},
        {"repetition_penalty": 0},
        {"cfg_scale": -1},
        {"temperature": math.inf},
        {"unit_temperature": -0.1},
        {"unit_temperature": math.nan},
    ],
)
def test_bad_sampling_settings_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        SamplingConfig(**kwargs)
