"""recipes/compare_cer.py: pairs the same sentences of two models' runs and gives the paired
difference, its standard error and the capped figures that Whisper's loops cannot move."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "recipes"))
import compare_cer as recipe


def eval_results(
    path: Path,
    seed: int,
    cers: dict[str, float],
    language: str = "ja",
    held_out: dict | None = None,
) -> Path:
    items = [{"audio": f"/runs/{text}.wav", "speaker": "v", "language": language, "text": text, "model_cer": c} for text, c in cers.items()]  # fmt: skip
    config = {"seed": seed, **({"held_out": held_out} if held_out else {})}
    path.write_text(json.dumps({"config": config, "cer": {"items": items}}))
    return path


def dev_results(path: Path, items: list[tuple[int, str, str, float]]) -> Path:
    rows = [{"seed": s, "language": lang, "text": t, "heard": "", "cer": c} for s, lang, t, c in items]  # fmt: skip
    path.write_text(json.dumps({"per_language": {}, "mean": 0, "items": rows}))
    return path


def test_paired_difference_standard_error_and_counts(tmp_path: Path) -> None:
    a = eval_results(tmp_path / "a.json", 0, {"x": 0.2, "y": 0.4, "z": 0.1})
    b = eval_results(tmp_path / "b.json", 0, {"x": 0.1, "y": 0.1, "z": 0.3})
    out = recipe.compare(recipe.read_runs([str(a)]), recipe.read_runs([str(b)]))
    row = out["per_language"]["ja"]["raw"]
    d = np.array([-0.1, -0.3, 0.2])
    assert out["per_language"]["ja"]["n"] == 3
    assert row["a"] == pytest.approx(0.7 / 3) and row["b"] == pytest.approx(0.5 / 3)
    assert row["diff"] == pytest.approx(d.mean())
    assert row["se"] == pytest.approx(d.std(ddof=1) / np.sqrt(3))
    assert (row["better"], row["worse"]) == (2, 1)
    assert out["per_language"]["all"]["raw"] == row


def test_a_whisper_loop_moves_the_raw_mean_not_the_capped_one(tmp_path: Path) -> None:
    a = eval_results(tmp_path / "a.json", 0, {"x": 0.2, "y": 0.5})
    b = eval_results(tmp_path / "b.json", 0, {"x": 0.2, "y": 12.0})
    row = recipe.compare(recipe.read_items(a), recipe.read_items(b))["per_language"]["ja"]
    assert row["raw"]["diff"] == pytest.approx(5.75)
    assert row["capped"]["diff"] == pytest.approx(0.25)
    assert row["capped"]["b"] == pytest.approx(0.6)


def test_only_the_same_seed_and_sentence_are_paired(tmp_path: Path) -> None:
    a = dev_results(tmp_path / "a.json", [(0, "en", "Hi.", 0.5), (1, "en", "Hi.", 0.3), (0, "de", "Ja.", 0.0)])  # fmt: skip
    b = dev_results(tmp_path / "b.json", [(0, "en", "Hi.", 0.1), (1, "en", "Hi.", 0.3), (2, "en", "Hi.", 0.9)])  # fmt: skip
    out = recipe.compare(recipe.read_items(a), recipe.read_items(b))
    assert set(out["per_language"]) == {"en", "all"}
    assert out["per_language"]["en"]["n"] == 2
    assert out["per_language"]["en"]["raw"]["diff"] == pytest.approx(-0.2)
    assert (out["unpaired_a"], out["unpaired_b"]) == (1, 1)
    table = recipe.format_table(out)
    assert "| en | 2 | 0.400 | 0.200 | -0.200 |" in table
    assert "1 of A, 1 of B" in table


def test_runs_of_several_seeds_are_read_as_one_set(tmp_path: Path) -> None:
    a = [eval_results(tmp_path / f"a{s}.json", s, {"x": 0.1 * (s + 1)}) for s in (0, 1)]
    b = [eval_results(tmp_path / f"b{s}.json", s, {"x": 0.0}) for s in (0, 1)]
    out = recipe.main(["--a", *map(str, a), "--b", *map(str, b), "--out", str(tmp_path / "c.json")])  # fmt: skip
    assert out["per_language"]["ja"]["n"] == 2
    assert out["per_language"]["ja"]["raw"]["diff"] == pytest.approx(-0.15)
    assert json.loads((tmp_path / "c.json").read_text())["per_language"]["ja"]["n"] == 2


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    a = eval_results(tmp_path / "a.json", 0, {"x": 0.1})
    with pytest.raises(ValueError, match="repeats seed 0"):
        recipe.read_runs([str(a), str(a)])
    other = eval_results(tmp_path / "o.json", 3, {"x": 0.1})
    with pytest.raises(ValueError, match="no sentence appears in both"):
        recipe.compare(recipe.read_items(a), recipe.read_items(other))
    (tmp_path / "bad.json").write_text('{"speed": {}}')
    with pytest.raises(ValueError, match="neither `tts eval` results"):
        recipe.read_items(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="not a readable JSON file"):
        recipe.read_items(tmp_path / "broken.json")


def test_rebuilds_pair_by_voice_and_text_and_a_different_set_is_noted(tmp_path: Path) -> None:
    """A corpus rebuilt elsewhere has other paths: the same voice and text still pair; where
    the runs' held-out fingerprints differ, the comparison says so."""
    set_a = {"n": 2, "texts": "t1", "audio": "a1"}
    a = eval_results(tmp_path / "a.json", 0, {"x": 0.2, "y": 0.4}, held_out=set_a)
    b = eval_results(tmp_path / "b.json", 0, {"x": 0.1, "y": 0.2}, held_out=set_a)
    moved = json.loads(b.read_text())
    for item in moved["cer"]["items"]:
        item["audio"] = "/elsewhere/" + item["audio"]
    b.write_text(json.dumps(moved))
    out = recipe.main(["--a", str(a), "--b", str(b)])
    assert out["per_language"]["ja"]["n"] == 2 and out["notes"] == []
    other = eval_results(tmp_path / "c.json", 0, {"x": 0.1}, held_out={**set_a, "audio": "a2"})
    assert "different audio" in recipe.held_out_notes([str(a)], [str(other)])[0]
    other = eval_results(tmp_path / "d.json", 0, {"x": 0.1}, held_out={**set_a, "texts": "t2"})
    assert "different held-out sentences" in recipe.held_out_notes([str(a)], [str(other)])[0]
    # the same set scored on another machine is noted too
    cpu = {"cpu": "x", "torch": "2.13.0+cpu (AVX512)"}
    for path, machine in ((tmp_path / "m1.json", cpu), (tmp_path / "m2.json", {**cpu, "cpu": "y"})):  # fmt: skip
        eval_results(path, 0, {"x": 0.1}, held_out=set_a)
        data = json.loads(path.read_text())
        data["config"]["machine"] = machine
        path.write_text(json.dumps(data))
    notes = recipe.held_out_notes([str(tmp_path / "m1.json")], [str(tmp_path / "m2.json")])
    assert len(notes) == 1 and "different machines" in notes[0]
    assert recipe.held_out_notes([str(tmp_path / "m1.json")], [str(tmp_path / "m1.json")]) == []
    # another voice reading the same text is another sentence
    voice = json.loads(b.read_text())
    voice["cer"]["items"][0]["speaker"] = "w"
    (tmp_path / "e.json").write_text(json.dumps(voice))
    paired = recipe.compare(recipe.read_items(a), recipe.read_items(tmp_path / "e.json"))
    assert paired["per_language"]["ja"]["n"] == 1


def test_development_voices_are_paired_by_voice_shift_and_text(tmp_path: Path) -> None:
    """recipes/dev_similarity.py items: the same sentence in two new voices is two items."""

    def dev_sim(path: Path, cers: list[float]) -> Path:
        voices = [("mei", 3.0), ("mei", -3.0), ("m7", 3.0)]
        rows = [{"language": "ja", "voice": v, "shift": s, "text": "駅", "seed": 0, "cer": c}
                for (v, s), c in zip(voices, cers, strict=True)]  # fmt: skip
        path.write_text(json.dumps({"per_language": {}, "items": rows}))
        return path

    a = recipe.read_items(dev_sim(tmp_path / "a.json", [0.1, 0.2, 0.3]))
    b = recipe.read_items(dev_sim(tmp_path / "b.json", [0.1, 0.0, 0.6]))
    assert len(a) == 3
    row = recipe.compare(a, b)["per_language"]["ja"]
    assert row["n"] == 3 and row["raw"]["diff"] == pytest.approx(0.1 / 3)
    assert (row["raw"]["better"], row["raw"]["worse"]) == (1, 1)


def test_a_run_of_several_seeds_pairs_each_draw_with_the_same_seed_elsewhere(
    tmp_path: Path,
) -> None:
    """`tts eval --cer-seeds 2` holds seeds 0 and 1 in one file, each item with its seed: it
    pairs with the two one-seed runs of another model, and the notes see both seeds."""
    items = [{"audio": "/runs/x.wav", "speaker": "v", "language": "ja", "text": "x", "seed": s, "model_cer": c} for s, c in ((0, 0.4), (1, 0.2))]  # fmt: skip
    held = {"texts": "t1", "audio": "a1"}
    both = tmp_path / "both.json"
    cer = {"seeds": [0, 1], "items": items}
    both.write_text(json.dumps({"config": {"seed": 0, "held_out": held}, "cer": cer}))
    assert recipe.read_items(both) == {(0, "ja", "v: x"): 0.4, (1, "ja", "v: x"): 0.2}
    one = [eval_results(tmp_path / f"s{s}.json", s, {"x": 0.1}) for s in (0, 1)]
    out = recipe.compare(recipe.read_runs([str(both)]), recipe.read_runs([str(p) for p in one]))
    assert out["per_language"]["ja"]["n"] == 2
    assert out["per_language"]["ja"]["raw"]["diff"] == pytest.approx(-0.2)
    other = {"texts": "t2", "audio": "a2"}
    moved = [eval_results(tmp_path / f"m{s}.json", s, {"x": 0.1}, held_out=other) for s in (0, 1)]
    notes = recipe.held_out_notes([str(both)], [str(p) for p in moved])
    assert [n.split(":")[0] for n in notes] == ["seed 0", "seed 1"]
