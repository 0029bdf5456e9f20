"""Preference fine-tuning of the token LM on pairs of its own takes (direct preference
optimisation, DPO).

The LM says most sentences right in some takes and slips in others ("garden" -> "bottom"): what
it should do is already among its samples. Given pairs of takes of one text and conditioning,
one heard more clearly than the other, DPO raises the chosen take's log-likelihood relative to
a frozen reference copy of the LM and lowers the rejected one's,

    loss = -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))),

so the LM learns what separates the two without being pulled towards either take alone. A
small negative log-likelihood term on the chosen take (per target) keeps the LM's likelihood
of good speech from sinking while the margin grows. `recipes/draw_preferences.py` draws the
takes, `recipes/train_preference.py` runs the loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tts.conditioning import Conditioning
from tts.errors import ConfigError
from tts.model import CodecLM
from tts.training import IGNORE_INDEX, build_lm_inputs


@dataclass
class PreferencePair:
    ids: list[int]  # the LM's input ids (phonemes and prosody marks)
    cond: Conditioning  # batch of one
    chosen: torch.Tensor  # [K, F] codes of the clearer take (it stopped by itself)
    rejected: torch.Tensor  # [K, F'] codes of the other take (it stopped by itself)
    gap: float  # rejected's CER minus chosen's
    group: int  # the item both takes came from (keeps an item's pairs in one split); items of
    # the same text and speaker (drawn twice, e.g. in two runs) share one


def preference_pairs(
    items: Sequence[dict], margin: float, max_per_item: int
) -> list[PreferencePair]:
    """Pairs from `recipes/draw_preferences.py` items: within each item, every two takes that
    stopped by themselves and lie `margin` or more apart in CER, the clearer one chosen, the
    largest gaps first, at most `max_per_item` of them. Takes cut at the frame cap never pair (their
    last target would be an EOS they did not say)."""
    if margin < 0 or max_per_item < 1:
        raise ConfigError("preference pairs need margin >= 0 and max_per_item >= 1")
    pairs: list[PreferencePair] = []
    groups: dict[object, int] = {}
    for number, item in enumerate(items):
        if "takes" not in item:
            continue
        key = (item["text"], item["speaker"]) if "text" in item and "speaker" in item else number
        group = groups.setdefault(key, len(groups))
        takes = [t for t in item["takes"] if t["stopped"]]
        c = item["cond"]
        cond = Conditioning(
            speaker=torch.tensor([c["speaker"]], dtype=torch.float32),
            emotion=torch.tensor([c["emotion"]]),
            intensity=torch.tensor([float(c["intensity"])]),
            language=torch.tensor([c["language"]]),
        )
        candidates = [
            (b["cer"] - a["cer"], a, b)
            for a in takes
            for b in takes
            if b["cer"] - a["cer"] >= max(margin, 1e-9)
        ]
        candidates.sort(key=lambda x: -x[0])
        for gap, a, b in candidates[:max_per_item]:
            pairs.append(
                PreferencePair(
                    ids=list(item["ids"]),
                    cond=cond,
                    chosen=torch.tensor(a["codes"], dtype=torch.long),
                    rejected=torch.tensor(b["codes"], dtype=torch.long),
                    gap=float(gap),
                    group=group,
                )
            )
    return pairs


def sequence_logprobs(
    model: CodecLM,
    ids: Sequence[Sequence[int]],
    cond: Conditioning,
    codes: Sequence[torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forced log-likelihood of each take: (sum over its targets [B], target count [B]).

    Targets are what the LM is trained on (`tts.training.build_lm_inputs`): every stream's
    delayed codes and the EOS, with no condition dropped and no input noise. Runs in whatever
    mode the model is in (the caller chooses dropout)."""
    device = next(model.parameters()).device
    batch = len(codes)
    if len(ids) != batch or cond.batch_size != batch:
        raise ConfigError(f"{len(ids)} texts, {cond.batch_size} conditionings, {batch} takes")
    lengths = torch.tensor([c.shape[1] for c in codes], device=device)
    k = codes[0].shape[0]
    padded = torch.zeros(batch, k, int(lengths.max()), dtype=torch.long, device=device)
    for i, c in enumerate(codes):
        padded[i, :, : c.shape[1]] = c
    n_ids = torch.tensor([len(x) for x in ids], device=device)
    phonemes = torch.full((batch, int(n_ids.max())), model.config.pad_id, dtype=torch.long)
    for i, x in enumerate(ids):
        phonemes[i, : len(x)] = torch.tensor(x, dtype=torch.long)
    inputs, targets = build_lm_inputs(padded, lengths, model)
    logits = model(phonemes.to(device), n_ids, cond.to(device), inputs)
    nll = F.cross_entropy(
        logits.float().flatten(0, 2), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="none"
    ).view(targets.shape)
    counted = targets != IGNORE_INDEX
    return -(nll * counted).sum(dim=(1, 2)), counted.sum(dim=(1, 2))


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss per pair, margin per pair): the margin is beta times how much more the policy than
    the reference prefers the chosen take (log-likelihood ratios); the loss -log sigmoid of it,
    log 2 where policy and reference agree."""
    if beta <= 0:
        raise ConfigError(f"beta must be > 0, got {beta}")
    margin = beta * ((policy_chosen - reference_chosen) - (policy_rejected - reference_rejected))
    return -F.logsigmoid(margin), margin
