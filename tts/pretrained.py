"""Where a pretrained model comes from: a local directory, the shipped default, or the hub.

A model directory (a "bundle") holds the token LM as `model.safetensors` + `config.json`, with
the rest of the pipeline referenced from `config.json`'s "pipeline" entry:

    model.safetensors, config.json   the codec-token LM (kind "codec_lm")
    inventory.json                   the text front end's symbol inventory
    codec/                           our codec (or "pipeline.codec" names a registry codec)
    style_encoder/                   optional style/emotion encoder
    voices.safetensors               optional named speaker embeddings ("default" first)
    README.md                        the model card
"""

from __future__ import annotations

import os
from pathlib import Path

from tts.errors import CheckpointError

# The default model ships inside the package so `from_pretrained()` works offline.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "pretrained" / "default"
BUNDLE_FORMAT = 1


def resolve_model_dir(
    name_or_path: str | Path | None = None,
    *,
    revision: str | None = None,
    local_files_only: bool | None = None,
    cache_dir: str | Path | None = None,
) -> Path:
    """A local directory holding the model: the default, an existing folder, or a hub snapshot.

    Hub ids ("org/name") are fetched with huggingface_hub into its cache (`cache_dir`,
    `revision`); `local_files_only=True` (or HF_HUB_OFFLINE=1) uses only what is cached.
    """
    if name_or_path is None:
        if not (DEFAULT_MODEL_DIR / "config.json").is_file():
            raise CheckpointError(
                f"the default model is not installed at {DEFAULT_MODEL_DIR}; pass a model "
                "directory or a Hugging Face hub id to from_pretrained()"
            )
        return DEFAULT_MODEL_DIR
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    text = str(name_or_path)
    if path.exists() or text.count("/") != 1 or text.startswith((".", "/", "~")):
        raise CheckpointError(f"{text!r} is neither a model directory nor a hub id like 'org/name'")
    return _snapshot(text, revision, local_files_only, cache_dir)


def _snapshot(
    repo_id: str, revision: str | None, local_files_only: bool | None, cache_dir: str | Path | None
) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    if local_files_only is None:
        local_files_only = os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0")
    try:
        return Path(
            snapshot_download(
                repo_id,
                revision=revision,
                cache_dir=str(cache_dir) if cache_dir else None,
                local_files_only=local_files_only,
            )
        )
    except LocalEntryNotFoundError as exc:
        raise CheckpointError(
            f"model {repo_id!r} (revision {revision or 'main'}) is not in the local cache and "
            "could not be downloaded (offline, or local_files_only=True). Download it on a "
            "machine with network access or pass a local directory."
        ) from exc
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise CheckpointError(f"could not fetch model {repo_id!r} from the hub: {exc}") from exc
