import json
import runpy
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_bench_synthesis_reports_real_figures(tmp_path, monkeypatch, capsys):
    out = tmp_path / "bench.json"
    argv = ["bench_synthesis.py", "--presets", "tiny", "--no-compile", "--repeats", "1"]
    monkeypatch.setattr(sys, "argv", [*argv, "--out", str(out)])
    try:
        runpy.run_path(str(REPO / "recipes" / "bench_synthesis.py"), run_name="__main__")
    except SystemExit as exit_:
        assert exit_.code == 0
    rows = json.loads(out.read_text())
    assert {r["language"] for r in rows} == {"en", "ja", "de"}
    for row in rows:
        assert row["audio_seconds"] > 0.5
        assert 0 < row["rtf"] < 10
        assert row["tokens_per_second"] > 0 and row["first_chunk_ms"] > 0
    assert "RTF" in capsys.readouterr().out


def test_bench_lm_times_the_shipped_model_in_int8_with_guidance(tmp_path, monkeypatch):
    """`bench_lm.py --model default --matmul-dtype int8 --cfg-scale 2`: the shipped LM, its
    layers set to int8, every run exactly `--frames` frames; figures that agree with each
    other; a chart."""
    argv = [
        "bench_lm.py", "--model", "default", "--matmul-dtype", "int8", "--batch", "2",
        "--cfg-scale", "2", "--compile", "off", "--frames", "6", "--repeats", "1",
        "--device", "cpu", "--out", str(tmp_path),
    ]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    try:
        runpy.run_path(str(REPO / "recipes" / "bench_lm.py"), run_name="__main__")
    except SystemExit as exit_:
        assert exit_.code == 0
    (row,) = json.loads((tmp_path / "bench_lm.json").read_text())
    assert row["preset"] == "default" and row["params_m"] > 10  # the shipped LM, not a preset
    assert row["matmul_dtype"] == "int8" and row["cfg_scale"] == 2.0 and row["batch"] == 2
    # The file rounds seconds to 1 ms (a short run's seconds to a few %), frames/s and
    # tokens/s to 0.1 and ms/frame to 0.01 ms.
    assert row["seconds"] == pytest.approx(row["ms_per_frame"] * 6 / 1000, abs=1e-3)
    assert row["frames_per_s"] == pytest.approx(2 * 1000 / row["ms_per_frame"], rel=2e-3)
    assert row["tokens_per_s"] == pytest.approx(row["frames_per_s"] * 5, abs=0.35)  # 5 streams
    assert (tmp_path / "bench_lm.png").stat().st_size > 0


def test_bench_cold_start_times_fresh_processes_with_and_without_warm_up(bundle_dir, tmp_path):
    """`bench_cold_start.py`: each setting in its own fresh process; the warm-up is timed only
    where it ran, and every request's first piece is timed."""
    out = tmp_path / "cold.json"
    argv = ["--model", str(bundle_dir), "--rounds", "1", "--out", str(out)]
    runpy.run_path(str(REPO / "recipes" / "bench_cold_start.py"))["main"](argv)
    report = json.loads(out.read_text())
    cold, warm = report["rounds"]["cold"], report["rounds"]["warm"]
    assert len(cold) == len(warm) == 1
    assert cold[0]["warm_up"] == 0.0 and warm[0]["warm_up"] > 0
    for row in (cold[0], warm[0]):
        assert row["load"] > 0 and row["first_piece"] > 0 and row["second_piece"] > 0
    assert report["median"]["warm"]["warm_up"] == warm[0]["warm_up"]


def test_bench_threads_times_each_layout_in_its_own_process(bundle_dir, tmp_path):
    """`bench_threads.py`: one fresh process per layout and round, token generation and all
    stages per second of audio; an unknown layout is refused."""
    out = tmp_path / "threads.json"
    main = runpy.run_path(str(REPO / "recipes" / "bench_threads.py"))["main"]
    main(
        ["--model", str(bundle_dir), "--rounds", "1", "--layouts", "main,fresh", "--out", str(out)]
    )
    report = json.loads(out.read_text())
    assert set(report["rounds"]) == {"main", "fresh"}
    for (row,) in report["rounds"].values():
        assert row["audio_seconds"] > 0 and 0 < row["lm_rtf"] < row["rtf"]
    with pytest.raises(SystemExit):
        main(["--model", str(bundle_dir), "--layouts", "main,sideways"])
