"""recipes/dev_similarity.py: each output is compared with its reference and with another clip
of the same new voice, and transcribed."""

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tts.audio import Audio
from tts.data.manifest import read_manifest
from tts.errors import ConfigError
from tts.speakers import load_speaker_encoder

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "recipes"))
import dev_similarity as recipe


class Echo:
    """A "model" that says its reference back: its similarity to the reference is 1."""

    def __init__(self, encoder, speaker_contrast=None) -> None:  # type: ignore[no-untyped-def]
        self.speaker_encoder = encoder
        self.speaker_contrast = speaker_contrast
        self.calls: list[tuple[str, str]] = []
        self.seeds: list[int] = []

    def synthesize(self, text, reference, language, seed, watermark):  # type: ignore[no-untyped-def]
        self.calls.append((text, language))
        self.seeds.append(seed)
        wav, sr = reference
        return Audio(wav, sr)


class Judge:
    def score(self, wav, sr, text, language):  # type: ignore[no-untyped-def]
        return "heard", 0.25


def test_outputs_are_compared_with_the_reference_and_another_clip(manifest_path) -> None:
    pool = [replace(e, extra={**e.extra, "split": "train"}) for e in read_manifest(manifest_path)]
    model = Echo(load_speaker_encoder("resemblyzer"))
    result = recipe.dev_similarity(model, pool, Judge(), ["ja"], voices=2, texts=2)
    items = result["items"]
    assert len(items) == 4 and len(model.calls) == 4  # 2 voices x 2 development sentences
    assert {i["voice"] for i in items} == {"pyopenjtalk-mei", "pyopenjtalk-mei-high"}
    assert sorted({i["shift"] for i in items}) == [-3.0, 3.0]  # made into new voices, in turn
    assert {i["text"] for i in items} == set(recipe.dev_sentences("ja")[:2])
    for item in items:
        assert item["sim_reference"] == pytest.approx(1.0, abs=1e-4)  # the echo is the reference
        assert 0.5 < item["sim_other_clip"] < 0.99  # the same voice, another recording
        assert item["cer"] == 0.25
    row = result["per_language"]["ja"]
    assert row["sim_other_clip"] == pytest.approx(sum(i["sim_other_clip"] for i in items) / 4)


def test_every_item_is_drawn_with_each_seed_and_its_closeness_to_the_mean_is_kept(
    manifest_path,
) -> None:
    import torch

    from tts.speakers.contrast import SpeakerContrast

    pool = [replace(e, extra={**e.extra, "split": "train"}) for e in read_manifest(manifest_path)]
    encoder = load_speaker_encoder("resemblyzer")
    mean = torch.nn.functional.normalize(torch.rand(256), dim=0)
    model = Echo(encoder, SpeakerContrast(mean))
    result = recipe.dev_similarity(model, pool, Judge(), ["ja"], voices=2, texts=1, seeds=(3, 4))
    items = result["items"]
    assert len(items) == 4 and sorted(model.seeds) == [3, 3, 4, 4]
    assert sorted(i["seed"] for i in items) == [3, 3, 4, 4]
    for item in items:
        # the echo is its reference: as close to the training voices' mean as the reference
        assert item["output_to_mean"] == pytest.approx(item["reference_to_mean"], abs=1e-4)
        assert 0 < item["reference_to_mean"] < 1
    row = result["per_language"]["ja"]
    assert row["output_to_mean"] == pytest.approx(sum(i["output_to_mean"] for i in items) / 4)


def test_sampling_overrides_reach_the_synthesizer(manifest_path, monkeypatch, tmp_path) -> None:
    """`--sampling candidates=4` is what the development voices are then spoken with, and the
    written file says which sampling it was."""
    import json

    seen = {}

    def fake(synth, pool, judge, languages, seeds):  # type: ignore[no-untyped-def]
        seen["candidates"] = synth.config.sampling.candidates
        return {"per_language": {}, "items": []}

    monkeypatch.setattr(recipe, "dev_similarity", fake)
    monkeypatch.setattr(recipe, "load_whisper", lambda: None)
    out = tmp_path / "dev.json"
    argv = ["--manifest", str(manifest_path), "--sampling", "candidates=4,temperature=0.7"]
    recipe.main([*argv, "--out", str(out)])
    assert seen["candidates"] == 4
    written = json.loads(out.read_text())["sampling"]
    assert written["candidates"] == 4 and written["temperature"] == 0.7
    with pytest.raises(ConfigError, match="nope"):
        recipe.main(["--manifest", str(manifest_path), "--sampling", "nope=1"])
