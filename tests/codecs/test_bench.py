"""recipes/bench_codec.py end to end on one clip and one small codec."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "bench_codec.py"


def test_bench_writes_a_table_and_json(tmp_path, capsys) -> None:
    spec = importlib.util.spec_from_file_location("bench_codec_recipe", RECIPE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        out = tmp_path / "bench.json"
        report = module.main(
            ["--codecs", "koe-tiny,encodec-24k@1.5", "--max-clips", "1", "--out", str(out)]
        )
    finally:
        del sys.modules[spec.name]
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    rows = {r["codec"]: r for r in report["results"]}
    assert set(rows) == {"original", "koe-tiny", "encodec-24k@1.5kbps"}
    assert rows["original"]["cer"] < 0.5  # the judge understands the unprocessed clip
    koe, enc = rows["koe-tiny"], rows["encodec-24k@1.5kbps"]
    assert koe["weights"] == "random"  # no pretrained weights offline, and the table says so
    assert (koe["frame_rate"], koe["tokens_per_s"]) == (25.0, 50.0)
    assert abs(koe["kbps"] - 50 * 9.965784 / 1000) < 1e-4
    assert (enc["tokens_per_s"], enc["kbps"]) == (150.0, 1.5)
    for row in (koe, enc):
        assert row["enc_rtf_cpu"] > 0 and row["dec_rtf_cpu"] > 0
        assert row["cer"] >= 0 and row["mel_distance"] > 0 and -1 <= row["stoi"] <= 1
        assert len(row["clips"]) == 1 and "transcript" in row["clips"][0]
        assert row["voiced_kept"] >= 0
    assert rows["original"]["voiced_kept"] == 1.0
    assert report["clips"][0]["language"] == "ja"
    printed = capsys.readouterr().out
    assert "koe-tiny" in printed and "tok/s" in printed


def test_voiced_fraction_tells_a_tone_from_noise() -> None:
    import numpy as np

    spec = importlib.util.spec_from_file_location("bench_codec_recipe2", RECIPE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        t = np.arange(24_000) / 24_000
        tone = 0.3 * np.sign(np.sin(2 * np.pi * 180 * t))
        noise = 0.3 * np.random.default_rng(0).standard_normal(24_000)
        assert module.voiced_fraction(tone) > 0.9
        assert module.voiced_fraction(noise) < 0.2
    finally:
        del sys.modules[spec.name]
