"""Checkpoints on disk: a directory with `model.safetensors` + `config.json`.

`config.json` holds {"kind": ..., "config": {...}, plus any extra metadata}. Weights are only
ever read with safetensors; `safe_torch_load` exists for the rare `.pt` file (e.g. training
state we wrote ourselves) and refuses pickles unless the caller explicitly allows it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from tts.errors import CheckpointError

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


def save_checkpoint(
    directory: str | Path,
    state_dict: dict[str, torch.Tensor],
    kind: str,
    config: dict[str, Any],
    **metadata: Any,
) -> Path:
    """Write `state_dict` and its config into `directory` (created if needed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # safetensors refuses shared or non-contiguous storage: save independent copies.
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    save_file(tensors, str(directory / WEIGHTS_NAME))
    payload = {"kind": kind, "config": config, **metadata}
    (directory / CONFIG_NAME).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return directory


def halve_parameters(module: torch.nn.Module, weights: Path) -> int:
    """Rewrite `weights` with `module`'s float32 parameters as float16; returns bytes saved."""
    names = {name for name, _ in module.named_parameters()}
    tensors = load_file(str(weights))
    before = weights.stat().st_size
    for name, tensor in tensors.items():
        if name in names and tensor.dtype == torch.float32:
            tensors[name] = tensor.half()
    save_file(tensors, str(weights))
    return before - weights.stat().st_size


def read_checkpoint_config(directory: str | Path, kind: str | None = None) -> dict[str, Any]:
    """The parsed `config.json` of a checkpoint directory, checked for the expected kind."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(
            f"checkpoint directory {directory} does not exist; expected a folder with "
            f"{WEIGHTS_NAME} and {CONFIG_NAME}"
        )
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; a checkpoint needs {CONFIG_NAME}")
    try:
        payload = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(
            f"{path} is not valid JSON ({exc}); the checkpoint is corrupt"
        ) from exc
    if not isinstance(payload, dict) or "config" not in payload:
        raise CheckpointError(f"{path} has no 'config' entry; it is not one of our checkpoints")
    if kind is not None and payload.get("kind") != kind:
        raise CheckpointError(
            f"{directory} holds a {payload.get('kind')!r} checkpoint, but a {kind!r} was expected"
        )
    return payload


def load_checkpoint(
    directory: str | Path, kind: str | None = None, device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load (state_dict, config payload) from a checkpoint directory."""
    payload = read_checkpoint_config(directory, kind)
    weights = Path(directory) / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{weights} is missing; a checkpoint needs {WEIGHTS_NAME}")
    try:
        state = load_file(str(weights), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights} is not a readable safetensors file: {exc}") from exc
    return state, payload


def load_state_into(module: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """`module.load_state_dict(state)` with a `CheckpointError` naming what does not match."""
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches are raised, not returned
        raise CheckpointError(
            f"{source} does not match the model built from its config: {exc}"
        ) from exc
    if missing or unexpected:
        raise CheckpointError(
            f"{source} does not match the model built from its config: "
            f"missing {sorted(missing)[:8]}, unexpected {sorted(unexpected)[:8]}"
        )


def safe_torch_load(path: str | Path, allow_unsafe_pickle: bool = False) -> Any:
    """`torch.load` with `weights_only=True` unless the caller explicitly opts out."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=not allow_unsafe_pickle)
    except Exception as exc:
        hint = (
            " It contains Python objects beyond plain tensors; load it only if you trust its "
            "source, by passing allow_unsafe_pickle=True (e.g. "
            "load_codec(..., allow_unsafe_pickle=True))."
            if not allow_unsafe_pickle
            else ""
        )
        raise CheckpointError(f"cannot load {path}: {exc}.{hint}") from exc
