"""recipes/train_preference.py on the shipped bundle: pairs from an items file, a valid split,
a bundle whose LM alone changed, and a rerun that resumes instead of starting again."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from trainkit import REPO, load_script

from tts.synthesizer import Synthesizer

DEFAULT = REPO / "tts" / "pretrained" / "default"


def write_items(path: Path, lm, n_items: int = 6) -> None:
    g = torch.Generator().manual_seed(0)
    k, size = lm.config.n_codebooks, lm.config.codebook_size
    rows = []
    for i in range(n_items):
        takes = [
            {
                "codes": torch.randint(0, size, (k, 12 + t), generator=g).tolist(),
                "stopped": True,
                "cer": [0.0, 0.5, 0.05][t],
            }
            for t in range(3)
        ]
        cond = {"speaker": [1 / 16] * 256, "emotion": 0, "intensity": 0.0, "language": i % 3}
        rows.append({"ids": [5 + i, 6, 7, 8], "cond": cond, "takes": takes})
    rows.append({"skipped": {"text": "several chunks"}})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_preference_training_writes_a_bundle_and_resumes(tmp_path: Path) -> None:
    recipe = load_script("recipes/train_preference.py")
    torch.set_num_threads(1)
    synth = Synthesizer.from_pretrained()
    items = tmp_path / "items.jsonl"
    write_items(items, synth.lm)
    out = tmp_path / "dpo"
    args = ["--items", str(items), "--out", str(out), "--batch-pairs", "4", "--lr", "1e-4",
            "--valid-fraction", "0.34", "--max-pairs-per-item", "1"]  # fmt: skip
    summary = recipe.main([*args, "--epochs", "1"])
    # 6 items, one pair each (take 0 against take 1; take 2 is within the 0.1 margin of take 0),
    # two items held out.
    assert summary["pairs"] == {"train": 4, "valid": 2}
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["step"] == 0 and rows[0]["valid_margin"] == 0.0
    assert rows[0]["valid_accuracy"] == 0.5  # every margin a tie: no preference yet
    assert [r["step"] for r in rows] == [0, 1]
    assert (out / "curves.png").stat().st_size > 0

    # Only the LM's weights changed; the rest of the bundle is the shipped one.
    new, old = (load_file(str(d / "model.safetensors")) for d in (out / "bundle", DEFAULT))
    assert new.keys() == old.keys()
    assert all(new[k].dtype == old[k].dtype for k in old)
    assert any(not torch.equal(new[k], old[k]) for k in old)
    assert (out / "bundle" / "config.json").read_bytes() == (DEFAULT / "config.json").read_bytes()

    # A rerun with more epochs resumes after the first (its metrics are appended, not redone),
    # and on the training pairs the chosen take has gained on the rejected one.
    summary = recipe.main([*args, "--epochs", "3"])
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2, 3]
    assert rows[-1]["margin"] > 0 and rows[-1]["accuracy"] == 1.0
    assert Synthesizer.from_pretrained(out / "bundle").lm is not None


def test_draws_pick_train_items_half_in_kokoro_voices_with_another_clip_as_reference() -> None:
    from tts.data.manifest import ManifestEntry, default_intensity

    draw = load_script("recipes/draw_preferences.py")
    rows = []
    for speaker in ("kokoro-jf_alpha", "espeak-en-us+f2", "kokoro-jf_gongitsune"):
        for n in range(6):
            split = "test" if speaker.endswith("gongitsune") else "train"
            rows.append(
                ManifestEntry(
                    audio=Path(f"/c/{speaker}_{n}.wav"),
                    text=f"{speaker} says {n}.",
                    language="en",
                    speaker=speaker,
                    duration=1.5 if n == 5 else 4.0,
                    emotion="sad" if n % 2 else "neutral",
                    extra={"split": split},
                )
            )
    items = draw.pick_items(rows, ["en"], per_language=4, seed=3)
    assert len(items) == 4
    assert sorted(i["speaker"] for i in items) == ["espeak-en-us+f2"] * 2 + ["kokoro-jf_alpha"] * 2
    for i in items:
        assert "gongitsune" not in i["reference"]  # a held-out voice never comes in
        own = i["text"].removesuffix(".").replace(" says ", "_")
        assert i["reference"] != f"/c/{own}.wav"  # another clip of the voice, not its own
        assert Path(i["reference"]).stem.startswith(i["speaker"])
        assert not i["reference"].endswith("_5.wav")  # 1.5 s: too short to clone from
        assert int(Path(i["reference"]).stem[-1]) % 2 == 0  # a neutral clip where there is one
        assert i["intensity"] == default_intensity(i["emotion"])  # the row's label, filled in
    assert draw.pick_items(rows, ["en"], per_language=4, seed=3) == items  # the same seed
