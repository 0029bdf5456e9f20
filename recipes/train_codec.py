"""Train the Koe 25 Hz speech codec (tts.codecs.model) on a folder of audio or a manifest.

    python recipes/train_codec.py --data wavs/ --out runs/codec --preset small
    python recipes/train_codec.py --data train.jsonl --out runs/codec --preset tiny max_steps=2000 batch_size=8
    torchrun --nproc_per_node=4 recipes/train_codec.py --data ... --out ... --preset base adversarial=true

Data: a folder (searched recursively for wav/flac/ogg/mp3) or a JSONL manifest in the canonical
format of tts.data.manifest (only its audio paths are used). Each step draws random fixed-length
crops (resampled to 24 kHz).
Losses: multi-resolution log-mel and STFT reconstruction; with adversarial=true also
multi-period + multi-resolution STFT discriminators (hinge) and feature matching. FSQ needs
no codebook or commitment loss.
Outputs in --out: checkpoint/ (model.safetensors + config.json, loadable with
tts.codecs.load_codec(out_dir), plus train_state.pt and train_config.json), log.jsonl,
loss.png and samples/*.wav. Rerun the same command to resume from checkpoint/ (model,
optimizer, scheduler, step and RNG state; the data order is a function of the step).
Config: `key=value` overrides of TrainConfig, `model.key=value` for CodecConfig fields.

A decoder that also reads semantic units (`model.n_units`): give `units_from=` a token shard
folder with units (recipes/tokenize_corpus.py, then recipes/semantic_units.py), made with the
codec in init_from. Its train-split utterances are cropped with their codes and units, so the
encoder does not run (train_encoder=false); `unit_drop` of the crops get no units, so codes
alone still decode:

    python recipes/train_codec.py --out runs/codec_units --preset small \
        model.decoder_kind=source_filter model.n_units=500 units_from=runs/tokens \
        init_from=tts/pretrained/default/codec train_encoder=false batch_size=8

A decoder that also reads the voice's speaker embedding (`model.speaker_dim`, the shards'
embedding size): with `units_from=`, each crop comes with the embedding of another utterance
of its voice (`ShardCrops(speakers=True)`), and `speaker_drop` of the crops with none:

    python recipes/train_codec.py --out runs/codec_speaker --preset small \
        model.decoder_kind=source_filter model.n_units=500 model.speaker_dim=256 \
        units_from=runs/tokens init_from=tts/pretrained/default/codec train_encoder=false

`train_only=decoder.speaker_film` (any comma-separated module names) trains those modules
alone and keeps every other weight as init_from has it: the FiLM then learns the voice on top
of a decoder whose rendering of the sounds does not move.

Where the corpus is not (a lent GPU, recipes/device.sh): `audio_from=` an audio pack of the
units_from shards' audio (recipes/pack_audio.py: Opus, with the pitch targets computed when it
was packed) replaces the audio paths the shards recorded. `--model-of DIR` takes the model
config from a codec checkpoint (the one given as init_from) instead of a preset, and
`--minutes M` fits the run into M minutes (after timing its first steps, max_steps is lowered
to what the time holds, so the schedule ends in time):

    python recipes/train_codec.py --out runs/dec --model-of tts/pretrained/default/codec \
        init_from=tts/pretrained/default/codec train_encoder=false units_from=runs/tokens \
        audio_from=runs/audio_pack --minutes 7 batch_size=32 device=cuda

`valid_from=` a lossless pack of held-out utterances of the same shards (pack_audio.py
--splits valid --kbps 0) measures the decoder on them as synthesis decodes (codes and units,
its own pitch) at step 0, every valid_every steps and at the end: `val_mel` in the log, and
the best weights so far in best/ (with best.json). A decoder trained on a small pack memorises
it; this shows when, and keeps the weights from before.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from tts.audio import load_audio, resample, save_audio
from tts.checkpoint import load_checkpoint, read_checkpoint_config
from tts.codecs.audio_pack import AudioPack
from tts.codecs.data import RandomCrops, ShardCrops, StepSampler, list_audio_files
from tts.codecs.discriminators import (
    Discriminators,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
)
from tts.codecs.koe import KoeCodec, find_checkpoint_dir
from tts.codecs.losses import MultiResolutionLoss
from tts.codecs.model import CodecConfig, CodecModel, preset_config, small_config
from tts.codecs.source_filter import (
    SourceFilterDecoder,
    init_head_from_istft,
    pitch_losses,
    pitch_targets,
)
from tts.codecs.weights import load_weights_into
from tts.config import (
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)
from tts.data.shards import ShardDataset
from tts.errors import ConfigError
from tts.forced_align import read_phoneme_frames
from tts.reader import UnitReader
from tts.runs import (
    TIMED_STEPS,
    cosine_lr,
    fit_into_minutes,
    freeze_all_but,
    latest_checkpoint,
    load_training_state,
    plot_curves,
    restore_rng,
    resumed_best,
    rng_state,
    save_training_state,
    setup_device,
    setup_distributed,
    teardown_distributed,
)


@dataclass
class TrainConfig:
    data: str = ""  # folder of audio files or JSONL manifest
    model: CodecConfig = field(default_factory=small_config)
    seed: int = 1337
    batch_size: int = 16  # per process
    crop_seconds: float = 1.92  # rounded to whole codec frames
    max_steps: int = 100_000
    lr: float = 5e-4
    min_lr_ratio: float = 0.1  # cosine decay ends at lr * min_lr_ratio
    warmup_steps: int = 500
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    mel_weight: float = 15.0
    stft_weight: float = 1.0
    adversarial: bool = False
    adv_start_step: int = 0  # reconstruction-only warm-up before the discriminators join
    adv_weight: float = 1.0
    feature_weight: float = 2.0
    disc_channels: int = 32
    disc_lr: float = 2e-4
    # Start from another codec checkpoint's weights (a folder or run). Tensors whose names and
    # shapes match are copied; an istft head becomes a source-filter head's gains
    # (source_filter.init_head_from_istft). The run's own model config still applies.
    init_from: str = ""
    # False: only the decoder trains. The encoder and FSQ stay as loaded, so codes (and any LM
    # trained on them) stay valid: use it to improve or swap the decoder of a shipped codec.
    train_encoder: bool = True
    # Train only these modules (comma-separated names inside the codec model, e.g.
    # "decoder.speaker_film") and freeze everything else: a new part learns to work with the
    # trained decoder as it is, so what that decoder already renders well stays as it was.
    train_only: str = ""
    # A token shard folder with semantic units: train a decoder that reads them (see the
    # module doc); model.n_units must equal their count. Replaces `data` as the crops' source.
    units_from: str = ""
    # An audio pack (tts.codecs.audio_pack, recipes/pack_audio.py) holding the units_from
    # shards' audio: crops read it instead of the paths the shards recorded (a machine without
    # the corpus), and the source-filter decoder's pitch targets come from it.
    audio_from: str = ""
    # An audio pack of held-out utterances of the units_from shards (their valid split): every
    # valid_every steps (and at step 0 and the end) the decoder renders each whole utterance
    # from its codes and units, and the log-mel distance to its audio is logged as val_mel;
    # the best so far is kept in best/ (a run that only memorises its crops shows here).
    valid_from: str = ""
    valid_every: int = 500
    unit_drop: float = 0.2  # share of crops decoded without units (the "no unit" entry)
    unit_lr_mult: float = 10.0  # the unit table starts at zero: a faster rate to get going
    speaker_drop: float = 0.2  # model.speaker_dim > 0: share of crops decoded without a speaker
    # A mel reader (tts.reader, e.g. a model bundle's reader/ folder) as a judge of what is
    # said: its phoneme posteriors of each decoded crop are pulled towards its posteriors of
    # the real crop (KL per frame, in the crop's language, times content_weight). The mel
    # and STFT distances weigh a blurred consonant no more than any other spectral detail;
    # this weighs what tells phonemes apart. Needs units_from (the crops' languages).
    content_reader: str = ""
    content_weight: float = 1.0
    # Phoneme frames of the units_from shards (recipes/align_phonemes.py; several files
    # comma-separated, e.g. a new folder aligned on its own): the decoder also
    # reads the text, per frame (model.n_phonemes = the LM's inventory size); phoneme_drop of
    # the crops go without (the "none" entry: codes whose text is not known).
    phonemes_from: str = ""
    phoneme_drop: float = 0.2
    f0_weight: float = 1.0  # source-filter decoder: F0 L1 (semitones) on voiced frames
    voicing_weight: float = 1.0  # source-filter decoder: voicing cross-entropy
    num_workers: int = 2
    log_every: int = 10
    ckpt_every: int = 1000
    sample_every: int = 1000
    sample_seconds: float = 4.0
    device: str = "auto"  # auto = cuda:LOCAL_RANK when available, else cpu


# ---- setup helpers -----------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder of audio files or JSONL manifest")
    parser.add_argument("--out", required=True, help="run folder (checkpoints, logs, samples)")
    parser.add_argument(
        "--preset", choices=["tiny", "small", "base"], help="model size (default small)"
    )
    parser.add_argument(
        "--model-of",
        help="take the model config from this codec (a checkpoint folder or run), e.g. the one "
        "given as init_from; model.* overrides still apply",
    )
    parser.add_argument(
        "--stop-after",
        type=int,
        default=0,
        help="stop after N steps this session (with a checkpoint); rerun to go on",
    )
    parser.add_argument(
        "--minutes",
        type=float,
        default=0.0,
        help="fit the run into M minutes (a lent GPU): after timing its first steps, max_steps "
        "is lowered to what the time holds, so the learning-rate schedule ends in time",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (logs of remote runs)"
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        help="key=value config overrides, e.g. batch_size=8 model.n_codebooks=2",
    )
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace, saved: Path | None) -> TrainConfig:
    """Preset (or the resumed run's config) -> CLI overrides -> --data."""
    if args.preset and args.model_of:
        raise ConfigError("give --preset or --model-of, not both")
    if saved is not None and args.preset is None and args.model_of is None:
        cfg = load_config(TrainConfig, saved)
    elif args.model_of:
        config = read_checkpoint_config(find_checkpoint_dir(args.model_of))["config"]
        cfg = TrainConfig(model=config_from_dict(CodecConfig, config))
        if cfg.model.phoneme_weight != 1.0:  # a decoding setting (the shipped codec's is 1.5)
            print(
                f"note: {args.model_of} decodes with phoneme_weight {cfg.model.phoneme_weight}; "
                "the tables train at 1 (set it again in the trained codec's config.json)"
            )
            cfg.model.phoneme_weight = 1.0
    else:
        cfg = TrainConfig(model=preset_config(args.preset or "small"))
    cfg = apply_overrides(cfg, args.overrides)
    if args.data:
        cfg.data = args.data
    if not cfg.data and not cfg.units_from:
        raise ConfigError("no training data: pass --data FOLDER_OR_MANIFEST")
    cfg.model.validate()
    if cfg.model.phoneme_weight != 1.0:
        raise ConfigError(
            "model.phoneme_weight is a decoding setting: train at 1 and set it in the trained "
            "codec's config.json"
        )
    check_units(cfg)
    if saved is not None:
        before = load_config(TrainConfig, saved).model
        if config_to_dict(before) != config_to_dict(cfg.model):
            raise ConfigError(
                f"{saved.parent.parent} holds a run with a different model config; resume with the same "
                "preset and model.* overrides, or use a new --out"
            )
    return cfg


def check_units(cfg: TrainConfig) -> None:
    """units_from and model.n_units go together, with a frozen encoder and the shards' count."""
    if not cfg.units_from:
        if cfg.audio_from:
            raise ConfigError(
                "audio_from holds the audio of token shards: give them as units_from="
            )
        if cfg.valid_from:
            raise ConfigError("valid_from needs units_from: the shards hold the utterances' codes")
        if cfg.model.n_units:
            raise ConfigError("model.n_units > 0 needs units_from=<token shards with units>")
        if cfg.model.speaker_dim:
            raise ConfigError(
                "model.speaker_dim > 0 needs units_from=<token shards>: their speaker "
                "embeddings are what the decoder reads"
            )
        check_phonemes(cfg)
        return
    from tts.data.shards import semantic_info, shard_roots

    for root in shard_roots(cfg.units_from):  # one folder or several ("a,b")
        info = semantic_info(root)
        if info is None:
            raise ConfigError(
                f"{root} has no semantic units: add them with recipes/semantic_units.py"
            )
        if cfg.model.n_units != info["n_clusters"]:
            raise ConfigError(
                f"{root} holds {info['n_clusters']} semantic units: set "
                f"model.n_units={info['n_clusters']} (got {cfg.model.n_units})"
            )
    if cfg.train_encoder:
        raise ConfigError(
            "units_from decodes the shards' codes, so the encoder cannot train: "
            "set train_encoder=false and init_from= the codec that made them"
        )
    if not 0.0 <= cfg.unit_drop <= 1.0:
        raise ConfigError(f"unit_drop must lie in [0, 1], got {cfg.unit_drop}")
    check_phonemes(cfg)


def check_phonemes(cfg: TrainConfig) -> None:
    """phonemes_from and model.n_phonemes go together, with units_from's shards."""
    if bool(cfg.phonemes_from) != bool(cfg.model.n_phonemes):
        raise ConfigError(
            "phonemes_from=<recipes/align_phonemes.py's file> and model.n_phonemes=<the LM's "
            "inventory size> go together"
        )
    if cfg.phonemes_from and not cfg.units_from:
        raise ConfigError("phonemes_from needs units_from: the frames belong to its utterances")
    if not 0.0 <= cfg.phoneme_drop <= 1.0:
        raise ConfigError(f"phoneme_drop must lie in [0, 1], got {cfg.phoneme_drop}")


def load_content_reader(cfg: TrainConfig, device: torch.device) -> UnitReader | None:
    """The frozen mel reader of `content_reader` (None without one), checked against the run."""
    if not cfg.content_reader:
        return None
    if not cfg.units_from:
        raise ConfigError(
            "content_reader needs units_from=<token shards>: they give each crop's language"
        )
    if not (cfg.content_weight > 0 and math.isfinite(cfg.content_weight)):
        raise ConfigError(f"content_weight must be a finite number > 0, got {cfg.content_weight}")
    reader = UnitReader.load(cfg.content_reader, device=device)
    if reader.config.source != "mel":
        raise ConfigError(
            f"content_reader {cfg.content_reader} reads {reader.config.source}, not audio: give a mel reader"
        )
    if reader.config.sample_rate != cfg.model.sample_rate:
        raise ConfigError(
            f"content_reader {cfg.content_reader} hears {reader.config.sample_rate} Hz audio; "
            f"this codec makes {cfg.model.sample_rate} Hz"
        )
    return reader.eval().requires_grad_(False)


def content_loss(
    reader: UnitReader, recon: torch.Tensor, wav: torch.Tensor, language: torch.Tensor
) -> torch.Tensor:
    """Mean over frames of KL(reader's posteriors of `wav` || of `recon`), both [B, T] audio.

    The reader is frozen and in eval mode (no dropout), so the real crop's posteriors are a
    fixed target and the gradient reaches only the decoder, through the decoded audio."""
    mel_real, mel_fake = reader.mel_batch(wav), reader.mel_batch(recon)
    lengths = torch.full((len(wav),), mel_real.shape[-1], device=wav.device)
    with torch.no_grad():
        target, _ = reader(mel_real, lengths, language)
    predicted, _ = reader(mel_fake, lengths, language)
    return F.kl_div(predicted, target, reduction="none", log_target=True).sum(-1).mean()


class WithPitch(Dataset):
    """Crops plus their pitch targets per STFT frame: (wav, ..., F0 Hz, voiced 0/1), where
    `...` is whatever else the crops carry (`ShardCrops`: codes and units)."""

    def __init__(self, crops: RandomCrops | ShardCrops, hop: int) -> None:
        self.crops, self.hop = crops, hop

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        item = self.crops[index]
        item = item if isinstance(item, tuple) else (item,)
        if isinstance(self.crops, ShardCrops) and self.crops.audio is not None:
            return *item, *self.crops.pitch(index, self.hop)  # computed when it was packed
        f0, voiced = pitch_targets(item[0].numpy(), self.crops.sample_rate, self.hop)
        return *item, torch.from_numpy(f0), torch.from_numpy(voiced)


def init_weights(model: CodecModel, source: str) -> None:
    """Copy `source`'s tensors whose names and shapes match `model`'s (see TrainConfig)."""
    weights, _ = load_checkpoint(find_checkpoint_dir(source), kind="koe-codec")
    own = model.state_dict()
    matched = {k: v.float() for k, v in weights.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(matched, strict=False)
    if isinstance(model.decoder, SourceFilterDecoder) and "decoder.head.weight" not in matched:
        head = {k: weights[f"decoder.head.{k}"].float() for k in ("weight", "bias")}
        init_head_from_istft(model.decoder, head)
        matched.update({f"decoder.head.{k}": v for k, v in head.items()})
    fresh = sorted(set(own) - set(matched))
    print(f"initialised from {source}: {len(matched)} tensors copied, fresh: {fresh or 'none'}")


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to min_lr_ratio at max_steps (a LambdaLR factor)."""
    return cosine_lr(step, 1.0, cfg.warmup_steps, cfg.max_steps, cfg.min_lr_ratio)


def split(outputs: list, n: int) -> tuple[list, list]:
    """Discriminator outputs on cat([real, fake]) -> (real outputs, fake outputs)."""
    real = [(logits[:n], [f[:n] for f in feats]) for logits, feats in outputs]
    fake = [(logits[n:], [f[n:] for f in feats]) for logits, feats in outputs]
    return real, fake


# ---- checkpoints, samples, plots ---------------------------------------------------------


def save_state(
    out: Path, cfg: TrainConfig, step: int, parts: dict[str, Any], model: CodecModel
) -> None:
    """out/checkpoint: the codec (loadable with load_codec), step, RNG and optimizer states."""
    codec = KoeCodec(model, name=f"koe:{out.name}")
    state = {"step": step, **rng_state()}
    save_training_state(out, cfg, lambda d: codec.save(d, step=step), state, parts)


def load_state(directory: Path, parts: dict[str, Any], model: CodecModel) -> int:
    weights, _ = load_checkpoint(directory, kind="koe-codec")
    load_weights_into(model, weights, str(directory))
    state = load_training_state(directory, parts)
    restore_rng(state)
    return int(state["step"])


def evaluate(
    model: CodecModel, reference: torch.Tensor, recon_loss: MultiResolutionLoss
) -> tuple[torch.Tensor, float]:
    """Reconstruct the fixed reference clip: (audio, its log-mel distance to the original)."""
    model.eval()
    with torch.no_grad():
        recon = model(reference[None, None])[0]
        mel = recon_loss(recon, reference[None])["mel"].item()
    model.train()
    return recon[0], mel


def validation_set(
    cfg: TrainConfig, device: torch.device, phonemes: Mapping[str, np.ndarray] | None = None
) -> list[tuple[torch.Tensor | None, ...]]:
    """(codes [K, F], units [F], speaker [D] or None, audio [T], phonemes [2, F] or None) of
    every utterance of the valid_from pack, found in the units_from shards by the audio path
    each shard recorded. `phonemes`: the phonemes_from frames when already read (by main)."""
    check_units(cfg)
    if phonemes is None and cfg.phonemes_from:
        phonemes = read_phoneme_frames(cfg.phonemes_from)
    pack = AudioPack(cfg.valid_from)
    items = ShardDataset(cfg.units_from, semantic=True)
    where = {items.audio_path(k): k for k in range(len(items))}
    keys = pack.keys()
    if missing := [key for key in keys if key not in where]:
        raise ConfigError(
            f"{len(missing)} utterances of {cfg.valid_from} are not in {cfg.units_from} "
            f"(e.g. {missing[0]}): pack the validation audio from the same shards"
        )
    chosen = {key: items[where[key]] for key in keys}  # each item (its codes) read once
    if overlap := [key for key in keys if chosen[key].split == "train"]:
        raise ConfigError(
            f"{cfg.valid_from} holds {len(overlap)} train-split utterances (e.g. {overlap[0]}): "
            "validation must be held out (pack_audio.py --splits valid)"
        )
    embeddings = items.speaker_embeddings() if cfg.model.speaker_dim > 0 else None
    if phonemes is not None and (missing := [key for key in keys if key not in phonemes]):
        raise ConfigError(
            f"{len(missing)} utterances of {cfg.valid_from} have no phoneme frames in "
            f"{cfg.phonemes_from} (e.g. {missing[0]}): align the valid split too"
        )
    valid = []
    for key in keys:
        codes = chosen[key].codes
        speaker = None if embeddings is None else embeddings[where[key]].to(device)
        audio = torch.from_numpy(np.ascontiguousarray(pack.audio(key), np.float32))
        text = None if phonemes is None else torch.from_numpy(phonemes[key]).to(device)
        valid.append((codes[1:].to(device), codes[0].to(device), speaker, audio.to(device), text))
    return valid


def validate(
    model: CodecModel,
    valid: list[tuple[torch.Tensor | None, ...]],
    recon_loss: MultiResolutionLoss,
) -> float:
    """The mean log-mel distance of the decoder's rendering of each validation utterance (as
    synthesis decodes: codes, units and phonemes alone, its own pitch) to the utterance's
    audio."""
    model.eval()
    distances = []
    with torch.no_grad():
        for codes, units, speaker, audio, phonemes in valid:
            recon = model.decode(
                codes[None], units[None], None if speaker is None else speaker[None],
                None if phonemes is None else phonemes[None],
            )  # fmt: skip
            n = min(recon.shape[-1], len(audio))
            distances.append(recon_loss(recon[:, :n], audio[None, :n])["mel"].item())
    model.train()
    return sum(distances) / len(distances)


def write_sample(
    out: Path, reference: torch.Tensor, recon: torch.Tensor, step: int, sr: int
) -> None:
    (out / "samples").mkdir(exist_ok=True)
    if not (out / "samples" / "reference.wav").exists():
        save_audio(out / "samples" / "reference.wav", reference.cpu().numpy(), sr)
    save_audio(out / "samples" / f"step_{step:07d}.wav", recon.clamp(-1, 1).cpu().numpy(), sr)


def plot_losses(out: Path, history: list[dict[str, float]]) -> None:
    keys = ("loss", "mel", "stft", "eval_mel", "val_mel", "adv", "feat", "disc", "f0", "voicing")
    panels = {k: [k] for k in keys if any(k in h for h in history)}
    plot_curves(out / "loss.png", history, panels, f"codec training: {out.name}")


# ---- training ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    session_start = time.perf_counter()
    if not (math.isfinite(args.minutes) and args.minutes >= 0):
        raise ConfigError(f"--minutes must be a non-negative number, got {args.minutes}")
    out = Path(args.out)
    resume_dir = latest_checkpoint(out)
    cfg = build_config(args, resume_dir / "train_config.json" if resume_dir else None)

    # Distributed: torchrun sets RANK/WORLD_SIZE/LOCAL_RANK; without them this is one process.
    ddp = setup_distributed()
    rank, world, local_rank = ddp.rank, ddp.world, ddp.local_rank
    device = setup_device(cfg.device, ddp)
    master = ddp.master

    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    sr, hop = cfg.model.sample_rate, cfg.model.hop
    crop = max(1, round(cfg.crop_seconds * sr / hop)) * hop
    if cfg.train_only and not cfg.init_from and resume_dir is None:
        raise ConfigError("train_only trains a part of a trained codec: give init_from=")
    if not cfg.train_encoder and not cfg.init_from and resume_dir is None:
        raise ConfigError(
            "train_encoder=false freezes the encoder: give init_from=<a trained codec>, or a "
            "frozen random encoder makes codes that carry nothing"
        )
    model = CodecModel(cfg.model)
    if cfg.init_from and resume_dir is None:
        init_weights(model, cfg.init_from)
    if not cfg.train_encoder:
        for module in (model.encoder, model.pre_fsq_norm, model.to_fsq):
            module.requires_grad_(False)
    if cfg.train_only:
        hint = "; is the part it names switched on in the model config, e.g. model.speaker_dim?"
        freeze_all_but(model, cfg.train_only, "codec", hint)
    model = model.to(device)
    reader = load_content_reader(cfg, device)
    source_filter = cfg.model.decoder_kind == "source_filter"
    recon_loss = MultiResolutionLoss(sr).to(device)
    trained = [p for p in model.parameters() if p.requires_grad]
    # The unit table, the speaker's FiLM and the phoneme tables start at zero: a faster rate.
    unit_params = [
        p
        for module in (
            model.decoder.unit_embedding,
            model.decoder.speaker_film,
            model.decoder.phoneme_embedding,
        )
        if module is not None
        for p in module.parameters()
    ]
    unit_ids = {id(p) for p in unit_params}
    groups = [{"params": [p for p in trained if id(p) not in unit_ids]}]
    unit_params = [p for p in unit_params if p.requires_grad]  # (train_only may freeze them)
    if unit_params:
        groups.append({"params": unit_params, "lr": cfg.lr * cfg.unit_lr_mult})
    groups = [g for g in groups if g["params"]]  # train_only: maybe the fast group alone
    opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.8, 0.99), weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg))
    parts: dict[str, Any] = {"optimizer": opt, "scheduler": sched}
    discs = None
    if cfg.adversarial:
        discs = Discriminators(channels=cfg.disc_channels).to(device)
        opt_d = torch.optim.AdamW(discs.parameters(), lr=cfg.disc_lr, betas=(0.8, 0.99))
        sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, lambda s: lr_factor(s, cfg))
        parts.update({"discriminators": discs, "disc_optimizer": opt_d, "disc_scheduler": sched_d})

    start_step = 0
    if resume_dir is not None:
        start_step = load_state(resume_dir, parts, model)
        if master:
            print(f"resuming {out} from step {start_step}")
    raw_model = model
    if ddp.enabled:
        ids = [local_rank] if device.type == "cuda" else None
        model = DistributedDataParallel(model, device_ids=ids)
        if discs is not None:
            discs = DistributedDataParallel(discs, device_ids=ids)

    speakers = cfg.model.speaker_dim > 0
    # read once, for the crops and the validation set
    phoneme_frames = read_phoneme_frames(cfg.phonemes_from) if cfg.phonemes_from else None
    if cfg.units_from:
        pack = AudioPack(cfg.audio_from) if cfg.audio_from else None
        if pack is not None and source_filter and pack.hop != cfg.model.istft_hop:
            raise ConfigError(
                f"the audio pack {cfg.audio_from} holds pitch every {pack.hop} samples; this "
                f"decoder's frames are {cfg.model.istft_hop}: pack it again with that hop"
            )
        dataset = ShardCrops(
            cfg.units_from, sr, hop, crop // hop, seed=cfg.seed, speakers=speakers, audio=pack,
            languages=reader is not None,
            phonemes=phoneme_frames,
        )  # fmt: skip
        if speakers and dataset.embeddings.shape[1] != cfg.model.speaker_dim:
            raise ConfigError(
                f"{cfg.units_from} holds {dataset.embeddings.shape[1]}-value speaker "
                f"embeddings: set model.speaker_dim={dataset.embeddings.shape[1]}"
            )
        sample_key = dataset.items.audio_path(dataset.usable[0])  # the fixed sample clip
        files = [Path(sample_key)]
        n_items = len(dataset.usable)
    else:
        pack = None
        files = list_audio_files(cfg.data)
        dataset = RandomCrops(files, sr, crop, seed=cfg.seed)
        n_items = len(files)
    if source_filter:
        dataset = WithPitch(dataset, cfg.model.istft_hop)
    loader = DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=StepSampler(cfg.batch_size, start_step, rank, world),
        num_workers=cfg.num_workers,
        pin_memory=device.type == "cuda",
    )
    batches = iter(loader)

    history: list[dict[str, float]] = []
    log_path = out / "log.jsonl"
    if master:
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / "train_config.json")
        if log_path.exists():  # keep the log up to the checkpoint we resumed from
            history = [json.loads(x) for x in log_path.read_text().splitlines() if x.strip()]
            history = [h for h in history if h["step"] <= start_step]
            log_path.write_text("".join(json.dumps(h) + "\n" for h in history))
        if pack is not None:
            wav = pack.audio(sample_key)
        else:
            wav, file_sr = load_audio(files[0])
            wav = resample(wav, file_sr, sr)
        reference = torch.from_numpy(wav[: int(cfg.sample_seconds * sr)].copy())
        reference = torch.nn.functional.pad(reference, (0, (-len(reference)) % hop)).to(device)
        n_params = sum(p.numel() for p in raw_model.parameters())
        print(
            f"codec {n_params / 1e6:.2f} M params, {cfg.model.frame_rate:g} frames/s x {cfg.model.n_codebooks} "
            f"codebooks of {raw_model.fsq.codebook_size}; {n_items} files; world size {world}; device {device}"
        )

        valid = validation_set(cfg, device, phoneme_frames) if cfg.valid_from else []
        best_path = out / "best.json"  # the step and val_mel of best/, kept across resumes
        best = resumed_best(best_path, start_step)

        def keep_if_best(step: int, val_mel: float) -> None:
            nonlocal best
            if val_mel < best.get("val_mel", math.inf):
                best = {"step": step, "val_mel": val_mel}
                KoeCodec(raw_model, name=f"koe:{out.name}").save(out / "best", step=step)
                best_path.write_text(json.dumps(best) + "\n")

        if start_step == 0:  # where the loss starts, on a fixed clip (training losses are noisy)
            history = [{"step": 0, "eval_mel": evaluate(raw_model, reference, recon_loss)[1]}]
            if valid:  # and on the held-out utterances: the mark training has to beat
                history[0]["val_mel"] = validate(raw_model, valid, recon_loss)
                keep_if_best(0, history[0]["val_mel"])
                print(
                    f"{len(valid)} validation utterances: val_mel {history[0]['val_mel']:.4f} at step 0"
                )
            log_path.write_text(json.dumps(history[0]) + "\n")

    model.train()
    pbar = tqdm(
        range(start_step, cfg.max_steps),
        initial=start_step,
        total=cfg.max_steps,
        disable=not master or args.no_progress,
    )
    last: dict[str, float] = {}
    for step in pbar:
        batch = next(batches)
        batch = (
            [t.to(device, non_blocking=True) for t in batch]
            if source_filter or cfg.units_from
            else [batch.to(device, non_blocking=True)]
        )
        wav = batch[0]
        codes = units = speaker = f0_source = phonemes = None
        if cfg.units_from:
            codes, units = batch[1], batch[2].clone()
            # Some crops without units: the "no unit" entry learns to decode codes alone.
            units[torch.rand(len(units), device=device) < cfg.unit_drop] = cfg.model.n_units
        if cfg.phonemes_from:  # after the speaker and the language, when the crops carry them
            phonemes = batch[3 + speakers + (reader is not None)].clone()
            phonemes[torch.rand(len(phonemes), device=device) < cfg.phoneme_drop] = (
                cfg.model.n_phonemes
            )
        if speakers:  # and some without a speaker (zeros = none), for codes from no voice
            speaker = batch[3].clone()
            speaker[torch.rand(len(speaker), device=device) < cfg.speaker_drop] = 0.0
        if source_filter:  # measured pitch drives the source (teacher forcing) and is a target
            f0, voiced = batch[-2], batch[-1]
            f0_source = f0.clamp(cfg.model.f0_min_hz, cfg.model.f0_max_hz)
            recon, _, controls = model(
                wav[:, None], f0_source, voiced, codes=codes, units=units, speaker=speaker,
                phonemes=phonemes,
            )  # fmt: skip
        else:
            recon, _, controls = model(
                wav[:, None], codes=codes, units=units, speaker=speaker, phonemes=phonemes
            )
        rec = recon_loss(recon, wav)
        loss = cfg.mel_weight * rec["mel"] + cfg.stft_weight * rec["stft"]
        logs = {"mel": rec["mel"].item(), "stft": rec["stft"].item()}
        if source_filter:
            pitch = pitch_losses(controls, f0, voiced)
            loss = loss + cfg.f0_weight * pitch["f0"] + cfg.voicing_weight * pitch["voicing"]
            logs.update(f0=pitch["f0"].item(), voicing=pitch["voicing"].item())
        if reader is not None:  # the language follows the speaker embedding in each crop
            content = content_loss(reader, recon, wav, batch[4 if speakers else 3])
            loss = loss + cfg.content_weight * content
            logs["content"] = content.item()

        if discs is not None and step >= cfg.adv_start_step:
            # Discriminator step on real vs detached fake, in one forward (DDP-friendly).
            real, fake = split(discs(torch.cat([wav, recon.detach()])), len(wav))
            loss_d = discriminator_loss(real, fake)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            torch.nn.utils.clip_grad_norm_(discs.parameters(), cfg.grad_clip * 10)
            opt_d.step()
            sched_d.step()
            # Generator terms against the updated discriminators.
            real, fake = split(discs(torch.cat([wav, recon])), len(wav))
            adv, feat = generator_loss(fake), feature_matching_loss(real, fake)
            loss = loss + cfg.adv_weight * adv + cfg.feature_weight * feat
            logs.update(disc=loss_d.item(), adv=adv.item(), feat=feat.item())

        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(trained, cfg.grad_clip)
        opt.step()
        sched.step()
        done = step + 1
        if args.minutes > 0 and done - start_step == 1:  # the first step warms up: not timed
            timing_start = time.perf_counter()
        if args.minutes > 0 and done - start_step == 1 + TIMED_STEPS:
            fit_into_minutes(cfg, done, args.minutes, session_start, timing_start, ddp, device, out)
            pbar.total = cfg.max_steps
        last = {
            "step": done,
            "loss": loss.item(),
            **logs,
            "grad_norm": float(grad_norm),
            "lr": sched.get_last_lr()[0],
        }

        finished = done == cfg.max_steps or (
            args.stop_after > 0 and done - start_step >= args.stop_after
        )
        if not master:
            if finished:
                break
            continue
        pbar.set_postfix(loss=f"{last['loss']:.3f}", mel=f"{logs['mel']:.3f}")
        if done % cfg.sample_every == 0 or finished:
            recon_ref, last["eval_mel"] = evaluate(raw_model, reference, recon_loss)
            write_sample(out, reference, recon_ref, done, sr)
        if valid and (done % cfg.valid_every == 0 or finished):
            last["val_mel"] = validate(raw_model, valid, recon_loss)
            keep_if_best(done, last["val_mel"])
        if done % cfg.log_every == 0 or finished or "eval_mel" in last or "val_mel" in last:
            history.append(last)
            with log_path.open("a") as f:
                f.write(json.dumps(last) + "\n")
        if done % cfg.sample_every == 0 or finished:
            plot_losses(out, history)
        if done % cfg.ckpt_every == 0 or finished:
            save_state(out, cfg, done, parts, raw_model)
            held_out = (
                f", val_mel {last['val_mel']:.4f} (best {best['val_mel']:.4f} at step {best['step']})"
                if "val_mel" in last
                else ""
            )
            tqdm.write(
                f"step {done}: loss {last['loss']:.4f} (mel {logs['mel']:.4f}){held_out}; checkpoint saved"
            )
        if finished:
            break
    pbar.close()
    teardown_distributed(ddp)
    return {
        "step": last.get("step", start_step),
        "start_step": start_step,
        "history": history,
        "out": str(out),
    }


if __name__ == "__main__":
    main(sys.argv[1:])
