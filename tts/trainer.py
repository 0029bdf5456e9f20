"""The codec-LM training loop over token shards, shared by recipes/train.py (training from
scratch) and recipes/finetune_voice.py (adapting a bundle to one voice, optionally with LoRA).

One plain loop, read top to bottom in `train`:

    shards (tts.data.shards) -> length-bucketed batches -> lm_loss -> AdamW + cosine schedule
    every log_every: CSV row        every eval_every: validation loss on held-out splits, and
                                    how much of it the text explains (text_reliance)
    every ckpt_every: checkpoint/ (atomic) and bundle/ (a Synthesizer bundle)
    a new best validation loss: bundle_best/ (+ best.json), the bundle to ship when the
    latest one has started to overfit (best/, the LM's weights alone, when no bundles are made)

Distributed: under torchrun (RANK / WORLD_SIZE set) every process trains a disjoint share of
each epoch's batches with DistributedDataParallel (nccl on GPU, gloo on CPU); without torchrun
it is one process. Resume is exact: the batch order is a function of (seed, epoch), the saved
state holds (step, epoch, position in the epoch), model, optimizer and scheduler, and the random
generators are reseeded from (seed, step, rank) at every step, so a run killed after its last
checkpoint and restarted repeats the steps it lost bit for bit.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from tts.alignment import GuidedAttention
from tts.checkpoint import load_checkpoint, load_state_into, read_checkpoint_config, save_checkpoint
from tts.config import config_from_dict, config_to_dict, load_config, save_config
from tts.data.references import REFERENCE_MODES, OtherUtterance
from tts.data.shards import FrameBucketSampler, ShardDataset, collate_lm, read_indexes
from tts.errors import ConfigError
from tts.lora import LoRAConfig, apply_lora, merged_state_dict, save_lora
from tts.model import N_CONDITION_TOKENS, CodecLM, LMConfig
from tts.runs import (
    TIMED_STEPS,
    cosine_lr,
    fit_into_minutes,
    freeze_all_but,
    latest_checkpoint,
    load_training_state,
    plot_curves,
    resumed_best,
    save_training_state,
    setup_device,
    setup_distributed,
    swap_in,
    teardown_distributed,
)
from tts.training import ConditionDropout, LMBatch, lm_loss, make_optimizer

STATE_KIND = "codec_lm_train"  # the training checkpoint (may hold LoRA wrappers)
MAX_EXPORTED_VOICES = 64  # mean embeddings of training speakers, 1 KiB each


@dataclass
class TrainConfig:
    data: str = ""  # shard folder(s) written by recipes/tokenize_corpus.py: "a" or "a,b"
    train_splits: tuple[str, ...] = ("train",)  # manifest extra["split"] values to train on
    valid_splits: tuple[str, ...] = ("valid",)  # held out for the validation loss
    preset: str = "tiny"  # LMConfig.preset name
    model: dict[str, Any] = field(default_factory=dict)  # LMConfig field overrides
    init_from: str = ""  # a bundle or LM checkpoint to start from (its architecture wins)
    lora_rank: int = 0  # > 0: train low-rank adapters only (tts.lora), base weights frozen
    lora_alpha: float = 16.0
    # Train only these parts of init_from's LM (comma-separated module or parameter names,
    # "speaker_proj"); the rest stays frozen. Empty: everything.
    train_only: str = ""
    voice_name: str = ""  # export the mean training speaker embedding as "default" + this name
    max_frames: int = 4000  # padded codec frames per micro-batch and process
    grad_accum: int = 1
    max_steps: int = 10_000
    lr: float = 3e-4
    min_lr_ratio: float = 0.1
    warmup_steps: int = 200
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    dropout: ConditionDropout = field(default_factory=ConditionDropout)
    guided: GuidedAttention = field(default_factory=GuidedAttention)  # weight 0: off
    # Training weight of each codebook's cross-entropy (empty: all 1). Weighting a semantic
    # unit stream (codebook 0 with n_semantic=1) above the codec's codebooks makes the shared
    # layers learn what is said first. Logged and validation losses stay unweighted means.
    codebook_weights: tuple[float, ...] = ()
    # Fraction of the input (history) codes replaced by random ones, targets unchanged
    # (tts.training.corrupt_inputs): against drifting off the text at inference. 0 = off.
    input_noise: float = 0.0
    # Fraction of the input codes replaced by the LM's own draws, each sampled from what it
    # predicts there given the true history (tts.training.own_sample_inputs), before
    # input_noise: its own plausible slips rather than uniform ones. 0 = off (no extra pass).
    self_input: float = 0.0
    # Whose speaker embedding conditions each item: "self" its own, "other" that of another
    # utterance of its speaker, neutral when there is one, as a reference clip is at
    # synthesis (tts.data.references). Validation losses always use the item's own.
    speaker_reference: str = "self"
    seed: int = 1337
    log_every: int = 10
    eval_every: int = 500
    eval_batches: int = 50
    ckpt_every: int = 1000
    export_bundle: bool = True  # write out/bundle at every checkpoint
    num_workers: int = 0
    device: str = "auto"  # auto = cuda:LOCAL_RANK when available, else cpu

    def __post_init__(self) -> None:
        for name in ("max_frames", "grad_accum", "max_steps", "log_every", "eval_every"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.ckpt_every < 1 or self.eval_batches < 1:
            raise ConfigError("TrainConfig.ckpt_every and eval_batches must be >= 1")
        if not 0.0 <= self.input_noise < 1.0:
            raise ConfigError(f"TrainConfig.input_noise must lie in [0, 1), got {self.input_noise}")
        if not 0.0 <= self.self_input <= 1.0:
            raise ConfigError(f"TrainConfig.self_input must lie in [0, 1], got {self.self_input}")
        if self.speaker_reference not in REFERENCE_MODES:
            raise ConfigError(
                f"TrainConfig.speaker_reference must be one of {REFERENCE_MODES}, "
                f"got {self.speaker_reference!r}"
            )
        if isinstance(self.dropout, dict):
            self.dropout = config_from_dict(ConditionDropout, self.dropout)


# ----- setup ----------------------------------------------------------------------------------


def model_config_for(cfg: TrainConfig, index: dict[str, Any]) -> LMConfig:
    """The LM config: the init checkpoint's, else the preset sized to the data + overrides."""
    codec, inventory = index["codec"], index["inventory"]
    if cfg.init_from:
        payload = read_checkpoint_config(cfg.init_from, kind="codec_lm")
        # `model` overrides still apply (dropout, generation caps); one that changes a weight's
        # shape fails when the weights are loaded, naming the tensor.
        config = config_from_dict(LMConfig, {**payload["config"], **cfg.model})
    else:
        sized = {
            "vocab_size": len(inventory["symbols"]),
            "pad_id": inventory["symbols"].index("<pad>"),
            "codebook_size": codec["codebook_size"],
            "n_codebooks": codec["n_codebooks"],
            # ~0.4 s of audio per phoneme at most: 10 frames at 25 Hz, 30 at 75 Hz
            "max_frames_per_phoneme": round(0.4 * codec["frame_rate"], 2),
        }
        config = LMConfig.preset(cfg.preset, **{**sized, **cfg.model})
    shards = (codec["codebook_size"], codec["n_codebooks"])
    if (config.codebook_size, config.n_codec_codebooks) != shards:
        raise ConfigError(
            f"the LM predicts {config.n_codec_codebooks} codec codebooks of "
            f"{config.codebook_size} but the shards hold {codec['n_codebooks']} of "
            f"{codec['codebook_size']} ({codec['name']})"
        )
    if config.vocab_size < len(inventory["symbols"]):
        raise ConfigError(
            f"the LM knows {config.vocab_size} symbols, the shards' inventory has "
            f"{len(inventory['symbols'])}"
        )
    return config


def add_semantic_streams(
    state: dict[str, torch.Tensor], base: LMConfig, model: CodecLM
) -> dict[str, torch.Tensor]:
    """Base weights for `model` when it adds semantic streams in front of the base's codebooks.

    The base's codebook k becomes codebook k + added (its embedding table and head move with
    it); the new streams keep the model's fresh initialisation. Everything else is unchanged.
    With no streams added the state is returned as it is (shape mismatches then fail loudly).
    """
    added = model.config.n_semantic - base.n_semantic
    if added <= 0 or model.config.n_codebooks != base.n_codebooks + added:
        return state
    fresh = model.state_dict()
    moved = dict(state)
    for table in ("code_emb", "heads"):
        for k in range(base.n_codebooks):
            moved[f"{table}.{k + added}.weight"] = state[f"{table}.{k}.weight"]
        for k in range(added):
            moved[f"{table}.{k}.weight"] = fresh[f"{table}.{k}.weight"]
    return moved


def add_null_text(state: dict[str, torch.Tensor], model: CodecLM) -> dict[str, torch.Tensor]:
    """Base weights for `model` when it adds a null text embedding (`LMConfig.null_text`) to a
    base without one: the new vector keeps the model's fresh initialisation."""
    if model.null_text is None or "null_text" in state:
        return state
    return {**state, "null_text": model.state_dict()["null_text"]}


def step_seed(seed: int, step: int, rank: int) -> int:
    """The seed of every random draw at one step of one process."""
    return (seed * 1_000_003 + step * 7919 + rank) % (2**63)


# ----- checkpoints and exports -----------------------------------------------------------------


def save_state(
    out: Path, cfg: TrainConfig, model: CodecLM, parts: dict[str, Any], position: dict[str, int]
) -> Path:
    """out/checkpoint: the LM (with its LoRA adapters), position in the data, optimizer states."""

    def write_model(directory: Path) -> None:
        config = config_to_dict(model.config)
        save_checkpoint(directory, model.state_dict(), STATE_KIND, config, lora=cfg.lora_rank)
        if cfg.lora_rank > 0:
            save_lora(model, directory / "adapter", lora_config(cfg), step=position["step"])

    return save_training_state(out, cfg, write_model, position, parts)


def load_state(directory: Path, model: CodecLM, parts: dict[str, Any]) -> dict[str, int]:
    state_dict, payload = load_checkpoint(directory, kind=STATE_KIND)
    if config_from_dict(LMConfig, payload["config"]) != model.config:
        raise ConfigError(
            f"{directory} was trained with another model config; resume with the same config "
            "or use a new output folder"
        )
    load_state_into(model, state_dict, str(directory))
    state = load_training_state(directory, parts)
    return {k: int(state[k]) for k in ("step", "epoch", "position")}


def lora_config(cfg: TrainConfig) -> LoRAConfig:
    return LoRAConfig(rank=cfg.lora_rank, alpha=cfg.lora_alpha)


class BundleExporter:
    """Writes a Synthesizer bundle of the current weights (codec, encoders loaded once)."""

    def __init__(self, cfg: TrainConfig, index: dict[str, Any], train_set: ShardDataset) -> None:
        from tts.codecs import load_codec
        from tts.speakers import StyleEncoder, load_speaker_encoder
        from tts.synthesizer import PipelineConfig
        from tts.text import SymbolInventory, TextFrontend

        self.cfg = cfg
        self.codec = load_codec(index["codec"]["source"])
        self.speaker_encoder = load_speaker_encoder(index["speaker_encoder"])
        pipeline = PipelineConfig(max_symbols=max(index["max_symbols"], 16))
        self.style_encoder = None
        if index["style_encoder"]:
            self.style_encoder = StyleEncoder.load(index["style_encoder"])
        if cfg.init_from:  # keep the base bundle's settings (sampling, style encoder)
            payload = read_checkpoint_config(cfg.init_from)
            if "pipeline" in payload:
                pipeline = config_from_dict(PipelineConfig, payload["pipeline"])
                style_dir = Path(cfg.init_from) / str(pipeline.style_encoder or "")
                if self.style_encoder is None and pipeline.style_encoder and style_dir.is_dir():
                    self.style_encoder = StyleEncoder.load(style_dir)
        self.pipeline = pipeline
        self.semantic = None
        if train_set.semantic_source:  # the bundle carries its tokenizer, for fine-tuning
            from tts.semantic import SemanticTokenizer

            self.semantic = SemanticTokenizer.load(train_set.semantic_source)
        self.frontend = TextFrontend(
            max_symbols=pipeline.max_symbols,
            inventory=SymbolInventory.from_dict(index["inventory"]),
        )
        means = train_set.mean_speaker_embeddings()
        if cfg.voice_name:
            everything = torch.stack(list(means.values())).sum(0)  # one speaker, normally
            voice = torch.nn.functional.normalize(everything, dim=0)
            self.voices = {"default": voice, cfg.voice_name: voice.clone()}
        else:
            top = list(means.items())[:MAX_EXPORTED_VOICES]
            self.voices = {"default": top[0][1].clone(), **dict(top)}

    def export(self, model: CodecLM, directory: Path) -> Path:
        from tts.synthesizer import Synthesizer

        if self.cfg.lora_rank > 0:  # a plain LM with the adapters folded in
            plain = CodecLM(model.config)
            load_state_into(plain, merged_state_dict(model), "merged LoRA weights")
        else:
            plain = model
        was_training = plain.training
        device = next(model.parameters()).device
        plain = plain.to(device)
        self.codec.to(device)
        synth = Synthesizer(
            plain,
            self.codec,
            self.frontend,
            self.speaker_encoder,
            self.style_encoder,
            self.voices,
            self.pipeline,
            self.semantic,
        )
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        synth.save(tmp)
        swap_in(tmp, directory)
        plain.train(was_training)
        return directory


# ----- logging ---------------------------------------------------------------------------------


def csv_columns(n_codebooks: int) -> list[str]:
    cb = [f"loss_cb{k}" for k in range(n_codebooks)]
    cols = ["step", "epoch", "loss", *cb, "guided", "lr", "grad_norm", "tokens_per_s"]
    return [*cols, "val_loss", "val_text_gain"]


def read_log(path: Path, up_to_step: int) -> list[dict[str, float]]:
    """Rows of a CSV log up to a step (a resumed run drops the rows after its checkpoint)."""
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        rows = [{k: float(v) for k, v in r.items() if v != ""} for r in csv.DictReader(f)]
    for row in rows:  # counters stay integers, so a resumed log reads like a fresh one
        for key in ("step", "epoch"):
            if key in row:
                row[key] = int(row[key])
    return [r for r in rows if r["step"] <= up_to_step]


def write_log(path: Path, rows: list[dict[str, float]], n_codebooks: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=csv_columns(n_codebooks), restval="")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def plot_losses(path: Path, rows: list[dict[str, float]], title: str) -> None:
    """Train ("loss") and validation ("val_loss") cross-entropy on one panel."""
    plot_curves(path, rows, {"cross-entropy (mean over codebooks)": ["loss", "val_loss"]}, title)


@torch.no_grad()
def validation_losses(
    model: CodecLM,
    dataset: ShardDataset,
    cfg: TrainConfig,
    device: torch.device,
    text_gain: bool = False,
) -> tuple[float, float | None]:
    """One pass over a fixed set of validation batches (no condition dropout): the mean
    per-codebook cross-entropy and, with `text_gain`, `text_reliance` from the same batches."""
    sampler = FrameBucketSampler(dataset.frames, cfg.max_frames, shuffle=False)
    was_training = model.training
    model.eval()
    total, weight = 0.0, 0
    gain, gain_weight = 0.0, 0
    for indices in sampler.batches(0)[: cfg.eval_batches]:
        batch = collate_lm([dataset[i] for i in indices], model.config.pad_id).to(device)
        right = lm_loss(model, batch)
        total += float(right.loss) * right.n_targets
        weight += right.n_targets
        if text_gain and len(indices) >= 2:  # every item gets its neighbour's text
            order = torch.roll(torch.arange(len(indices), device=device), 1)
            swapped = LMBatch(
                batch.phonemes[order], batch.phoneme_lengths[order], batch.codes,
                batch.code_lengths, batch.cond,
            )  # fmt: skip
            gain += (float(lm_loss(model, swapped).loss) - float(right.loss)) * right.n_targets
            gain_weight += right.n_targets
    model.train(was_training)
    return total / max(1, weight), (gain / gain_weight if gain_weight else None)


def validation_loss(
    model: CodecLM, dataset: ShardDataset, cfg: TrainConfig, device: torch.device
) -> float:
    """Mean per-codebook cross-entropy (no condition dropout) over a fixed set of batches."""
    return validation_losses(model, dataset, cfg, device)[0]


def text_reliance(
    model: CodecLM, dataset: ShardDataset, cfg: TrainConfig, device: torch.device
) -> float | None:
    """How much the LM uses the text: validation cross-entropy with every item's phonemes
    swapped for another item's (rotated within the batch) minus the loss with its own.

    Near zero, the LM predicts the audio from the audio so far and the voice alone, and will
    not say the words it is given, whatever its validation loss. None without a batch of 2+."""
    return validation_losses(model, dataset, cfg, device, text_gain=True)[1]


def fingerprint(model: torch.nn.Module) -> str:
    """sha256 of every parameter's bytes, to check that processes hold the same weights."""
    digest = hashlib.sha256()
    for name, p in model.state_dict().items():
        digest.update(name.encode())
        digest.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


# ----- the loop --------------------------------------------------------------------------------


def train(
    cfg: TrainConfig,
    out: str | Path,
    stop_after: int = 0,
    progress: bool = True,
    minutes: float = 0.0,
) -> dict[str, Any]:
    """Train (or resume) in `out`; `stop_after` > 0 ends this session after that many steps
    with a checkpoint. Returns the final step, history rows, paths and the trained model.

    `minutes` > 0 fits the run into that much wall-clock time (a lent GPU for a few minutes):
    the first steps are timed, and `max_steps` is lowered (never raised) to what the time left
    holds, so the learning-rate schedule ends inside the budget instead of being cut off at
    its peak. The lowered `max_steps` is saved with the run's config."""
    session_start = time.perf_counter()
    if not (math.isfinite(minutes) and minutes >= 0):
        raise ConfigError(f"minutes must be a non-negative number, got {minutes}")
    out = Path(out)
    ddp = setup_distributed()
    device = setup_device(cfg.device, ddp)
    if not cfg.data:
        raise ConfigError("no training data: set data= to a shard folder (tokenize_corpus.py)")
    index = read_indexes(cfg.data)  # several folders ("a,b") are read as one corpus
    model_config = model_config_for(cfg, index)
    semantic = model_config.n_semantic > 0
    train_set = ShardDataset(cfg.data, cfg.train_splits, semantic=semantic)
    if len(train_set) == 0:
        raise ConfigError(f"{cfg.data} has no items in the splits {list(cfg.train_splits)}")
    valid_set = ShardDataset(cfg.data, cfg.valid_splits, semantic) if cfg.valid_splits else None
    if valid_set is not None and len(valid_set) == 0:
        valid_set = None

    # Model: identical initial weights on every rank (the seed), then the base weights.
    if cfg.guided.weight > 0:
        cfg.guided.check(model_config)
    if cfg.codebook_weights and (
        len(cfg.codebook_weights) != model_config.n_codebooks
        or min(cfg.codebook_weights) < 0
        or sum(cfg.codebook_weights) <= 0
    ):
        raise ConfigError(
            f"codebook_weights {list(cfg.codebook_weights)} must give one weight >= 0 per "
            f"codebook ({model_config.n_codebooks}), not all zero"
        )
    torch.manual_seed(cfg.seed)
    model = CodecLM(model_config)
    if cfg.init_from:
        state, payload = load_checkpoint(cfg.init_from, kind="codec_lm")
        base = config_from_dict(LMConfig, payload["config"])
        state = add_null_text(add_semantic_streams(state, base, model), model)
        load_state_into(model, state, cfg.init_from)
    if cfg.lora_rank > 0:
        apply_lora(model, lora_config(cfg))
    if cfg.train_only:
        if not cfg.init_from:
            raise ConfigError("train_only trains a part of a trained LM: give init_from=")
        if cfg.lora_rank > 0:
            raise ConfigError("train_only and lora_rank both choose what trains: give one")
        freeze_all_but(model, cfg.train_only, "LM")
    model.to(device)
    optimizer = make_optimizer(model, cfg.lr, cfg.weight_decay, tuple(cfg.betas))  # type: ignore[arg-type]
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: cosine_lr(s, 1.0, cfg.warmup_steps, cfg.max_steps, cfg.min_lr_ratio)
    )
    parts = {"optimizer": optimizer, "scheduler": scheduler}
    position = {"step": 0, "epoch": 0, "position": 0}
    resume_dir = latest_checkpoint(out)
    if resume_dir is not None:
        position = load_state(resume_dir, model, parts)
        if ddp.master:
            tqdm.write(f"resuming {out} at step {position['step']}")
    start_step = position["step"]

    raw_model = model
    if ddp.enabled:
        ids = [device.index] if device.type == "cuda" else None
        model = DistributedDataParallel(
            model, device_ids=ids, find_unused_parameters=not train_set.has_style
        )
        model.config = raw_model.config  # lm_loss reads model.config; forward goes through DDP

    # Data: items that fit the model's sequence length, bucketed by frames.
    extra = N_CONDITION_TOKENS + model_config.n_codebooks
    fits = [
        n + f + extra <= model_config.max_seq_len
        for n, f in zip(train_set.n_symbols, train_set.frames, strict=True)
    ]
    sampler = FrameBucketSampler(
        train_set.frames, cfg.max_frames, cfg.seed, True, ddp.rank, ddp.world, keep=fits
    )
    collate = partial(collate_lm, pad_id=model_config.pad_id)
    items = OtherUtterance(train_set, cfg.seed) if cfg.speaker_reference == "other" else None

    def epoch_loader(epoch: int, skip: int) -> Any:
        batches = sampler.batches(epoch)[skip:]
        if items is not None:
            items.set_epoch(epoch)
        loader = DataLoader(
            items if items is not None else train_set, batch_sampler=batches, collate_fn=collate,
            num_workers=cfg.num_workers,
        )  # fmt: skip
        return iter(loader), len(batches)

    epoch, pos = position["epoch"], position["position"]
    batches, remaining = epoch_loader(epoch, pos)

    def next_batch() -> Any:
        nonlocal epoch, pos, batches, remaining
        if remaining == 0:
            epoch, pos = epoch + 1, 0
            batches, remaining = epoch_loader(epoch, 0)
        remaining -= 1
        pos += 1
        return next(batches).to(device)

    log_path, rows = out / "log.csv", []
    exporter = None
    best_path = out / "best.json"  # the step and loss of bundle_best, kept across resumes
    best = resumed_best(best_path, start_step)
    if ddp.master:
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / "train_config.json")
        rows = read_log(log_path, start_step)
        write_log(log_path, rows, model_config.n_codebooks)
        trainable = sum(p.numel() for p in raw_model.parameters() if p.requires_grad)
        tqdm.write(
            f"LM {raw_model.num_params() / 1e6:.2f} M params ({trainable / 1e6:.3f} M trained); "
            f"{len(train_set)} train items ({sampler.n_dropped} too long), "
            f"{len(valid_set) if valid_set else 0} validation; {len(sampler)} batches per epoch "
            f"and process; world size {ddp.world}; device {device}"
        )
        if cfg.export_bundle:
            exporter = BundleExporter(cfg, index, train_set)

    bar = tqdm(
        total=cfg.max_steps, initial=start_step, disable=not (progress and ddp.master), unit="step"
    )
    step = start_step
    timing_start = session_start  # (set after the first step when `minutes` is given)
    first_batch: list[int] | None = None
    last: dict[str, float] = {}
    while step < cfg.max_steps:
        # Every random draw of this step (condition dropout, model dropout) from (seed, step, rank).
        torch.manual_seed(step_seed(cfg.seed, step, ddp.rank))
        generator = torch.Generator().manual_seed(step_seed(cfg.seed, step, ddp.rank) + 1)
        started = time.perf_counter()
        model.train()
        optimizer.zero_grad(set_to_none=True)
        lr = optimizer.param_groups[0]["lr"]
        # per-codebook losses, guided-attention penalty, targets
        sums = torch.zeros(model_config.n_codebooks + 2, device=device)
        for micro in range(cfg.grad_accum):
            if first_batch is None:
                first_batch = sampler.batches(epoch)[pos] if remaining else []
            batch = next_batch()
            last_micro = micro == cfg.grad_accum - 1
            sync = nullcontext() if (last_micro or not ddp.enabled) else model.no_sync()
            with sync:
                result = lm_loss(
                    model, batch, cfg.dropout, generator, cfg.guided,
                    cfg.codebook_weights or None, cfg.input_noise, cfg.self_input,
                )  # fmt: skip
                (result.loss / cfg.grad_accum).backward()
            sums[:-2] += result.per_codebook
            if result.guided is not None:
                sums[-2] += result.guided
            sums[-1] += result.n_targets
        trainable = [p for p in raw_model.parameters() if p.requires_grad]
        grad_norm = torch.nn.utils.clip_grad_norm_(trainable, cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        step += 1
        if ddp.enabled:  # logged numbers are averages over processes; targets are summed
            dist.all_reduce(sums)
            sums[:-1] /= ddp.world
        elapsed = time.perf_counter() - started
        last = {
            "step": step,
            "epoch": epoch,
            # the cross-entropy alone (without the guided penalty): comparable to val_loss
            "loss": float(sums[:-2].mean()) / cfg.grad_accum,
            **{f"loss_cb{k}": float(v) / cfg.grad_accum for k, v in enumerate(sums[:-2])},
            **({"guided": float(sums[-2]) / cfg.grad_accum} if cfg.guided.weight > 0 else {}),
            "lr": lr,
            "grad_norm": float(grad_norm),
            "tokens_per_s": float(sums[-1]) / max(elapsed, 1e-9),
        }
        if minutes > 0 and step - start_step == 1:
            timing_start = time.perf_counter()
        if minutes > 0 and step - start_step == 1 + TIMED_STEPS:
            fit_into_minutes(cfg, step, minutes, session_start, timing_start, ddp, device, out)
            bar.total = cfg.max_steps
        finished = step >= cfg.max_steps or (stop_after > 0 and step - start_step >= stop_after)
        bar.update(1)
        if not ddp.master:
            if finished:
                break
            continue
        bar.set_postfix(loss=f"{last['loss']:.3f}")
        evaluate_now = valid_set is not None and (step % cfg.eval_every == 0 or finished)
        if evaluate_now:
            last["val_loss"], gain = validation_losses(raw_model, valid_set, cfg, device, True)  # type: ignore[arg-type]
            if gain is not None:
                last["val_text_gain"] = gain
            if last["val_loss"] < best.get("val_loss", float("inf")):
                best = {"step": step, "val_loss": last["val_loss"]}
                if exporter is not None:
                    exporter.export(raw_model, out / "bundle_best")
                else:  # (no bundle without a speaker encoder, a lent GPU's case: the weights)
                    config = config_to_dict(raw_model.config)
                    save_checkpoint(out / "best", raw_model.state_dict(), STATE_KIND, config)
                (out / "best.json").write_text(json.dumps(best) + "\n")
                tqdm.write(f"step {step}: best validation loss so far ({best['val_loss']:.4f})")
        if step % cfg.log_every == 0 or evaluate_now or finished:
            rows.append(dict(last))
            write_log(log_path, rows, model_config.n_codebooks)
        if step % cfg.ckpt_every == 0 or finished:
            where = {"step": step, "epoch": epoch, "position": pos}
            save_state(out, cfg, raw_model, parts, where)
            plot_losses(out / "loss.png", rows, f"codec LM: {out.name}")
            if exporter is not None:
                exporter.export(raw_model, out / "bundle")
            tqdm.write(f"step {step}: loss {last['loss']:.4f}; checkpoint saved")
        if finished:
            break
    bar.close()

    check = None
    if ddp.enabled:  # all processes must end with the same weights
        records: list[Any] = [None] * ddp.world
        dist.all_gather_object(
            records, {"fingerprint": fingerprint(raw_model), "first_batch": first_batch}
        )
        check = {"agree": len({r["fingerprint"] for r in records}) == 1, "ranks": records}
        if ddp.master:
            (out / "ddp_check.json").write_text(json.dumps(check, indent=1) + "\n")
        dist.barrier()
        teardown_distributed(ddp)
    return {
        "step": step,
        "start_step": start_step,
        "epoch": epoch,
        "position": pos,
        "history": rows,
        "last": last,
        "out": str(out),
        "bundle": str(out / "bundle") if exporter is not None else None,
        "model": raw_model,
        "optimizer": optimizer,
        "ddp_check": check,
        "rank": ddp.rank,
    }


def resume_or_new_config(out: str | Path, config_path: str | Path | None) -> TrainConfig:
    """The config of a run: the given file, else the one saved in an existing run folder."""
    saved = Path(out) / "train_config.json"
    if config_path is not None:
        return load_config(TrainConfig, config_path)
    if saved.is_file():
        return load_config(TrainConfig, saved)
    return TrainConfig()
