"""recipes/device_lm.sh: an LM run made to travel to a lent GPU and come back as a bundle.

The device has Python and torch but not this package; `train` must run it from the checkout
(tts.codecs and tts.speakers linked in as pyproject.toml installs them), and what comes back
must be files under 16 MiB that `unpack` turns into a bundle of the trained weights."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from trainkit import REPO

from tts.config import save_config
from tts.synthesizer import Synthesizer

SCRIPT = REPO / "recipes" / "device_lm.sh"


def _stage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = ["bash", str(SCRIPT), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def test_a_device_run_comes_back_in_parts_and_unpacks_to_a_bundle(
    base_run: dict, tokens: Path, tmp_path: Path
) -> None:
    carried = tmp_path / "carried"  # what `pack` fills (here without wheels: nothing is missing)
    env = {
        **os.environ, "DEVICE_DIR": str(carried), "OUT": str(tmp_path / "out"),
        "DEVICE_PY": sys.executable, "PY": sys.executable, "INIT": str(base_run["bundle"]),
        "MINUTES": "30", "DEVICE_CONFIG": str(tmp_path / "config.json"), "NO_WHEELS": "1",
        "OMP_NUM_THREADS": "1",
    }  # fmt: skip
    done = _stage("pack", str(tokens), env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "MiB (limit 64)" in done.stdout
    with tarfile.open(carried / "shards.tar.xz") as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    packed = tmp_path / "unpacked" / "shards" / tokens.name
    # the same shards, with the speaker embeddings as float16
    for path in sorted(tokens.glob("shard-*.safetensors")):
        with safe_open(str(path), "pt") as a, safe_open(str(packed / path.name), "pt") as b:
            keys = set(a.keys())
            assert a.metadata() == b.metadata() and keys == set(b.keys())
            for key in keys:
                x, y = a.get_tensor(key), b.get_tensor(key)
                if key == "speaker":
                    assert y.dtype == torch.float16
                    torch.testing.assert_close(y.float(), x, atol=1e-3, rtol=1e-3)
                else:
                    assert torch.equal(x, y), key
    before = (carried / "shards.tar.xz").read_bytes()
    twice = _stage("pack", f"{tokens},{tokens}", env=env)
    assert twice.returncode != 0 and "two shard folders named" in twice.stderr
    assert (carried / "shards.tar.xz").read_bytes() == before  # a refused pack keeps the last
    cfg = dataclasses.replace(
        base_run["config"], max_steps=3, export_bundle=False, eval_every=100, ckpt_every=100,
        device="cpu", num_workers=0,
    )  # fmt: skip
    save_config(cfg, tmp_path / "config.json")
    out = tmp_path / "out"
    out.mkdir()
    done = _stage("train", env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    parts = sorted(out.glob("lm.part*"))
    assert parts and all(p.stat().st_size <= 15 * 2**20 for p in parts)
    assert {"config.json", "train_config.json", "log.csv"} <= {p.name for p in out.iterdir()}
    assert len(list(out.iterdir())) <= 8  # what the device tool brings back at most

    bundle = tmp_path / "bundle"
    done = _stage("unpack", str(out), str(bundle), env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    trained = load_file(bundle / "model.safetensors")
    base = load_file(Path(base_run["bundle"]) / "model.safetensors")
    assert trained.keys() == base.keys()
    assert all(v.dtype == torch.float16 for v in trained.values() if v.is_floating_point())
    moved = [k for k in base if base[k].is_floating_point() and
             not torch.equal(trained[k], base[k].half())]  # fmt: skip
    assert len(moved) > len(base) // 2  # it trained (not merely rounded to float16)
    lm = Synthesizer.from_pretrained(bundle, device="cpu").lm.state_dict()
    for name, value in trained.items():
        torch.testing.assert_close(lm[name].float(), value.float())

    again = _stage("unpack", str(out), str(bundle), env=env)  # never over an existing folder
    assert again.returncode != 0 and "exists" in again.stderr
    assert (bundle / "model.safetensors").is_file()
    # parts from a run of another architecture are refused, not shipped under the wrong config
    config = json.loads((out / "config.json").read_text())
    config["config"]["n_layer"] += 1
    (out / "config.json").write_text(json.dumps(config))
    done = _stage("unpack", str(out), str(tmp_path / "other"), env=env)
    assert done.returncode != 0 and "differs from the base bundle" in done.stderr
    assert not (tmp_path / "other").exists()  # nothing half-made left behind
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _stage("unpack", str(empty), str(tmp_path / "none"), env=env)
    assert done.returncode != 0 and "no lm.part" in done.stderr
