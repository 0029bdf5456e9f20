"""Small dataclass configs, serialised to and from JSON.

Every model, codec and recipe describes itself with a plain `@dataclass`. These helpers turn
nested dataclasses into JSON and back, rejecting unknown keys (a typo in a config file should
fail loudly, not be ignored).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from tts.errors import ConfigError

T = TypeVar("T")

# What an LM's linear layers can multiply in at inference (`PipelineConfig.lm_matmul_dtype`,
# `tts.model.MATMUL_DTYPES`), named here without torch so command-line parsers can list them.
LM_MATMUL_DTYPES = ("float32", "bfloat16", "int8")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A dataclass (possibly nested) as a JSON-serialisable dict."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise ConfigError(f"expected a dataclass instance, got {type(config).__name__}")
    return dataclasses.asdict(config)


def _field_types(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # unresolved forward refs: fall back to no conversion
        return {f.name: None for f in dataclasses.fields(cls)}


def _convert(tp: Any, value: Any) -> Any:
    if tp is None or value is None:
        return value
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if dataclasses.is_dataclass(arg) and isinstance(value, dict):
                return config_from_dict(arg, value)
        return value
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return config_from_dict(tp, value)
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    return value


def config_from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build dataclass `cls` from a dict; unknown keys raise `ConfigError`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__} config must be a JSON object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {unknown} for {cls.__name__}; valid keys are {sorted(names)}"
        )
    hints = _field_types(cls)
    kwargs = {k: _convert(hints.get(k), v) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid {cls.__name__} config: {exc}") from exc


def save_config(config: Any, path: str | Path) -> None:
    Path(path).write_text(json.dumps(config_to_dict(config), indent=2, ensure_ascii=False) + "\n")


def load_config(cls: type[T], path: str | Path) -> T:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid JSON: {exc}") from exc
    return config_from_dict(cls, data)


def apply_overrides(config: T, overrides: list[str]) -> T:
    """Apply CLI overrides like `model.n_layer=4 lr=3e-4` (values parsed as JSON when they can)."""
    data = config_to_dict(config)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key=value")
        key, raw = item.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"override {key!r}: {part!r} is not a config section")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(f"override {key!r}: unknown key {parts[-1]!r}")
        node[parts[-1]] = value
    return config_from_dict(type(config), data)
