import json
import runpy
import sys
from pathlib import Path

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
