"""A training process killed with SIGKILL resumes from its last checkpoint and ends exactly
where an uninterrupted run ends (weights, optimizer and log)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from trainkit import REPO, small_model

from tts.config import save_config
from tts.trainer import TrainConfig


def _command(config: Path, out: Path) -> list[str]:
    return [
        sys.executable, str(REPO / "recipes" / "train.py"), "--config", str(config),
        "--out", str(out), "--no-progress",
    ]  # fmt: skip


def _rows(log: Path) -> list[dict[str, str]]:
    if not log.is_file():
        return []
    with log.open() as f:
        return list(csv.DictReader(f))


def test_sigkill_then_rerun_matches_an_uninterrupted_run(tokens: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(
        data=str(tokens), model=small_model(d_model=32), max_frames=300, max_steps=12,
        lr=2e-3, warmup_steps=2, log_every=1, eval_every=100, ckpt_every=3, seed=21,
        export_bundle=False,
    )  # fmt: skip
    config = tmp_path / "cfg.json"
    save_config(cfg, config)
    # one thread in both runs, so float reductions happen in the same order
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}

    straight = tmp_path / "straight"
    subprocess.run(_command(config, straight), env=env, check=True, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        _command(config, killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    # kill between checkpoints (after step 7 is logged; the last checkpoint is step 6)
    while len(_rows(killed / "log.csv")) < 7 and proc.poll() is None:
        assert time.monotonic() < deadline, "the run did not progress"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert len(_rows(killed / "log.csv")) < cfg.max_steps

    subprocess.run(_command(config, killed), env=env, check=True, capture_output=True)
    a = load_file(str(straight / "checkpoint" / "model.safetensors"))
    b = load_file(str(killed / "checkpoint" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    rows_a, rows_b = _rows(straight / "log.csv"), _rows(killed / "log.csv")
    assert [r["step"] for r in rows_b] == [str(s) for s in range(1, 13)]

    def timeless(rows: list[dict[str, str]]) -> list[dict[str, float | None]]:
        return [
            {k: float(v) if v else None for k, v in r.items() if k != "tokens_per_s"} for r in rows
        ]

    assert timeless(rows_a) == timeless(rows_b)
