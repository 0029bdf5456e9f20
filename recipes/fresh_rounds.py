"""Benchmark settings run in fresh processes, in turn (bench_cold_start.py, bench_threads.py).

A fresh process per setting and round, so that nothing one setting loaded or started (torch's
thread pools, a loaded network) is there for the next; in turn, so that every setting sees the
machine at the same pace. The script is run again with `--child SETTING` and the extra
arguments, and must print its figures as one JSON object on its last line of output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def run_rounds(
    script: str, settings: Sequence[str], rounds: int, args: Sequence[str] = ()
) -> dict[str, list[dict]]:
    """{setting: [figures of each round]}; a child that fails stops the run with its error."""
    results: dict[str, list[dict]] = {s: [] for s in settings}
    for r in range(rounds):
        for setting in settings:
            cmd = [sys.executable, script, "--child", setting, *args]
            run = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if run.returncode != 0:
                raise SystemExit(f"round {r} ({setting}) failed:\n{run.stderr[-2000:]}")
            results[setting].append(json.loads(run.stdout.strip().splitlines()[-1]))
    return results


def medians(results: dict[str, list[dict]], keys: Sequence[str]) -> dict[str, dict[str, float]]:
    """{setting: {key: the median over rounds}}."""
    return {
        setting: {k: float(np.median([row[k] for row in rows])) for k in keys}
        for setting, rows in results.items()
    }


def write_report(
    path: str | None, language: str, rounds: dict[str, list[dict]], median: dict
) -> dict:
    """{"language", "rounds", "median"}, also written to `path` as JSON when given."""
    report = {"language": language, "rounds": rounds, "median": median}
    if path:
        Path(path).write_text(json.dumps(report, indent=1), encoding="utf-8")
    return report
