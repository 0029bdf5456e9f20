"""How much a token LM leans on the text, on its unit stream and on its own history.

    python recipes/lm_reliance.py --model tts/pretrained/default \\
        --shards ~/koe-runs/proof_tokens --split valid --out reliance.json

Teacher-forced cross-entropy per codebook on held-out items, first as they are, then with one
input spoiled at a time (the targets never change):

- text: every item gets its neighbour's phonemes (what `text_reliance` measures in training);
- units: every input code of the semantic-unit stream(s) replaced by a random code;
- history p: a fraction p of the codec streams' input codes replaced by random codes, which is
  what sampling does to the LM at inference when it draws an unlikely code.

A loss that barely moves when an input is spoiled says the LM does not use that input. On
koe-proof-v6 the codec streams' loss rose far more with 20% of their history spoiled than with
the text swapped or the units gone: they follow their own history, which is how a sentence
that starts right drifts off its text. Input noise in training (`input_noise`) targets that.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F

from tts.data.shards import FrameBucketSampler, ShardDataset, collate_lm
from tts.model import CodecLM
from tts.training import IGNORE_INDEX, LMBatch, build_lm_inputs, randomise_codes


def spoiled_inputs(
    inputs: torch.Tensor, codebooks: slice, rate: float, n_codes: int, generator: torch.Generator
) -> torch.Tensor:
    """Replace a fraction `rate` of the real codes of `codebooks` in inputs [B, K, T]."""
    out = inputs.clone()
    out[:, codebooks] = randomise_codes(inputs[:, codebooks], rate, n_codes, generator)
    return out


@torch.no_grad()
def codebook_losses(
    model: CodecLM, batch: LMBatch, inputs: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed cross-entropy [K], target count [K]) of teacher-forced `inputs`."""
    _, targets = build_lm_inputs(batch.codes, batch.code_lengths, model)
    logits = model(batch.phonemes, batch.phoneme_lengths, batch.cond, inputs)
    losses = F.cross_entropy(
        logits.float().flatten(0, 2), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="none"
    ).view(targets.shape)
    counted = (targets != IGNORE_INDEX).float()
    return (losses * counted).sum(dim=(0, 2)), counted.sum(dim=(0, 2))


def reliance(
    model: CodecLM,
    dataset: ShardDataset,
    max_frames: int = 2400,
    batches: int = 8,
    rates: tuple[float, ...] = (0.2, 0.5),
    seed: int = 0,
) -> dict[str, list[float]]:
    """Mean cross-entropy per codebook under each condition (see the module doc)."""
    model.eval()
    config = model.config
    n_sem = config.n_semantic
    codec = slice(n_sem, config.n_codebooks)
    generator = torch.Generator().manual_seed(seed)
    conditions = ["clean", "text"] + (["units"] if n_sem else []) + [f"history {r}" for r in rates]
    sums = {c: torch.zeros(config.n_codebooks) for c in conditions}
    counts = torch.zeros(config.n_codebooks)
    sampler = FrameBucketSampler(dataset.frames, max_frames, shuffle=False)
    for indices in sampler.batches(0)[:batches]:
        batch = collate_lm([dataset[i] for i in indices], config.pad_id)
        inputs, _ = build_lm_inputs(batch.codes, batch.code_lengths, model)
        for condition in conditions:
            run, spoiled = batch, inputs
            if condition == "text":
                order = torch.roll(torch.arange(len(indices)), 1)
                run = LMBatch(batch.phonemes[order], batch.phoneme_lengths[order], batch.codes,
                              batch.code_lengths, batch.cond)  # fmt: skip
            elif condition == "units":
                spoiled = spoiled_inputs(
                    inputs, slice(0, n_sem), 1.0, config.codebook_size, generator
                )
            elif condition.startswith("history"):
                rate = float(condition.split()[1])
                spoiled = spoiled_inputs(inputs, codec, rate, config.codebook_size, generator)
            total, count = codebook_losses(model, run, spoiled)
            sums[condition] += total
            if condition == "clean":
                counts += count
    return {c: (s / counts.clamp(min=1)).tolist() for c, s in sums.items()}


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="model bundle (or LM checkpoint) folder")
    p.add_argument("--shards", required=True, help="shard folder (recipes/tokenize_corpus.py)")
    p.add_argument("--split", default="valid")
    p.add_argument("--batches", type=int, default=8)
    p.add_argument("--max-frames", type=int, default=2400)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="also write the table as JSON")
    args = p.parse_args(argv)
    model = CodecLM.load(args.model).float()
    semantic = model.config.n_semantic > 0
    dataset = ShardDataset(Path(args.shards).expanduser(), [args.split], semantic=semantic)
    table = reliance(model, dataset, args.max_frames, args.batches, seed=args.seed)
    names = ["units"] * model.config.n_semantic + [
        f"codec {k}" for k in range(model.config.n_codec_codebooks)
    ]
    print(f"{'condition':<12} " + " ".join(f"{n:>8}" for n in names) + "      mean")
    for condition, losses in table.items():
        row = " ".join(f"{v:>8.2f}" for v in losses)
        print(f"{condition:<12} {row} {sum(losses) / len(losses):>9.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    return table


if __name__ == "__main__":
    main()
