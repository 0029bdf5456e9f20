"""Guided attention (tts.alignment): the penalty's shape, the probe's numbers, and that
optimising it really makes the guided heads read the text along the diagonal."""

from __future__ import annotations

import math

import pytest
import torch

from tts.alignment import (
    GuidedAttention,
    diagonal_penalty,
    guided_attention_loss,
    probe_text_attention,
)
from tts.conditioning import SPEAKER_DIM, Conditioning
from tts.errors import ConfigError
from tts.model import N_CONDITION_TOKENS, CodecLM, LMConfig
from tts.training import LMBatch, build_lm_inputs, lm_loss


def _model() -> CodecLM:
    torch.manual_seed(0)
    config = LMConfig(vocab_size=40, codebook_size=32, n_codebooks=2, d_model=64, n_layer=3,
                      n_head=4, max_seq_len=256)  # fmt: skip
    return CodecLM(config)


def _batch(lengths=((12, 30), (7, 18))) -> LMBatch:  # type: ignore[no-untyped-def]
    torch.manual_seed(1)
    n_text = max(n for n, _ in lengths)
    n_frames = max(f for _, f in lengths)
    phonemes = torch.zeros(len(lengths), n_text, dtype=torch.long)
    for b, (n, _) in enumerate(lengths):
        phonemes[b, :n] = torch.randint(1, 40, (n,))
    cond = Conditioning(
        speaker=torch.nn.functional.normalize(torch.randn(len(lengths), SPEAKER_DIM), dim=-1),
        emotion=torch.zeros(len(lengths), dtype=torch.long),
        intensity=torch.ones(len(lengths)),
        language=torch.zeros(len(lengths), dtype=torch.long),
    )
    return LMBatch(
        phonemes=phonemes,
        phoneme_lengths=torch.tensor([n for n, _ in lengths]),
        codes=torch.randint(0, 32, (len(lengths), 2, n_frames)),
        code_lengths=torch.tensor([f for _, f in lengths]),
        cond=cond,
    )


def test_penalty_is_zero_on_the_diagonal_and_grows_away_from_it() -> None:
    penalty, mask = diagonal_penalty(torch.tensor([10, 5]), torch.tensor([20, 10]), 10, 20, 0.2)
    assert penalty.shape == mask.shape == (2, 20, 10)
    assert penalty[0, 0, 0] == 0 and penalty[0, 10, 5] == 0  # n/N == t/T
    assert torch.all(penalty[0, 0, 1:].diff() > 0)  # further along the text: more penalty
    assert math.isclose(float(penalty[0, 0, 9]), 1 - math.exp(-(0.9**2) / 0.08), rel_tol=1e-5)
    assert mask[1, :10, :5].all() and not mask[1, 10:].any() and not mask[1, :, 5:].any()


def test_probe_scores_match_the_attention_the_model_computes() -> None:
    model, batch = _model(), _batch()
    guided = GuidedAttention(weight=1.0, layers=(1,), heads=2)
    inputs, _ = build_lm_inputs(batch.codes, batch.code_lengths, model)
    captured = {}

    def grab(module, args, output):  # type: ignore[no-untyped-def]
        captured["x"] = args[0]

    hook = model.blocks[1].attn.register_forward_hook(grab)
    with probe_text_attention(model, guided, batch.phonemes.shape[1]) as attns:
        model(batch.phonemes, batch.phoneme_lengths, batch.cond, inputs)
        scores = attns[0].probe_scores
    hook.remove()
    assert model.blocks[1].attn.probe is None and model.blocks[1].attn.probe_scores is None
    # Recompute head 1's scores for item 0 by hand from the layer's input.
    attn, x = model.blocks[1].attn, captured["x"]
    length = x.shape[1]
    q, k, _ = attn.qkv(x).view(2, length, 3, 4, 16).unbind(2)
    cos, sin = model.rope(torch.arange(length).expand(2, -1))
    from tts.model import apply_rope

    q = apply_rope(q.transpose(1, 2), cos, sin)[0, 1]
    k = apply_rope(k.transpose(1, 2), cos, sin)[0, 1, N_CONDITION_TOKENS : N_CONDITION_TOKENS + 12]
    assert scores is not None and scores.shape == (2, 2, length, 12)
    torch.testing.assert_close(scores[0, 1], q @ k.T / 4.0, rtol=1e-4, atol=1e-5)


def test_lm_loss_adds_the_weighted_penalty_only_when_training() -> None:
    model, batch = _model(), _batch()
    guided = GuidedAttention(weight=2.0, layers=(0, 2), heads=1)
    model.train()
    torch.manual_seed(0)
    plain = lm_loss(model, batch, guided=None)
    torch.manual_seed(0)
    with_guided = lm_loss(model, batch, guided=guided)
    assert with_guided.guided is not None and 0 < float(with_guided.guided) < 1
    torch.testing.assert_close(with_guided.per_codebook, plain.per_codebook)
    torch.testing.assert_close(
        with_guided.loss, plain.loss + 2.0 * with_guided.guided, rtol=1e-5, atol=1e-6
    )
    model.eval()
    assert lm_loss(model, batch, guided=guided).guided is None  # validation: cross-entropy only


def test_optimising_the_penalty_makes_the_heads_attend_along_the_diagonal() -> None:
    model, batch = _model(), _batch()
    guided = GuidedAttention(weight=1.0, layers=(1,), heads=2, sigma=0.2)
    inputs, _ = build_lm_inputs(batch.codes, batch.code_lengths, model)
    steps = batch.code_lengths + 2
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    def penalty_and_peaks() -> tuple[torch.Tensor, torch.Tensor]:
        with probe_text_attention(model, guided, batch.phonemes.shape[1]) as attns:
            model(batch.phonemes, batch.phoneme_lengths, batch.cond, inputs)
            value = guided_attention_loss(
                attns, batch.phoneme_lengths, steps, inputs.shape[2], guided.sigma
            )
            scores = attns[0].probe_scores
        assert scores is not None
        # Item 0 (12 phonemes, 32 steps): the phoneme each step attends to most, head 0.
        rows = scores[0, 0, N_CONDITION_TOKENS + 12 : N_CONDITION_TOKENS + 12 + 32, :12]
        return value, rows.argmax(-1)

    before, _ = penalty_and_peaks()
    for _ in range(150):
        value, _ = penalty_and_peaks()
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
    after, peaks = penalty_and_peaks()
    assert float(after.detach()) < 0.3 * float(before.detach())
    expected = (torch.arange(32) * 12 / 32).long()  # the diagonal: phoneme n at step t
    assert (peaks - expected).abs().float().mean() < 1.5
    # Monotonic in time, as an alignment should be (small local slips allowed).
    assert int(peaks[-1]) >= 9 and int(peaks[0]) <= 2


def test_bad_guided_settings_are_refused() -> None:
    config = _model().config
    with pytest.raises(ConfigError, match="layers"):
        GuidedAttention(weight=1.0, layers=(3,)).check(config)
    with pytest.raises(ConfigError, match="heads"):
        GuidedAttention(weight=1.0, layers=(0,), heads=5).check(config)
    with pytest.raises(ConfigError, match="sigma"):
        GuidedAttention(weight=1.0, sigma=0.0).check(config)


def test_uniform_attention_costs_the_mean_penalty_of_each_step() -> None:
    """Normalisation: with every score equal, each real step attends uniformly to its own
    phonemes, so the loss is the mean over real steps of that step's mean penalty."""
    phoneme_lengths, step_lengths = torch.tensor([6, 3]), torch.tensor([10, 4])

    class Probe:
        probe_scores = torch.zeros(2, 2, 4 + 6 + 10, 6)

    loss = guided_attention_loss([Probe()], phoneme_lengths, step_lengths, 10, 0.2)  # type: ignore[list-item]
    penalty, _ = diagonal_penalty(phoneme_lengths, step_lengths, 6, 10, 0.2)
    per_step = [float(penalty[0, t, :6].mean()) for t in range(10)]
    per_step += [float(penalty[1, t, :3].mean()) for t in range(4)]
    assert math.isclose(float(loss), sum(per_step) / len(per_step), rel_tol=1e-5)
