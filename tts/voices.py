"""A directory of user-registered voices for the server: speaker embeddings by generated id.

    DATA_DIR/voices/voice_0123456789abcdef/
        embedding.safetensors   {"speaker": [dim] float32}: what synthesis uses
        meta.json               id, name, created, consent, encoder identity, clip stats
        reference_24k.flac      the cleaned reference window (kept for re-embedding later)

Ids are generated here and checked against a strict pattern before any path is built, so a
request can never name a file on the server; names are free text shown to people only.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from tts.audio import save_audio
from tts.errors import ConfigError
from tts.speakers.reference import CODEC_SAMPLE_RATE, ReferenceClip

VOICE_ID = re.compile(r"^voice_[0-9a-f]{16}$")
MAX_NAME_CHARS = 64


class VoiceNotFoundError(ConfigError):
    """No registered voice has this id or name."""


@dataclass
class VoiceRecord:
    id: str
    name: str
    created: int  # unix seconds
    encoder: str  # identity of the speaker encoder that made the embedding
    speech_seconds: float
    consent: bool = True


def check_voice_name(name: object) -> str:
    """A display name: 1-64 printable characters, trimmed."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("a voice needs a non-empty name")
    name = name.strip()
    if len(name) > MAX_NAME_CHARS:
        raise ConfigError(f"voice name is {len(name)} characters; at most {MAX_NAME_CHARS}")
    if not name.isprintable():
        raise ConfigError("voice name must not contain control characters")
    return name


class VoiceStore:
    """Thread-safe add / list / get / delete of voices under `root / "voices"`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root) / "voices"
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def _dir(self, voice_id: str) -> Path:
        if not isinstance(voice_id, str) or not VOICE_ID.match(voice_id):
            raise VoiceNotFoundError(f"{voice_id!r} is not a voice id (voice_ + 16 hex digits)")
        return self.root / voice_id

    def add(
        self, name: str, embedding: torch.Tensor, clip: ReferenceClip, encoder: str
    ) -> VoiceRecord:
        name = check_voice_name(name)
        with self._lock:
            if any(r.name == name for r in self._records()):
                raise ConfigError(f"a voice named {name!r} exists already; pick another name")
            voice_id = "voice_" + secrets.token_hex(8)
            record = VoiceRecord(
                voice_id, name, int(time.time()), encoder, round(clip.speech_seconds, 2)
            )
            tmp = self.root / f".tmp-{voice_id}"
            tmp.mkdir()
            embedding = embedding.detach().float().reshape(-1).cpu().contiguous()
            save_file({"speaker": embedding}, str(tmp / "embedding.safetensors"))
            save_audio(tmp / "reference_24k.flac", clip.wav_24k, CODEC_SAMPLE_RATE)
            (tmp / "meta.json").write_text(json.dumps(asdict(record), ensure_ascii=False))
            tmp.rename(self.root / voice_id)  # appears complete or not at all
        return record

    def _records(self) -> list[VoiceRecord]:
        records = []
        for meta in sorted(self.root.glob("voice_*/meta.json")):
            try:
                records.append(VoiceRecord(**json.loads(meta.read_text())))
            except (OSError, ValueError, TypeError):
                continue  # a damaged entry is skipped, not fatal for the listing
        return sorted(records, key=lambda r: (r.created, r.id))

    def list(self) -> list[VoiceRecord]:
        with self._lock:
            return self._records()

    def find(self, voice: str) -> VoiceRecord | None:
        """The voice with this id, or else with this name; None if there is none."""
        with self._lock:
            for record in self._records():
                if voice in (record.id, record.name):
                    return record
        return None

    def embedding(self, voice_id: str) -> torch.Tensor:
        path = self._dir(voice_id) / "embedding.safetensors"
        if not path.is_file():
            raise VoiceNotFoundError(f"no voice {voice_id!r}")
        return load_file(str(path))["speaker"]

    def delete(self, voice_id: str) -> VoiceRecord:
        folder = self._dir(voice_id)
        with self._lock:
            meta = folder / "meta.json"
            if not meta.is_file():
                raise VoiceNotFoundError(f"no voice {voice_id!r}")
            record = VoiceRecord(**json.loads(meta.read_text()))
            shutil.rmtree(folder)
        return record


__all__ = ["VOICE_ID", "VoiceNotFoundError", "VoiceRecord", "VoiceStore", "check_voice_name"]
