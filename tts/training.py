"""The teacher-forced training step of the codec LM, shared by the recipes.

A batch (phoneme ids + lengths, codes [B, K, F] + lengths, Conditioning) becomes delayed input
frames and targets (tts/delay.py); the loss is the mean cross-entropy over every real code and
EOS, per codebook and averaged over codebooks. Conditions are randomly dropped to their null
embeddings so the same model also learns the unconditional distribution that classifier-free
guidance needs at inference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tts.alignment import GuidedAttention, guided_attention_loss, probe_text_attention
from tts.conditioning import Conditioning
from tts.delay import apply_delay, check_codes, delayed_targets
from tts.errors import AudioInputError, ConfigError
from tts.model import CodecLM, ConditionDrop
from tts.runs import cosine_lr  # noqa: F401  (re-exported: its home was here)

IGNORE_INDEX = -100


@dataclass
class ConditionDropout:
    """Probabilities of dropping each condition per item; `all` drops all three together, and
    the text with them in an LM with a null text embedding (`LMConfig.null_text`)."""

    speaker: float = 0.1
    style: float = 0.1
    emotion: float = 0.1
    all: float = 0.1  # the fully unconditional case, what guidance subtracts
    text: float = 0.0  # the text alone (null_text LMs only)

    def __post_init__(self) -> None:
        for name in ("speaker", "style", "emotion", "all", "text"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"ConditionDropout.{name} must lie in [0, 1]")

    @staticmethod
    def off() -> ConditionDropout:
        return ConditionDropout(0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass
class LMBatch:
    phonemes: torch.Tensor  # [B, N] long, padded with the front end's pad id
    phoneme_lengths: torch.Tensor  # [B] long
    codes: torch.Tensor  # [B, K, F] long, padded with anything after code_lengths
    code_lengths: torch.Tensor  # [B] long
    cond: Conditioning

    def to(self, device: torch.device | str) -> LMBatch:
        return LMBatch(
            self.phonemes.to(device),
            self.phoneme_lengths.to(device),
            self.codes.to(device),
            self.code_lengths.to(device),
            self.cond.to(device),
        )


@dataclass
class LossOutput:
    loss: torch.Tensor  # scalar: mean of the per-codebook losses (+ weighted guided penalty)
    per_codebook: torch.Tensor  # [K] mean cross-entropy of each codebook (detached)
    n_targets: int  # real codes + EOS counted in the loss
    guided: torch.Tensor | None = None  # the guided-attention penalty (detached), when used


def build_lm_inputs(
    codes: torch.Tensor, code_lengths: torch.Tensor, model: CodecLM
) -> tuple[torch.Tensor, torch.Tensor]:
    """Codes [B, K, F] -> (input frames [B, K, F + K], targets [B, K, F + K]).

    Inputs are the delayed frames shifted right behind a BOS frame; targets are the delayed
    frames with BOS and PAD positions set to IGNORE_INDEX (EOS stays a target).
    """
    special = model.config.special
    check_codes(codes, model.config.codebook_size, model.config.n_codebooks)
    if code_lengths.shape != (codes.shape[0],):
        raise AudioInputError(f"code_lengths must have shape [{codes.shape[0]}]")
    if int(code_lengths.min()) < 1 or int(code_lengths.max()) > codes.shape[2]:
        raise AudioInputError(
            f"code lengths must lie in [1, {codes.shape[2]}], got {code_lengths.tolist()}"
        )
    delayed = apply_delay(codes, code_lengths, special)
    bos = torch.full_like(delayed[:, :, :1], special.bos)
    inputs = torch.cat([bos, delayed[:, :, :-1]], dim=2)
    return inputs, delayed_targets(delayed, special, IGNORE_INDEX)


def sample_condition_drop(
    batch: int,
    dropout: ConditionDropout,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
    text: bool = False,
) -> ConditionDrop:
    """Independent per-item drop flags, plus an `all` flag dropping every condition. With
    `text` (an LM with a null text embedding) the text is dropped by `all` and by
    `dropout.text`; otherwise never."""
    draws = torch.rand(4, batch, generator=generator).to(device)
    every = draws[3] < dropout.all
    text_drop = torch.zeros_like(every)
    if text:  # drawn after the others: the draws of LMs without null text stay as they were
        text_drop = (torch.rand(batch, generator=generator).to(device) < dropout.text) | every
    return ConditionDrop(
        speaker=(draws[0] < dropout.speaker) | every,
        style=(draws[1] < dropout.style) | every,
        emotion=(draws[2] < dropout.emotion) | every,
        text=text_drop,
    )


def corrupt_inputs(
    inputs: torch.Tensor, rate: float, n_codes: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Replace each real code of the input frames [B, K, T] by a uniformly random code with
    probability `rate` (special ids BOS/EOS/PAD stay); the targets are left as they were.

    Why: teacher forcing shows the LM only true history, so at inference one unlikely sample
    puts it in a state it never saw and it drifts off the text (the first words of a sentence
    come out right, then fluent other words). Noisy history teaches it to lean on the text and
    the unit stream rather than copy the codes before it."""
    if not 0.0 <= rate < 1.0:
        raise ConfigError(f"input noise must lie in [0, 1), got {rate}")
    return inputs if rate == 0.0 else randomise_codes(inputs, rate, n_codes, generator)


def randomise_codes(
    codes: torch.Tensor, rate: float, n_codes: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Each real code (< n_codes) replaced by a uniformly random one with probability `rate`
    (1 replaces them all); special ids stay. Training uses it through `corrupt_inputs`."""
    draws = torch.rand(codes.shape, generator=generator).to(codes.device)
    noise = torch.randint(0, n_codes, codes.shape, generator=generator).to(codes.device)
    return torch.where((draws < rate) & (codes < n_codes), noise, codes)


def autocast_for(device: torch.device) -> torch.autocast | nullcontext:
    """bf16 autocast on CUDA (weights and optimizer stay float32); plain float32 elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


@torch.no_grad()
def own_sample_inputs(
    model: CodecLM,
    batch: LMBatch,
    inputs: torch.Tensor,
    rate: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Replace `rate` of the real input codes [B, K, T] by the model's own draws: one
    teacher-forced pass without gradients (every condition given), each step's code sampled
    from its prediction given the true history, moved one step right (the input at step t is
    what step t - 1 predicts). BOS, EOS and PAD stay; rate 0 gives `inputs` back, as
    `corrupt_inputs` does.

    Why: at inference the history is the LM's own samples, and uniform input noise
    (`corrupt_inputs`) is unlike the slips it makes. Tried on v15's LM (stop 46, model card):
    the held-out CER did not move."""
    if not 0.0 <= rate <= 1.0:
        raise ConfigError(f"self input must lie in [0, 1], got {rate}")
    if rate == 0.0:  # off: no extra pass
        return inputs
    device = inputs.device
    if generator is not None and generator.device != device:  # the step's CPU generator
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        generator = torch.Generator(device).manual_seed(seed)
    with autocast_for(device):
        logits = model(batch.phonemes, batch.phoneme_lengths, batch.cond, inputs)
    logits = logits.float()
    logits[..., model.config.special.eos] = -math.inf  # only real codes stand in for codes
    probs = logits.softmax(-1).flatten(0, 2)
    drawn = torch.multinomial(probs, 1, generator=generator).view(inputs.shape)
    shifted = torch.cat([inputs[:, :, :1], drawn[:, :, :-1]], dim=2)
    real = inputs < model.config.codebook_size
    pick = torch.rand(inputs.shape, generator=generator, device=device) < rate
    return torch.where(real & pick, shifted, inputs)


def lm_loss(
    model: CodecLM,
    batch: LMBatch,
    dropout: ConditionDropout | None = None,
    generator: torch.Generator | None = None,
    guided: GuidedAttention | None = None,
    codebook_weights: Sequence[float] | None = None,
    input_noise: float = 0.0,
    self_input: float = 0.0,
) -> LossOutput:
    """Teacher-forced per-codebook cross-entropy of a batch (condition dropout when training),
    plus `guided.weight` times the guided-attention penalty (tts.alignment) when training.
    When training, `self_input` replaces that fraction of the input codes by the model's own
    draws (`own_sample_inputs`), then `input_noise` randomises that fraction (`corrupt_inputs`).

    `loss` is the mean over codebooks, or their `codebook_weights`-weighted mean;
    `per_codebook` is always unweighted."""
    device = batch.codes.device
    inputs, targets = build_lm_inputs(batch.codes, batch.code_lengths, model)
    if model.training:
        inputs = own_sample_inputs(model, batch, inputs, self_input, generator)
        inputs = corrupt_inputs(inputs, input_noise, model.config.codebook_size, generator)
    dropout = dropout or ConditionDropout()
    drop = (
        sample_condition_drop(
            batch.codes.shape[0], dropout, device, generator, text=model.config.null_text
        )
        if model.training
        else None
    )
    use_guided = guided is not None and guided.weight > 0 and model.training
    probe = (
        probe_text_attention(model, guided, batch.phonemes.shape[1])  # type: ignore[arg-type]
        if use_guided
        else nullcontext([])
    )
    with autocast_for(device), probe as attns:
        logits = model(batch.phonemes, batch.phoneme_lengths, batch.cond, inputs, drop)
        penalty = None
        if use_guided:
            # Real delayed steps of each item: its frames plus the K - 1 delay steps and EOS.
            steps = (batch.code_lengths + model.config.n_codebooks).clamp(max=inputs.shape[2])
            if drop is not None:  # no text to align to: those items' steps are left out
                steps = steps.masked_fill(drop.text, 0)
            penalty = guided_attention_loss(
                attns, batch.phoneme_lengths, steps, inputs.shape[2], guided.sigma
            )
    losses = F.cross_entropy(
        logits.float().flatten(0, 2), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="none"
    ).view(targets.shape)
    counted = (targets != IGNORE_INDEX).float()
    per_codebook = (losses * counted).sum(dim=(0, 2)) / counted.sum(dim=(0, 2)).clamp(min=1)
    if codebook_weights is None:
        loss = per_codebook.mean()
    else:
        weights = torch.tensor(codebook_weights, dtype=per_codebook.dtype, device=device)
        loss = (weights * per_codebook).sum() / weights.sum()
    if penalty is not None:
        loss = loss + guided.weight * penalty  # type: ignore[union-attr]
    return LossOutput(
        loss=loss,
        per_codebook=per_codebook.detach(),
        n_targets=int(counted.sum()),
        guided=None if penalty is None else penalty.detach(),
    )


def make_optimizer(
    model: CodecLM,
    lr: float = 3e-4,
    weight_decay: float = 0.1,
    betas: tuple[float, float] = (0.9, 0.95),
) -> torch.optim.AdamW:
    """AdamW, decaying matrices only (not norms, null embeddings or other vectors)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    fused = next(model.parameters()).device.type == "cuda"
    return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=fused)


def train_step(
    model: CodecLM,
    optimizer: torch.optim.Optimizer,
    batch: LMBatch,
    dropout: ConditionDropout | None = None,
    grad_clip: float = 1.0,
    lr: float | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """One optimisation step; returns loss, per-codebook losses and the gradient norm."""
    model.train()
    if lr is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr
    out = lm_loss(model, batch, dropout, generator)
    optimizer.zero_grad(set_to_none=True)
    out.loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    stats = {"loss": float(out.loss.detach()), "grad_norm": float(grad_norm)}
    stats.update({f"loss_cb{k}": float(v) for k, v in enumerate(out.per_codebook)})
    return stats
