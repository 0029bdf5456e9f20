"""load_codec names and options; pretrained weights found locally or a fast CheckpointError."""

from __future__ import annotations

import dataclasses
import socket
import time

import pytest
import torch
from safetensors.torch import save_file

from tts.codecs import available_codecs, encodec_adapter, load_codec, weights
from tts.errors import CheckpointError, ConfigError


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    """Point every cache our lookup consults at empty temp folders, downloads off."""
    monkeypatch.setenv("TTS_CODEC_CACHE", str(tmp_path / "codecs"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TTS_ALLOW_DOWNLOAD", raising=False)
    return tmp_path


def test_names() -> None:
    assert {"encodec-24k", "dac-24k", "dac-44k", "koe-tiny"} <= set(available_codecs())
    assert load_codec("encodec-24k", pretrained=False, bandwidth=3.0).n_codebooks == 4
    assert load_codec("encodec-24k@24", pretrained=False).n_codebooks == 32
    with pytest.raises(ConfigError, match="bandwidth"):
        load_codec("encodec-24k", pretrained=False, bandwidth=5.0)
    with pytest.raises(ConfigError, match="not a float"):
        load_codec("encodec-24k@fast", pretrained=False)
    with pytest.raises(ConfigError, match="do not apply"):
        load_codec("encodec-24k", pretrained=False, n_codebooks=3)
    with pytest.raises(ConfigError, match="unknown codec"):
        load_codec("mp3-128k")
    with pytest.raises(CheckpointError, match="no published weights"):
        load_codec("koe-small")


@pytest.mark.parametrize("name", ["encodec-24k", "dac-24k", "dac-44k"])
def test_missing_weights_say_where_to_put_them(empty_caches, name: str) -> None:
    start = time.monotonic()
    with pytest.raises(CheckpointError) as info:
        load_codec(name)
    message = str(info.value)
    assert "downloads are off" in message and "TTS_CODEC_CACHE" in message
    assert str(empty_caches / "codecs") in message  # the folder to put the file in
    assert time.monotonic() - start < 10


def test_local_checkpoint_file_is_used(empty_caches) -> None:
    torch.manual_seed(3)
    source = load_codec("encodec-24k", pretrained=False)
    state = {k: v.clone() for k, v in source.model.state_dict().items()}
    path = empty_caches / "my_encodec.safetensors"
    save_file(state, str(path))
    codec = load_codec("encodec-24k", checkpoint=path, bandwidth=1.5)
    assert codec.pretrained
    for key, value in codec.model.state_dict().items():
        assert torch.equal(value, state[key]), key
    # The same file in the cache folder under the official name is found without checkpoint=.
    cache = empty_caches / "codecs"
    cache.mkdir()
    torch.save(state, cache / encodec_adapter.ENCODEC_24K.filename)  # a plain tensor dict
    wav = torch.randn(1, 2400) * 0.1
    assert torch.equal(
        load_codec("encodec-24k", bandwidth=1.5).encode(wav, 24_000), codec.encode(wav, 24_000)
    )
    with pytest.raises(CheckpointError, match="does not exist"):
        load_codec("encodec-24k", checkpoint=empty_caches / "nope.th")
    (empty_caches / "junk.th").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot load"):
        load_codec("encodec-24k", checkpoint=empty_caches / "junk.th")


def test_wrong_weights_are_rejected(empty_caches) -> None:
    path = empty_caches / "w.safetensors"
    save_file({"something.else": torch.zeros(3)}, str(path))
    with pytest.raises(CheckpointError, match="does not match"):
        load_codec("encodec-24k", checkpoint=path)


@pytest.fixture
def silent_port():
    """A loopback port that accepts connections but never answers (a hung server)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)  # never accept(): connections sit in the backlog, unanswered
        yield server.getsockname()[1]


@pytest.mark.parametrize("kind", ["refused", "silent"])
def test_download_failures_are_fast_checkpoint_errors(
    empty_caches, monkeypatch, silent_port, kind: str
) -> None:
    # 127.0.0.1:9 refuses at once; the silent port never answers (the timeout must fire).
    # Only loopback addresses: tests never send traffic off this machine.
    url = {"refused": "https://127.0.0.1:9", "silent": f"https://127.0.0.1:{silent_port}"}[kind]
    url += "/weights.th"
    spec = dataclasses.replace(encodec_adapter.ENCODEC_24K, url=url)
    monkeypatch.setattr(encodec_adapter, "ENCODEC_24K", spec)
    monkeypatch.setenv("TTS_DOWNLOAD_TIMEOUT", "1")
    start = time.monotonic()
    with pytest.raises(CheckpointError, match="download failed"):
        load_codec("encodec-24k", allow_download=True)
    assert time.monotonic() - start < 8
    assert not (empty_caches / "torch").exists() or not any((empty_caches / "torch").rglob("*.th"))


def test_env_var_allows_download(empty_caches, monkeypatch) -> None:
    assert weights.downloads_allowed(None) is False
    monkeypatch.setenv("TTS_ALLOW_DOWNLOAD", "1")
    assert weights.downloads_allowed(None) is True
    assert weights.downloads_allowed(False) is False


class _NotJustTensors:
    """Stands for anything beyond plain tensors and containers in a pickled weights file."""


def test_pickled_objects_need_the_explicit_unsafe_flag(empty_caches) -> None:
    torch.manual_seed(4)
    state = dict(load_codec("encodec-24k", pretrained=False).model.state_dict())
    path = empty_caches / "with_objects.th"
    torch.save({"state_dict": state, "metadata": _NotJustTensors()}, path)
    with pytest.raises(CheckpointError, match="allow_unsafe_pickle"):
        load_codec("encodec-24k", checkpoint=path)
    codec = load_codec("encodec-24k", checkpoint=path, allow_unsafe_pickle=True)
    assert all(torch.equal(v, state[k]) for k, v in codec.model.state_dict().items())
