"""Preference fine-tuning (tts.preference): pairs, sequence log-likelihoods, the DPO loss, and
that a few steps teach a tiny LM to prefer the chosen take."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from lm_testkit import CODEBOOK, random_cond, random_texts, select

from tts.conditioning import Conditioning
from tts.errors import ConfigError
from tts.preference import dpo_loss, preference_pairs, sequence_logprobs
from tts.training import IGNORE_INDEX, build_lm_inputs


def item(cers, stopped=None, frames=6, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    stopped = stopped or [True] * len(cers)
    return {
        "ids": [3, 4, 5],
        "cond": {"speaker": [0.1] * 256, "emotion": 0, "intensity": 0.0, "language": 1},
        "takes": [
            {
                "codes": torch.randint(0, CODEBOOK, (k, frames + i), generator=g).tolist(),
                "stopped": s,
                "cer": c,
            }
            for i, (c, s) in enumerate(zip(cers, stopped, strict=True))
        ],
    }


def test_pairs_keep_the_margin_skip_cut_takes_and_take_the_largest_gaps_first():
    items = [
        item([0.0, 0.05, 0.5, 0.3]),
        item([0.2, 0.9], stopped=[True, False]),  # the worse take hit the cap: no pair
        {"skipped": {"text": "two chunks"}},
        item([0.4, 0.1]),
    ]
    pairs = preference_pairs(items, margin=0.1, max_per_item=2)
    assert [(p.group, round(p.gap, 2)) for p in pairs] == [(0, 0.5), (0, 0.45), (2, 0.3)]
    first = items[0]["takes"]
    assert torch.equal(pairs[0].chosen, torch.tensor(first[0]["codes"]))
    assert torch.equal(pairs[0].rejected, torch.tensor(first[2]["codes"]))
    assert pairs[0].cond.speaker.shape == (1, 256) and int(pairs[0].cond.language[0]) == 1
    # The same text in the same voice, drawn twice, is one group (one side of a split).
    again = [{**item([0.0, 0.5], seed=s), "text": "a", "speaker": "v"} for s in (1, 2)]
    other = {**item([0.0, 0.5]), "text": "a", "speaker": "w"}
    assert [p.group for p in preference_pairs([*again, other], 0.1, 1)] == [0, 0, 1]
    # No gap at all is never a preference, even with margin 0.
    assert preference_pairs([item([0.2, 0.2])], margin=0.0, max_per_item=3) == []
    with pytest.raises(ConfigError):
        preference_pairs(items, margin=-0.1, max_per_item=1)


def test_sequence_logprobs_sum_the_training_targets_and_ignore_padding(model):
    torch.manual_seed(1)
    texts = [t.tolist() for t in random_texts([5, 8], seed=3)]
    cond = random_cond(2, seed=4)
    codes = [torch.randint(0, CODEBOOK, (3, n)) for n in (7, 4)]
    total, count = sequence_logprobs(model, texts, cond, codes)
    for i in range(2):  # alone, with nothing padded
        alone, n = sequence_logprobs(model, [texts[i]], select(cond, i), [codes[i]])
        assert torch.allclose(alone, total[i : i + 1], atol=1e-4)
        assert int(n) == int(count[i])
        _, targets = build_lm_inputs(codes[i][None], torch.tensor([codes[i].shape[1]]), model)
        assert int(count[i]) == int((targets != IGNORE_INDEX).sum())
    assert (total < 0).all()
    # By hand for item 0: log-softmax of the teacher-forced logits at its targets.
    inputs, targets = build_lm_inputs(codes[0][None], torch.tensor([7]), model)
    with torch.no_grad():
        logits = model(torch.tensor([texts[0]]), torch.tensor([5]), select(cond, 0), inputs)
    logp = torch.log_softmax(logits.float(), -1)
    keep = targets != IGNORE_INDEX
    manual = logp.gather(-1, targets.clamp(min=0)[..., None])[..., 0][keep].sum()
    assert math.isclose(float(manual), float(total[0].detach()), rel_tol=1e-4)


def test_dpo_loss_is_log2_at_the_start_and_falls_as_the_chosen_take_gains():
    ref = torch.tensor([-10.0, -20.0])
    loss, margin = dpo_loss(ref, ref, ref, ref, beta=0.1)
    assert torch.allclose(loss, torch.full((2,), math.log(2)))
    assert torch.equal(margin, torch.zeros(2))
    better, m = dpo_loss(ref + 1, ref - 1, ref, ref, beta=0.5)
    assert torch.allclose(m, torch.ones(2)) and (better < math.log(2)).all()
    worse, _ = dpo_loss(ref - 1, ref, ref, ref, beta=0.5)
    assert (worse > math.log(2)).all()
    with pytest.raises(ConfigError):
        dpo_loss(ref, ref, ref, ref, beta=0.0)


def test_a_few_dpo_steps_make_the_lm_prefer_the_chosen_take(model):
    torch.manual_seed(0)
    texts = [t.tolist() for t in random_texts([6, 6, 6, 6], seed=5)]
    cond = Conditioning.cat([random_cond(1, seed=s) for s in range(4)])
    chosen = [torch.randint(0, CODEBOOK, (3, 8)) for _ in range(4)]
    rejected = [torch.randint(0, CODEBOOK, (3, 8)) for _ in range(4)]
    reference = copy.deepcopy(model).requires_grad_(False)
    with torch.no_grad():
        rc, _ = sequence_logprobs(reference, texts, cond, chosen)
        rr, _ = sequence_logprobs(reference, texts, cond, rejected)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(15):
        pc, _ = sequence_logprobs(model, texts, cond, chosen)
        pr, _ = sequence_logprobs(model, texts, cond, rejected)
        loss, _ = dpo_loss(pc, pr, rc, rr, beta=0.1)
        opt.zero_grad()
        loss.mean().backward()
        opt.step()
    with torch.no_grad():
        pc, _ = sequence_logprobs(model, texts, cond, chosen)
        pr, _ = sequence_logprobs(model, texts, cond, rejected)
    assert ((pc - rc) - (pr - rr) > 1.0).all()  # every pair: the chosen take gained on the other
    assert float(dpo_loss(pc, pr, rc, rr, 0.1)[0].mean()) < math.log(2) - 0.05
    # The reference stayed where it was.
    with torch.no_grad():
        assert torch.allclose(sequence_logprobs(reference, texts, cond, chosen)[0], rc)
