"""Train the unit reader (tts.reader): semantic units -> phonemes, by CTC, on a shard folder
with semantic units (recipes/tokenize_corpus.py, then recipes/semantic_units.py).

    python recipes/train_unit_reader.py ~/koe-runs/proof2_tokens --out runs/reader --steps 3000

The train split trains it and the valid split measures it: CTC loss per phoneme and phoneme
error rate of best-path decoding (PER). A run resumes from OUT/checkpoint when one is there.
OUT gets the reader (model.safetensors + config.json), metrics.jsonl and curves.png. Ship it
with `recipes/ship_model.py --reader OUT`. `--init READER` starts from a trained reader (its
layer sizes kept) to fine-tune it, e.g. on shards cycled through the codec
(recipes/cycle_shards.py).

`--source mel --codec CODEC` trains a reader of log-mel spectrograms: each item's codes (with
its semantic units in front, when the shards have them and the codec's decoder reads them) are
decoded by CODEC once, as synthesis decodes a take, and the reader learns to read the decoded
audio; training batches get SpecAugment masks instead of unit noise.

    python recipes/train_unit_reader.py ~/koe-runs/proof_tokens --source mel \
        --codec tts/pretrained/default/codec --out runs/reader_mel --n-layer 4 \
        --frames-per-batch 6000 --steps 1500 --threads 2
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from tts.codecs import load_codec
from tts.data.shards import ShardDataset, semantic_info, shard_roots
from tts.errors import CheckpointError, ConfigError
from tts.reader import (
    ReaderConfig,
    UnitReader,
    ctc_per_phoneme,
    edit_distance,
    frames_batch,
    greedy_read,
    read_ids,
)
from tts.runs import (
    cosine_lr,
    latest_checkpoint,
    load_training_state,
    plot_curves,
    restore_rng,
    rng_state,
    save_training_state,
)

sys.path.insert(0, str(Path(__file__).parent))
from cycle_shards import decode_item


@dataclass
class ReaderTrainConfig:
    shards: str
    out: str
    steps: int = 3000
    frames_per_batch: int = 4000  # units per batch (items of similar length are batched)
    lr: float = 1e-3
    warmup: int = 200
    weight_decay: float = 0.01
    # Augmentation (training batches only): the LM's sampled units are noisier than a real
    # recording's, and a reader that saw only clean units overfits the corpus's sentences.
    unit_noise: float = 0.1  # each unit replaced by a random one with this probability
    mask_spans: float = 0.03  # each frame starts a masked ("no unit") span of 3 with this prob.
    # A mel reader's augmentation: this many time masks (up to 10 frames) and as many band
    # masks (up to 8 mel bands) per item, filled with the item's mean.
    spec_masks: int = 2
    # The codec that decodes the items for a mel reader (a codec folder or model bundle).
    codec: str = ""
    eval_every: int = 250
    eval_items: int = 300
    seed: int = 0
    threads: int = 1
    # A trained reader to start from (fine-tuning, e.g. on new voices' shards); its
    # architecture is kept and must read this corpus's inventory and codes. "" = from scratch.
    init: str = ""


def load_items(dataset: ShardDataset, limit: int | None = None, hear=None) -> list[tuple]:
    """(frames [S, F], read ids [N], language) per item: the semantic units (S = 1) of a
    dataset that has them in front, else the codec's codes (S = its codebooks); with `hear`
    (a mel reader), hear(codes) of each item's frames."""
    order = list(range(len(dataset)))[:limit]
    items = []
    for i in tqdm(order, desc="reading shards" if hear is None else "decoding", leave=False):
        item = dataset[i]
        ids = torch.tensor(read_ids(item.phonemes.tolist(), dataset.inventory))
        if len(ids):
            if hear is not None:
                frames = hear(item.codes)
            else:
                frames = item.codes[:1] if dataset.semantic else item.codes
            items.append((frames, ids, item.language))
    return items


def decoded_mel(codec, reader: UnitReader, with_units: bool):
    """item codes [K, F] -> the log-mels [n_mels, frames] (float16) of their decoding, as
    synthesis decodes a take: semantic units in front when the codec's decoder reads them."""

    def hear(codes: torch.Tensor) -> torch.Tensor:
        units = codes[0] if with_units else None  # ShardDataset puts them in front
        wav = decode_item(codec, codes[1:] if with_units else codes, units)
        return reader.log_mel(wav.cpu().numpy(), codec.sample_rate).half()

    return hear


def batches(items: list[tuple], frames: int, rng: random.Random) -> list[list[int]]:
    """Indices grouped by length so that each batch has about `frames` padded frames."""
    order = sorted(range(len(items)), key=lambda i: items[i][0].shape[-1] + rng.random())
    out, current, longest = [], [], 0
    for i in order:
        longest = max(longest, items[i][0].shape[-1])
        if current and longest * (len(current) + 1) > frames:
            out.append(current)
            current, longest = [], items[i][0].shape[-1]
        current.append(i)
    if current:
        out.append(current)
    rng.shuffle(out)
    return out


def collate(items: list[tuple], config: ReaderConfig) -> tuple:
    lengths = torch.tensor([u.shape[-1] for u, _, _ in items])
    units = frames_batch([u for u, _, _ in items], config)
    language = torch.tensor([lang for _, _, lang in items])
    return units, lengths, language, [ids for _, ids, _ in items]


def spec_augment(mel: torch.Tensor, lengths: torch.Tensor, masks: int, rng: random.Random):
    """log-mels [B, n_mels, T] with `masks` time masks (up to 10 frames) and band masks (up to
    8 bands) per item, filled with the item's mean."""
    mel = mel.clone()
    for b, length in enumerate(lengths.tolist()):
        fill = mel[b, :, :length].mean()
        for _ in range(masks):
            width = rng.randint(0, 10)
            start = rng.randint(0, max(0, length - width))
            mel[b, :, start : start + width] = fill
            bands = rng.randint(0, 8)
            low = rng.randint(0, mel.shape[1] - bands)
            mel[b, low : low + bands, :length] = fill
    return mel


def corrupt(units: torch.Tensor, n_units: int, noise: float, spans: float) -> torch.Tensor:
    """frames [B, S, T] with random substitutions and masked spans of 3 frames (id n_units,
    every stream at once)."""
    units = units.clone()
    swap = torch.rand(units.shape) < noise
    units[swap] = torch.randint(0, n_units, (int(swap.sum()),))
    starts = (torch.rand(units.shape[0], 1, units.shape[2]) < spans).float()
    masked = torch.nn.functional.max_pool1d(starts, 3, stride=1, padding=1) > 0
    return units.masked_fill(masked, n_units)


@torch.no_grad()
def evaluate(model: UnitReader, items: list[tuple]) -> dict[str, float]:
    model.eval()
    losses, errors, total = [], 0, 0
    for start in range(0, len(items), 32):
        units, lengths, language, targets = collate(items[start : start + 32], model.config)
        log_probs, out_lengths = model(units, lengths, language)  # one pass: loss and reading
        losses += ctc_per_phoneme(log_probs, out_lengths, targets, model.config.blank_id).tolist()
        for lp, n, target in zip(log_probs, out_lengths.tolist(), targets, strict=True):
            errors += edit_distance(greedy_read(lp, n, model.config.blank_id), target.tolist())
            total += len(target)
    model.train()
    finite = [x for x in losses if x != float("inf")]
    return {"valid_loss": sum(finite) / max(1, len(finite)), "valid_per": errors / max(1, total)}


def start_from(path: str, wanted: ReaderConfig) -> UnitReader:
    """The reader saved at `path`, checked to read what this corpus holds (source, inventory
    size, blank, codebooks and their size); its own layer sizes are kept."""
    model = UnitReader.load(path)
    have = model.config
    fields = ["source", "vocab_size", "blank_id"]
    fields += ["n_units", "n_streams"] if wanted.source != "mel" else []
    for field in fields:
        if getattr(have, field) != getattr(wanted, field):
            raise CheckpointError(
                f"--init {path}: its {field} is {getattr(have, field)!r} but these shards "
                f"need {getattr(wanted, field)!r}"
            )
    return model.train()


def train(cfg: ReaderTrainConfig, model_cfg: ReaderConfig) -> dict[str, float]:
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    units, mel = model_cfg.source == "units", model_cfg.source == "mel"
    codec, with_units = None, units
    if mel:
        if not cfg.codec:
            raise ConfigError("a mel reader needs --codec: the codec that decodes the items")
        codec = load_codec(cfg.codec)
        roots = shard_roots(cfg.shards)
        with_units = getattr(codec, "n_units", 0) > 0 and all(semantic_info(r) for r in roots)
    train_set = ShardDataset(cfg.shards, splits=["train"], semantic=with_units)
    valid_set = ShardDataset(cfg.shards, splits=["valid"], semantic=with_units)
    model_cfg.vocab_size = len(train_set.inventory)
    model_cfg.blank_id = train_set.inventory.pad_id
    if units:
        model_cfg.n_units, model_cfg.n_streams = int(semantic_info(cfg.shards)["n_clusters"]), 1
    else:
        info = train_set.codec_info
        model_cfg.n_units, model_cfg.n_streams = info["codebook_size"], info["n_codebooks"]
    if mel:
        model_cfg.sample_rate, model_cfg.upsample = codec.sample_rate, 1
    model = UnitReader(model_cfg) if not cfg.init else start_from(cfg.init, model_cfg)
    hear = decoded_mel(codec, model, with_units) if mel else None
    train_items = load_items(train_set, hear=hear)
    valid_items = load_items(valid_set, cfg.eval_items, hear=hear)
    optim = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, rows = 0, []
    resume = latest_checkpoint(out)
    if resume is not None:
        state = load_training_state(resume, {"model": model, "optim": optim})
        step, rows = state["step"], state["rows"]
        restore_rng(state)
        print(f"resumed from {resume} at step {step}")
    plan: list[list[int]] = []
    bar = tqdm(total=cfg.steps, initial=step, desc="unit reader")
    while step < cfg.steps:
        if not plan:
            plan = batches(train_items, cfg.frames_per_batch, rng)
        units, lengths, language, targets = collate(
            [train_items[i] for i in plan.pop()], model.config
        )
        for group in optim.param_groups:
            group["lr"] = cosine_lr(step, cfg.lr, cfg.warmup, cfg.steps)
        if mel:
            units = spec_augment(units, lengths, cfg.spec_masks, rng)
        else:
            units = corrupt(units, model_cfg.n_units, cfg.unit_noise, cfg.mask_spans)
        losses = model.ctc_losses(units, lengths, language, targets)
        losses = losses[torch.isfinite(losses)]  # an item too long for its frames teaches nothing
        if not len(losses):
            continue
        loss = losses.mean()
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        row: dict[str, float] = {"step": step, "train_loss": loss.item()}
        if step % cfg.eval_every == 0 or step == cfg.steps:
            row.update(evaluate(model, valid_items))
            tqdm.write(json.dumps(row))
            model.save(out, shards=cfg.shards, step=step, **{k: row[k] for k in row if k != "step"})
            save_training_state(
                out, cfg, lambda d: model.save(d),
                {"step": step, "rows": [*rows, row], **rng_state()},
                {"model": model, "optim": optim},
            )  # fmt: skip
        rows.append(row)
    bar.close()
    with open(out / "metrics.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    plot_curves(
        out / "curves.png", rows, {"CTC loss": ["train_loss", "valid_loss"], "PER": ["valid_per"]},
        "unit reader",
    )  # fmt: skip
    return [r for r in rows if "valid_loss" in r][-1]


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("shards")
    p.add_argument("--out", required=True)
    for field, value in asdict(ReaderTrainConfig("", "")).items():
        if field not in ("shards", "out"):
            p.add_argument(f"--{field.replace('_', '-')}", type=type(value), default=value)
    p.add_argument("--d-model", type=int, default=ReaderConfig.d_model)
    p.add_argument("--n-layer", type=int, default=ReaderConfig.n_layer)
    p.add_argument("--dropout", type=float, default=ReaderConfig.dropout)
    p.add_argument(
        "--source", choices=("units", "codes", "mel"), default="units",
        help="read the semantic units, the codec's codes of the audio, or the log-mels of the "
        "audio decoded by --codec",
    )  # fmt: skip
    a = vars(p.parse_args(argv))
    model_cfg = ReaderConfig(
        source=a.pop("source"), d_model=a.pop("d_model"), n_layer=a.pop("n_layer"),
        dropout=a.pop("dropout"),
    )  # fmt: skip
    result = train(ReaderTrainConfig(**a), model_cfg)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
