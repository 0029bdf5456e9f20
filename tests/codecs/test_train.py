"""recipes/train_codec.py: the loss falls, checkpoints load, resuming equals not stopping."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from tts.checkpoint import safe_torch_load
from tts.codecs import KoeCodec, load_codec
from tts.codecs.data import RandomCrops, StepSampler, list_audio_files
from tts.errors import ConfigError, ManifestError

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "train_codec.py"
FAST = ["crop_seconds=0.48", "num_workers=0", "warmup_steps=3", "lr=3e-3", "log_every=2"]


@pytest.fixture(scope="module")
def recipe():
    spec = importlib.util.spec_from_file_location("train_codec_recipe", RECIPE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.fixture(scope="module")
def data_dir(speech_clips) -> Path:
    return speech_clips[0].path.parent


def test_loss_falls_and_the_run_is_loadable(recipe, data_dir, tmp_path) -> None:
    out = tmp_path / "run"
    args = ["--data", str(data_dir), "--out", str(out), "--preset", "tiny"]
    steps = ["max_steps=40", "batch_size=4", "sample_every=20", "ckpt_every=20", "log_every=1"]
    result = recipe.main([*args, *FAST, *steps])
    assert result["step"] == 40
    history = result["history"]
    # A fixed held-out clip gives a noise-free measure (step 0, 20, 40) ...
    evals = [h["eval_mel"] for h in history if "eval_mel" in h]
    assert len(evals) == 3
    assert evals[-1] < 0.85 * evals[0], f"eval mel distance did not fall clearly: {evals}"
    # ... and the training loss (noisy: every step sees other random crops) falls too.
    train = [h["loss"] for h in history if "loss" in h]
    assert len(train) == 40
    assert sum(train[-10:]) / 10 < 0.8 * train[0], train
    # outputs people look at
    assert (out / "loss.png").stat().st_size > 1000
    assert {p.name for p in (out / "samples").iterdir()} == {
        "reference.wav",
        "step_0000020.wav",
        "step_0000040.wav",
    }
    assert len((out / "log.jsonl").read_text().splitlines()) == len(history)
    # the run folder loads as a codec with the trained weights
    codec = load_codec(out)
    assert isinstance(codec, KoeCodec) and codec.pretrained and codec.frame_rate == 25.0
    wav = torch.from_numpy(speech_clips_first_second(data_dir))[None]
    codes = codec.encode(wav, 24_000)
    assert codes.shape == (1, 2, 25)
    assert codec.decode(codes).shape == (1, 24_000)
    # the codes still carry information: a second of speech uses many different codes
    assert all(len(torch.unique(codes[0, k])) >= 8 for k in range(2)), codes


def speech_clips_first_second(folder: Path):
    from tts.audio import load_audio, resample

    wav, sr = load_audio(folder / "ja.wav")
    return resample(wav, sr, 24_000)[:24_000].copy()


def test_resume_gives_the_same_state_as_an_uninterrupted_run(recipe, data_dir, tmp_path) -> None:
    # Adversarial on, so discriminators and their optimizer are part of the resumed state.
    common = ["--data", str(data_dir), "--preset", "tiny", *FAST, "max_steps=6", "batch_size=2"]
    common += [
        "ckpt_every=3",
        "sample_every=100",
        "adversarial=true",
        "adv_start_step=1",
        "disc_channels=4",
    ]
    straight = recipe.main(["--out", str(tmp_path / "a"), *common])
    first = recipe.main(["--out", str(tmp_path / "b"), "--stop-after", "3", *common])
    assert first["step"] == 3
    resumed = recipe.main(["--out", str(tmp_path / "b"), *common])
    assert resumed["start_step"] == 3 and resumed["step"] == 6 == straight["step"]

    a = safe_torch_load(tmp_path / "a" / "checkpoint" / "train_state.pt")
    b = safe_torch_load(tmp_path / "b" / "checkpoint" / "train_state.pt")
    assert a["step"] == b["step"] == 6
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] == 6
    for key in ("optimizer", "disc_optimizer"):
        for slot in a[key]["state"]:
            for name, value in a[key]["state"][slot].items():
                torch.testing.assert_close(b[key]["state"][slot][name], value, rtol=1e-5, atol=1e-7)
    model_a = load_codec(tmp_path / "a").model.state_dict()
    model_b = load_codec(tmp_path / "b").model.state_dict()
    for name, value in model_a.items():
        torch.testing.assert_close(model_b[name], value, rtol=1e-5, atol=1e-7)
    # the log was kept up to the checkpoint and continued, not duplicated
    steps = [json.loads(x)["step"] for x in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 6


def test_decoder_only_source_filter_run_keeps_the_codes(recipe, data_dir, tmp_path) -> None:
    # Stage 1: an ordinary (istft) codec. Stage 2: its decoder swapped for a source-filter
    # decoder and trained alone, as done for the shipped model: the codes must not move.
    base = ["--data", str(data_dir), "--preset", "tiny"]
    fast = [*FAST, "batch_size=4"]
    recipe.main([*base, "--out", str(tmp_path / "istft"), *fast, "max_steps=4", "sample_every=100"])
    first = load_codec(tmp_path / "istft")
    run = recipe.main(
        [
            *base,
            "--out",
            str(tmp_path / "sf"),
            *fast,
            "model.decoder_kind=source_filter",
            f"init_from={tmp_path / 'istft'}",
            "train_encoder=false",
            "max_steps=30",
            "sample_every=30",
            "log_every=1",
        ]
    )
    second = load_codec(tmp_path / "sf")
    assert second.config.decoder_kind == "source_filter" and second.continues_phase
    before, after = first.model.state_dict(), second.model.state_dict()
    for name, value in before.items():
        if not name.startswith("decoder."):
            torch.testing.assert_close(after[name], value, rtol=0, atol=0)
    # the decoder trunk started from the first codec's and then trained
    assert not torch.equal(after["decoder.stem.weight"], before["decoder.stem.weight"])
    wav = torch.from_numpy(speech_clips_first_second(data_dir))[None]
    assert torch.equal(second.encode(wav, 24_000), first.encode(wav, 24_000))
    assert second.decode(first.encode(wav, 24_000)).shape == (1, 24_000)
    # the pitch head learns: its F0 error (semitones, voiced frames) falls
    f0 = [h["f0"] for h in run["history"] if "f0" in h]
    assert len(f0) == 30 and sum(f0[-5:]) / 5 < 0.7 * sum(f0[:5]) / 5, f0


def test_config_errors(recipe, data_dir, tmp_path) -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        recipe.main(
            [
                "--data",
                str(data_dir),
                "--out",
                str(tmp_path / "x"),
                "--preset",
                "tiny",
                "batchsize=2",
            ]
        )
    with pytest.raises(ConfigError, match="init_from"):
        recipe.main(
            [
                "--data",
                str(data_dir),
                "--out",
                str(tmp_path / "z"),
                "--preset",
                "tiny",
                "train_encoder=false",
            ]
        )
    with pytest.raises(ConfigError, match="no training data"):
        recipe.main(["--out", str(tmp_path / "x"), "--preset", "tiny"])
    out = tmp_path / "y"
    recipe.main(
        [
            "--data",
            str(data_dir),
            "--out",
            str(out),
            "--preset",
            "tiny",
            *FAST,
            "max_steps=1",
            "batch_size=1",
        ]
    )
    with pytest.raises(ConfigError, match="different model config"):
        recipe.main(
            ["--data", str(data_dir), "--out", str(out), "--preset", "tiny", "model.n_codebooks=3"]
        )


def test_manifest_and_crops(data_dir, tmp_path) -> None:
    # The canonical manifest (tts.data.manifest); only the audio paths matter to the codec.
    def line(audio: str) -> str:
        entry = {"audio": audio, "text": "x", "language": "en", "speaker": "s", "duration": 1.0}
        return json.dumps(entry)

    manifest = tmp_path / "train.jsonl"
    lines = [line(str(data_dir / "ja.wav")), line(str(data_dir / "en.wav"))]
    manifest.write_text("\n".join(lines) + "\n\n")
    files = list_audio_files(manifest)
    assert files == [data_dir / "ja.wav", data_dir / "en.wav"]
    assert len(list_audio_files(data_dir)) == 3
    crops = RandomCrops(files, 24_000, 4800, seed=5)
    x, y = crops[7], crops[7]
    assert x.shape == (4800,) and x.dtype == torch.float32 and torch.equal(x, y)
    assert not torch.equal(crops[7], crops[8]) or not torch.equal(crops[8], crops[9])
    sampler = iter(StepSampler(batch_size=2, start_step=3, rank=1, world_size=2))
    assert [next(sampler) for _ in range(4)] == [
        14,
        15,
        18,
        19,
    ]  # step 3 rank 1, then step 4 rank 1

    bad = tmp_path / "bad.jsonl"
    bad.write_text(line("ja.wav") + "\nnot json\n")
    with pytest.raises(
        ManifestError, match=r"bad.jsonl:1: field 'audio': file not found: .*ja.wav"
    ):
        list_audio_files(bad)
    bad.write_text(line(str(data_dir / "ja.wav")) + '\n{"path": "x.wav"}\n')
    with pytest.raises(ManifestError, match=r"bad.jsonl:2: missing required field\(s\) \['audio'"):
        list_audio_files(bad)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ManifestError, match="no audio files"):
        list_audio_files(tmp_path / "empty")
