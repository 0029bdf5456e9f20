"""Finding pretrained codec weights on disk, and downloading them only when allowed.

Lookup order for a pretrained codec:
  1. `checkpoint=` given by the caller (the weights file, or a folder holding it);
  2. our cache folder: $TTS_CODEC_CACHE, else $TTS_CACHE_DIR/codecs, else ~/.cache/koe-tts/codecs;
  3. the cache the codec's own package downloads into (torch hub for EnCodec,
     ~/.cache/descript/dac for DAC), so weights fetched earlier by those packages are reused;
  4. a download through the package's own loader, only when the caller allows it
     (`allow_download=True` or TTS_ALLOW_DOWNLOAD=1). A quick connection probe runs first and
     every network call runs under a socket timeout ($TTS_DOWNLOAD_TIMEOUT, default 10 s),
     so an offline machine gets a `CheckpointError` within seconds instead of a hang.
Weights files are read with safetensors or `torch.load(weights_only=True)`, never as pickles.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
from safetensors.torch import load_file

from tts.checkpoint import load_state_into, safe_torch_load
from tts.errors import CheckpointError

DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class PretrainedWeights:
    """Where one codec's published weights come from and where they may already be."""

    codec: str
    filename: str
    url: str
    package_cache: Callable[[], Path]  # the file the codec package's own loader would write
    download: Callable[[float], Path]  # fetch through the package's loader; returns the file


def codec_cache_dir() -> Path:
    """$TTS_CODEC_CACHE, else $TTS_CACHE_DIR/codecs, else ~/.cache/koe-tts/codecs."""
    if os.environ.get("TTS_CODEC_CACHE"):
        return Path(os.environ["TTS_CODEC_CACHE"]).expanduser()
    root = os.environ.get("TTS_CACHE_DIR")
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "koe-tts") / "codecs"


def downloads_allowed(allow_download: bool | None) -> bool:
    if allow_download is not None:
        return bool(allow_download)
    return os.environ.get("TTS_ALLOW_DOWNLOAD", "").strip().lower() in {"1", "true", "yes"}


@contextlib.contextmanager
def socket_timeout(seconds: float) -> Iterator[None]:
    """Bound every blocking socket call (urllib, requests) made inside the block."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def probe_connection(url: str, timeout: float) -> None:
    """Open (and close) a TCP connection to the URL's host, or raise CheckpointError fast."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=timeout):
            pass
    except OSError as exc:
        raise CheckpointError(f"cannot reach {parsed.hostname}:{port} ({exc})") from exc


def _candidates(spec: PretrainedWeights) -> list[Path]:
    return [codec_cache_dir() / spec.filename, spec.package_cache()]


def _explain_missing(spec: PretrainedWeights, reason: str) -> CheckpointError:
    places = "\n".join(f"  - {p}" for p in _candidates(spec))
    return CheckpointError(
        f"pretrained weights for {spec.codec} are not available ({reason}).\n"
        f"Download {spec.url}\nand put the file {spec.filename} in one of:\n{places}\n"
        "or pass checkpoint=PATH (CLI: --checkpoint), or set TTS_CODEC_CACHE=DIR, or allow a "
        "download with allow_download=True / TTS_ALLOW_DOWNLOAD=1. "
        "Use pretrained=False for random weights (tests only)."
    )


def resolve_weights(
    spec: PretrainedWeights,
    checkpoint: str | Path | None = None,
    allow_download: bool | None = None,
    timeout: float | None = None,
) -> Path:
    """The local weights file for `spec`, downloading it only when allowed.

    `timeout` (seconds, default $TTS_DOWNLOAD_TIMEOUT or 10) bounds each network operation.
    """
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if path.is_dir():
            path = path / spec.filename
        if not path.is_file():
            raise CheckpointError(
                f"checkpoint {path} for {spec.codec} does not exist; give the weights file "
                f"({spec.filename}) or the folder that holds it"
            )
        return path
    for path in _candidates(spec):
        if path.is_file():
            return path
    if not downloads_allowed(allow_download):
        raise _explain_missing(spec, "not found locally and downloads are off")
    if timeout is None:
        timeout = float(os.environ.get("TTS_DOWNLOAD_TIMEOUT", DEFAULT_TIMEOUT_S))
    try:
        probe_connection(spec.url, timeout)
        with socket_timeout(timeout):
            path = spec.download(timeout)
    except CheckpointError as exc:
        raise _explain_missing(spec, f"download failed: {exc}") from exc
    except Exception as exc:  # network stacks raise many types; all mean "no weights"
        raise _explain_missing(spec, f"download failed: {type(exc).__name__}: {exc}") from exc
    if not Path(path).is_file():
        raise _explain_missing(spec, f"the download did not produce {path}")
    return Path(path)


def read_state_dict(path: str | Path, allow_unsafe_pickle: bool = False) -> dict[str, torch.Tensor]:
    """A state dict from .safetensors, or from a torch file read with weights_only=True
    (a full unpickle only when the caller explicitly passes allow_unsafe_pickle=True).

    DAC files wrap the weights as {"state_dict": ..., "metadata": ...}; that layer is removed.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except Exception as exc:
            raise CheckpointError(f"{path} is not a readable safetensors file: {exc}") from exc
    obj = safe_torch_load(path, allow_unsafe_pickle)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors")
    return obj


def load_weights_into(module: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """`load_state_into`, with tensor shape mismatches also reported as CheckpointError."""
    try:
        load_state_into(module, state, source)
    except RuntimeError as exc:  # load_state_dict raises RuntimeError on size mismatches
        raise CheckpointError(
            f"{source} does not match the model built from its config: {exc}"
        ) from exc
