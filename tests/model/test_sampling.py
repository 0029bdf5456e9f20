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
