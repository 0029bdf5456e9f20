"""Cache of reference-clip embeddings, keyed by clip content and encoder identity.

Synthesising many sentences in one voice should embed the reference once. The key hashes the
processed audio (`ReferenceClip.content_hash`) together with the encoder's identity (a hash of
its weights), so a different encoder, or retrained weights, never reads a stale entry. Entries
live in a bounded in-memory LRU and, if `cache_dir` is given, as safetensors files on disk.
Callers always get a copy, so modifying a returned tensor cannot corrupt the cache.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file


def module_fingerprint(module: torch.nn.Module, name: str) -> str:
    """`name:` plus a short hash of the module's weights (its identity for caching)."""
    digest = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        digest.update(key.encode())
        digest.update(tensor.detach().to("cpu").contiguous().numpy().tobytes())
    return f"{name}:{digest.hexdigest()[:16]}"


class EmbeddingCache:
    def __init__(self, max_items: int = 256, cache_dir: str | Path | None = None) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self._items: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(content_hash: str, encoder_identity: str) -> str:
        return hashlib.sha256(f"{encoder_identity}|{content_hash}".encode()).hexdigest()

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        """Empty the in-memory part (files on disk stay)."""
        with self._lock:
            self._items.clear()

    def _remember(self, key: str, value: torch.Tensor) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)

    def _disk_path(self, key: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / f"{key}.safetensors"

    def get_or_compute(
        self, content_hash: str, encoder_identity: str, compute: Callable[[], torch.Tensor]
    ) -> torch.Tensor:
        key = self.key(content_hash, encoder_identity)
        with self._lock:
            if key in self._items:
                self.hits += 1
                self._items.move_to_end(key)
                return self._items[key].clone()
        path = self._disk_path(key)
        if path is not None and path.is_file():
            try:
                value = load_file(str(path))["embedding"]
            except (SafetensorError, OSError, KeyError):
                value = None  # a corrupt or partial file is recomputed and overwritten
            if value is not None:
                with self._lock:
                    self.hits += 1
                    self._remember(key, value)
                return value.clone()
        value = compute().detach().to("cpu").contiguous().clone()
        with self._lock:
            self.misses += 1
            self._remember(key, value)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            save_file({"embedding": value}, str(tmp))
            os.replace(tmp, path)  # atomic: readers never see a half-written file
        return value.clone()


DEFAULT_CACHE = EmbeddingCache()
