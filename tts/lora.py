"""Low-rank adapters (LoRA) for the linear layers of a model, in plain PyTorch.

A wrapped layer computes  y = W x + (alpha / rank) * B (A x)  with the base weight W frozen and
only A [rank, in] and B [out, rank] trained. B starts at zero, so a freshly wrapped model gives
exactly the base model's outputs. `merge` folds B A into W for adapter-free inference speed;
`unmerge` takes it out again. Adapters are saved on their own (adapter.safetensors +
adapter.json) and loaded onto a base model built from the same config.

    wrapped = apply_lora(lm, LoRAConfig(rank=8))     # freezes everything but the adapters
    ... train ...
    save_lora(lm, "runs/voice/adapter")
    plain_state = merged_state_dict(lm)              # for a plain CodecLM (bundle export)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from tts.config import config_from_dict, config_to_dict
from tts.errors import CheckpointError, ConfigError

ADAPTER_WEIGHTS = "adapter.safetensors"
ADAPTER_CONFIG = "adapter.json"
ADAPTER_KIND = "lora"


@dataclass
class LoRAConfig:
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    # Suffixes of the nn.Linear module names to adapt: in CodecLM the attention and MLP layers.
    targets: tuple[str, ...] = ("attn.qkv", "attn.proj", "mlp.gate", "mlp.up", "mlp.proj")

    def __post_init__(self) -> None:
        if int(self.rank) < 1:
            raise ConfigError(f"LoRA rank must be >= 1, got {self.rank}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"LoRA dropout must lie in [0, 1), got {self.dropout}")
        if not self.targets:
            raise ConfigError("LoRA needs at least one target module name")

    @property
    def scale(self) -> float:
        return self.alpha / self.rank


class LoRALinear(nn.Module):
    """An nn.Linear plus a trainable low-rank update; the base layer is frozen."""

    def __init__(self, base: nn.Linear, rank: int, scale: float, dropout: float = 0.0) -> None:
        super().__init__()
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        weight = base.weight
        like = {"dtype": weight.dtype, "device": weight.device}
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features, **like))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank, **like))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))  # as nn.Linear initialises
        self.scale = scale
        self.drop = nn.Dropout(dropout)
        self.merged = False

    def delta(self) -> torch.Tensor:
        """The update B A * scale, shaped like the base weight."""
        return (self.lora_b @ self.lora_a) * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        if self.merged:
            return y
        return y + (self.drop(x) @ self.lora_a.t().to(x.dtype)) @ self.lora_b.t().to(x.dtype) * (
            self.scale
        )

    @torch.no_grad()
    def merge(self) -> None:
        if not self.merged:
            self.base.weight += self.delta().to(self.base.weight.dtype)
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if self.merged:
            self.base.weight -= self.delta().to(self.base.weight.dtype)
            self.merged = False


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


def apply_lora(model: nn.Module, config: LoRAConfig) -> list[str]:
    """Wrap every nn.Linear whose name ends with a target; freeze all other parameters.

    Returns the wrapped module names. Raises ConfigError when nothing matches or the model
    already has adapters.
    """
    if lora_layers(model):
        raise ConfigError("this model already has LoRA adapters")
    names = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and name.endswith(config.targets)
    ]
    if not names:
        raise ConfigError(f"no nn.Linear module name ends with any of {list(config.targets)}")
    for p in model.parameters():
        p.requires_grad_(False)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        base = getattr(parent, child)
        setattr(parent, child, LoRALinear(base, config.rank, config.scale, config.dropout))
    return names


def merge_lora(model: nn.Module) -> None:
    for layer in lora_layers(model).values():
        layer.merge()


def unmerge_lora(model: nn.Module) -> None:
    for layer in lora_layers(model).values():
        layer.unmerge()


def adapter_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the adapter weights (A and B of every wrapped layer)."""
    return {k: v for k, v in model.state_dict().items() if k.endswith((".lora_a", ".lora_b"))}


def merged_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of the plain model with every update folded in (the model is unchanged).

    Keys lose the wrapper level ("attn.qkv.base.weight" -> "attn.qkv.weight"), so the result
    loads into a freshly built model of the same class.
    """
    layers = lora_layers(model)
    state = {}
    for key, value in model.state_dict().items():
        if key.endswith((".lora_a", ".lora_b")):
            continue
        owner, _, leaf = key.rpartition(".base.")
        if leaf and owner in layers:
            if leaf == "weight" and not layers[owner].merged:
                value = value + layers[owner].delta().to(value.dtype)
            key = f"{owner}.{leaf}"
        state[key] = value.detach().clone()
    return state


def save_lora(
    model: nn.Module, directory: str | Path, config: LoRAConfig, **metadata: object
) -> Path:
    """Write adapter.safetensors (adapter weights only) + adapter.json into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if any(layer.merged for layer in lora_layers(model).values()):
        raise ConfigError("unmerge the adapters before saving them")
    tensors = {k: v.detach().cpu().contiguous() for k, v in adapter_state_dict(model).items()}
    if not tensors:
        raise ConfigError("the model has no LoRA adapters to save")
    save_file(tensors, str(directory / ADAPTER_WEIGHTS))
    payload = {"kind": ADAPTER_KIND, "config": config_to_dict(config), **metadata}
    (directory / ADAPTER_CONFIG).write_text(json.dumps(payload, indent=2) + "\n")
    return directory


def read_lora_config(directory: str | Path) -> LoRAConfig:
    path = Path(directory) / ADAPTER_CONFIG
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; a LoRA adapter folder needs {ADAPTER_CONFIG}")
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from exc
    if payload.get("kind") != ADAPTER_KIND:
        raise CheckpointError(f"{path} is not a LoRA adapter (kind {payload.get('kind')!r})")
    return config_from_dict(LoRAConfig, payload["config"])


def load_lora(model: nn.Module, directory: str | Path) -> LoRAConfig:
    """Wrap `model` as the saved adapters were and load their weights; returns their config."""
    config = read_lora_config(directory)
    weights = Path(directory) / ADAPTER_WEIGHTS
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, FileNotFoundError) as exc:
        raise CheckpointError(f"cannot read {weights}: {exc}") from exc
    apply_lora(model, config)
    expected = set(adapter_state_dict(model))
    if set(tensors) != expected:
        missing, unexpected = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
        raise CheckpointError(
            f"{weights} does not fit this model: missing {missing[:6]}, unexpected {unexpected[:6]}"
        )
    try:
        model.load_state_dict(tensors, strict=False)
    except RuntimeError as exc:  # shape mismatch: adapters of another rank or model size
        raise CheckpointError(f"{weights} does not fit this model: {exc}") from exc
    return config
