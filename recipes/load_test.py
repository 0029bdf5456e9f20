"""Load test of the speech server: N concurrent clients for T seconds on loopback.

    python recipes/load_test.py --url http://127.0.0.1:8000 --clients 8 --seconds 60
    python recipes/load_test.py --model path/to/bundle     # starts `tts.server` itself
    python recipes/load_test.py --model DIR --plot latency.png --out load.json

Every client posts `/v1/audio/speech` requests back to back until the time is up. Reported:
throughput (requests/s and seconds of audio per second), p50/p95 latency of the successful
requests, 503s (the server's deliberate "queue full" answer, counted apart), other errors, and
the server's peak resident memory (its /health `peak_rss_bytes`).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import numpy as np

MAX_SECONDS = 600.0
TEXTS = [
    "Hello there. This is a short load test sentence.",
    "今日はとてもいい天気ですね。",
    "Guten Morgen, wie geht es dir?",
]


@dataclass
class LoadReport:
    clients: int
    seconds: float
    requests: int
    ok: int
    busy_503: int
    errors: int  # anything but 200 and 503, including connection failures
    requests_per_second: float
    audio_seconds_per_second: float
    latency_p50_s: float
    latency_p95_s: float
    peak_server_rss_mb: float
    error_samples: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.clients} clients x {self.seconds:.0f} s: {self.requests} requests, "
            f"{self.ok} ok, {self.busy_503} busy (503), {self.errors} errors; "
            f"{self.requests_per_second:.2f} req/s, {self.audio_seconds_per_second:.2f} s audio/s; "
            f"latency p50 {self.latency_p50_s * 1000:.0f} ms, p95 {self.latency_p95_s * 1000:.0f} ms; "
            f"server peak RSS {self.peak_server_rss_mb:.0f} MB"
        )


def run_load_test(
    url: str,
    clients: int = 8,
    seconds: float = 60.0,
    voice: str = "default",
    response_format: str = "wav",
) -> tuple[LoadReport, list[float]]:
    """Hammer `url` and return the report and every successful request's latency."""
    if not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"seconds must lie in (0, {MAX_SECONDS:g}], got {seconds}")
    if clients < 1:
        raise ValueError(f"clients must be >= 1, got {clients}")
    lock = threading.Lock()
    latencies: list[float] = []
    audio_seconds = [0.0]
    counts = {"requests": 0, "busy": 0, "errors": 0}
    samples: list[str] = []
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        with httpx.Client(base_url=url, timeout=max(120.0, seconds)) as http:
            n = 0
            while time.monotonic() < deadline:
                body = {
                    "model": "koe-tts",
                    "input": TEXTS[(index + n) % len(TEXTS)],
                    "voice": voice,
                    "response_format": response_format,
                }
                n += 1
                start = time.perf_counter()
                try:
                    response = http.post("/v1/audio/speech", json=body)
                    status, detail = response.status_code, response.text[:200]
                except httpx.HTTPError as exc:
                    status, detail = -1, f"{type(exc).__name__}: {exc}"
                took = time.perf_counter() - start
                with lock:
                    counts["requests"] += 1
                    if status == 200:
                        latencies.append(took)
                        audio_seconds[0] += float(response.headers.get("x-audio-seconds", 0))
                    elif status == 503:
                        counts["busy"] += 1
                    else:
                        counts["errors"] += 1
                        if len(samples) < 5:
                            samples.append(f"{status}: {detail}")
                if status == 503:
                    time.sleep(0.05)  # what Retry-After asks for, shortened: keep the pressure

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    try:
        rss = httpx.get(url + "/health", timeout=10).json().get("peak_rss_bytes", 0) / 2**20
    except (httpx.HTTPError, ValueError):
        rss = float("nan")
    lat = np.asarray(latencies) if latencies else np.asarray([np.nan])
    report = LoadReport(
        clients=clients,
        seconds=elapsed,
        requests=counts["requests"],
        ok=len(latencies),
        busy_503=counts["busy"],
        errors=counts["errors"],
        requests_per_second=len(latencies) / elapsed,
        audio_seconds_per_second=audio_seconds[0] / elapsed,
        latency_p50_s=float(np.percentile(lat, 50)),
        latency_p95_s=float(np.percentile(lat, 95)),
        peak_server_rss_mb=float(rss),
        error_samples=samples,
    )
    return report, latencies


def plot_latencies(latencies: list[float], report: LoadReport, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.5), layout="tight")
    ax = fig.add_subplot()
    ax.hist(np.asarray(latencies) * 1000, bins=40, color="tab:blue")
    for q, style in ((report.latency_p50_s, "--"), (report.latency_p95_s, ":")):
        ax.axvline(q * 1000, color="black", linestyle=style)
    ax.set_xlabel("latency (ms); dashed p50, dotted p95")
    ax.set_ylabel("requests")
    ax.set_title(f"{report.clients} clients, {report.requests_per_second:.2f} req/s")
    fig.savefig(path)
    return Path(path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(model: str, workers: int, max_queue: int) -> tuple[subprocess.Popen, str]:
    """`python -m tts.server` on a free loopback port; waits until /health answers."""
    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="koe-load-")
    command = [sys.executable, "-m", "tts.server", "--model", model, "--port", str(port),
               "--data-dir", data_dir, "--workers", str(workers), "--max-queue", str(max_queue)]  # fmt: skip
    process = subprocess.Popen(command, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("the server did not answer /health within 120 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8000")
    where.add_argument("--model", help="start a server for this model directory")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0, help=f"at most {MAX_SECONDS:g}")
    parser.add_argument("--workers", type=int, default=1, help="with --model: replicas")
    parser.add_argument("--max-queue", type=int, default=8, help="with --model: waiting slots")
    parser.add_argument("--voice", default="default")
    parser.add_argument("--format", default="wav", help="response_format")
    parser.add_argument("--out", help="write the report as JSON here")
    parser.add_argument("--plot", help="write a latency histogram (PNG) here")
    args = parser.parse_args(argv)

    process = None
    url = args.url
    if args.model:
        process, url = start_server(args.model, args.workers, args.max_queue)
    try:
        report, latencies = run_load_test(url, args.clients, args.seconds, args.voice, args.format)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    print(report.summary())
    for sample in report.error_samples:
        print(f"  error: {sample}")
    if args.out:
        Path(args.out).write_text(json.dumps(asdict(report), indent=2))
    if args.plot and latencies:
        print(f"wrote {plot_latencies(latencies, report, args.plot)}")
    return 0 if report.errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
