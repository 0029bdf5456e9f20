"""The load-test recipe, briefly, against the in-process server."""

import importlib.util
import sys
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "load_test.py"


@pytest.fixture(scope="module")
def load_test():
    spec = importlib.util.spec_from_file_location("load_test", RECIPE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["load_test"] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def test_short_load_run_has_no_errors_and_real_figures(load_test, server, tmp_path):
    report, latencies = load_test.run_load_test(server.url, clients=3, seconds=5)
    assert report.errors == 0, report.error_samples
    # one replica and a queue of 4: three clients are all served, none turned away
    assert report.busy_503 == 0 and report.ok == report.requests == len(latencies) > 3
    assert 0 < report.latency_p50_s <= report.latency_p95_s
    assert report.requests_per_second > 0 and report.audio_seconds_per_second > 0
    assert report.peak_server_rss_mb > 50
    assert load_test.plot_latencies(latencies, report, tmp_path / "lat.png").stat().st_size > 0


def test_overload_gives_503_not_errors(load_test, synth, tmp_path):
    from tts.server import BackgroundServer, ServerConfig, create_app

    app = create_app(synth, tmp_path, ServerConfig(workers=1, max_queue=0))
    with BackgroundServer(app) as server:
        report, _ = load_test.run_load_test(server.url, clients=4, seconds=3)
    assert report.errors == 0 and report.busy_503 > 0 and report.ok > 0


def test_bounds_are_checked(load_test):
    with pytest.raises(ValueError, match="seconds"):
        load_test.run_load_test("http://127.0.0.1:9", clients=1, seconds=10_000)
