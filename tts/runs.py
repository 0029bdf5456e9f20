"""Run machinery shared by the training loops (recipes/train_codec.py, tts/trainer.py).

    setup_distributed / setup_device / teardown_distributed   one process or torchrun
    cosine_lr                                                 warm-up + cosine schedule
    freeze_all_but                                            train_only= (a part of a model)
    latest_checkpoint / save_training_state / load_training_state / swap_in   resumable runs
    rng_state / restore_rng                                   random generators in a checkpoint
    plot_curves                                               loss.png

A run folder holds checkpoint/ (the model files, train_state.pt, train_config.json). It is
written as checkpoint.tmp/ and swapped in by renames, so a crash never leaves a half-written
checkpoint/: at worst the previous one survives as checkpoint.old/.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from tqdm import tqdm

from tts.checkpoint import safe_torch_load
from tts.config import save_config
from tts.errors import ConfigError

# ----- distributed ------------------------------------------------------------------------------


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    enabled: bool = False

    @property
    def master(self) -> bool:
        return self.rank == 0


def setup_distributed() -> DistInfo:
    """torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; without them this is one process."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, True)


def setup_device(setting: str, ddp: DistInfo) -> torch.device:
    """`setting` "auto" = cuda:LOCAL_RANK when available, else cpu; a CUDA device becomes current."""
    if setting != "auto":
        device = torch.device(setting)
    elif torch.cuda.is_available():
        device = torch.device(f"cuda:{ddp.local_rank}")
    else:
        device = torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def teardown_distributed(ddp: DistInfo) -> None:
    if ddp.enabled and dist.is_initialized():
        dist.destroy_process_group()


# ----- learning rate ----------------------------------------------------------------------------


def cosine_lr(step: int, base_lr: float, warmup: int, total: int, min_ratio: float = 0.1) -> float:
    """Linear warmup, then cosine decay to min_ratio * base_lr at `total` steps."""
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base_lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


# ----- what trains ------------------------------------------------------------------------------


def freeze_all_but(model: torch.nn.Module, names: str, what: str = "model", hint: str = "") -> int:
    """Freeze every parameter of `model` except those under the comma-separated dotted names
    (a module, "decoder.speaker_film", or a parameter, "null_speaker"); returns how many
    values stay trainable. A name that matches no parameter raises: a typo must not quietly
    train nothing, or everything."""
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    if not wanted:
        raise ConfigError("train_only names no module")
    params = dict(model.named_parameters())
    chosen: set[str] = set()
    for name in wanted:
        hits = {k for k in params if k == name or k.startswith(name + ".")}
        if not hits:
            parts = sorted({k.split(".")[0] for k in params})
            raise ConfigError(
                f"train_only: the {what} has no module or parameter {name!r} with weights "
                f"(its top-level parts: {', '.join(parts)}){hint}"
            )
        chosen |= hits
    model.requires_grad_(False)
    for name in chosen:
        params[name].requires_grad_(True)
    return sum(params[name].numel() for name in chosen)


# ----- checkpoints ------------------------------------------------------------------------------


def latest_checkpoint(out: Path) -> Path | None:
    # checkpoint.old only survives when a run died between the two renames of swap_in.
    for name in ("checkpoint", "checkpoint.old"):
        if (out / name / "train_state.pt").is_file():
            return out / name
    return None


def swap_in(tmp: Path, final: Path) -> None:
    """Replace `final` by the finished folder `tmp` with renames only."""
    old = final.with_name(final.name + ".old")
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def save_training_state(
    out: Path,
    cfg: Any,
    write_model: Callable[[Path], Any],
    state: dict[str, Any],
    parts: dict[str, Any],
) -> Path:
    """Write out/checkpoint atomically: `write_model(folder)` saves the weights, then
    train_state.pt gets `state` plus every part's state_dict and train_config.json the config."""
    tmp, final = out / "checkpoint.tmp", out / "checkpoint"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write_model(tmp)
    torch.save(
        {**state, **{name: p.state_dict() for name, p in parts.items()}}, tmp / "train_state.pt"
    )
    save_config(cfg, tmp / "train_config.json")
    swap_in(tmp, final)
    return final


def load_training_state(directory: Path, parts: dict[str, Any]) -> dict[str, Any]:
    """Load every part's state_dict from directory/train_state.pt; returns the whole state."""
    state = safe_torch_load(directory / "train_state.pt")  # weights_only=True
    for name, part in parts.items():
        part.load_state_dict(state[name])
    return state


def resumed_best(path: Path, start_step: int) -> dict[str, float]:
    """The {"step", and its score} of a run's best weights so far (`path`, e.g. out/best.json),
    or {} when there is none or it was written after the checkpoint the run resumes from."""
    best = json.loads(path.read_text()) if path.is_file() else {}
    return {} if best.get("step", 0) > start_step else best


def rng_state() -> dict[str, Any]:
    state = {"rng_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["rng_cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["rng_cpu"])
    if "rng_cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng_cuda"])


# ----- plots ------------------------------------------------------------------------------------


def plot_curves(
    path: Path, rows: list[dict[str, float]], panels: dict[str, list[str]], title: str
) -> Path:
    """One panel per entry of `panels` (y label -> row keys), one line per key, over rows' "step"."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        len(panels), 1, figsize=(8, max(4.0, 2.2 * len(panels))), sharex=True, squeeze=False
    )
    for ax, (label, keys) in zip(axes[:, 0], panels.items(), strict=True):
        drawn = 0
        for key in keys:
            points = [(r["step"], r[key]) for r in rows if key in r]
            if points:  # sparse series (validation) get markers so single points show
                ax.plot(*zip(*points, strict=True), "o-" if len(points) < 20 else "-", label=key)
                drawn += 1
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if drawn > 1:
            ax.legend()
    axes[-1, 0].set_xlabel("step")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


TIMED_STEPS = 10  # steps timed (after the first, which warms up) to fit a run into `minutes`
TIME_RESERVE = 0.15  # share of the time left kept for validation, checkpoints and bundles


def fit_into_minutes(
    cfg: Any,
    step: int,
    minutes: float,
    session_start: float,
    timing_start: float,
    ddp: DistInfo,
    device: torch.device,
    out: Path,
) -> None:
    """Lower cfg.max_steps to the steps the time left holds at the last TIMED_STEPS' pace
    (rank 0's figure on every rank, so all stop together), and save the lowered config.

    For a run given a few minutes of a lent GPU: its cosine schedule then ends when the time
    does instead of being cut off at full learning rate. `cfg` is any training config with
    `max_steps` (tts.trainer's or recipes/train_codec.py's); `timing_start` is when the timed
    steps began, `session_start` when the run did."""
    now = time.perf_counter()
    per_step = (now - timing_start) / TIMED_STEPS
    left = minutes * 60.0 - (now - session_start)
    fit = torch.tensor([step + max(1, int((1 - TIME_RESERVE) * left / per_step))], device=device)
    if ddp.enabled:
        dist.broadcast(fit, 0)
    if int(fit) < cfg.max_steps:
        cfg.max_steps = int(fit)
        if ddp.master:
            save_config(cfg, out / "train_config.json")
            tqdm.write(
                f"{per_step:.3f} s a step: max_steps {cfg.max_steps} fits the {minutes:g} "
                "minutes (the schedule ends there)"
            )
