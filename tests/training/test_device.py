"""recipes/device.sh: LM and decoder runs made to travel to a lent GPU and come back as a bundle.

The device has Python and torch but not this package or the corpus; `train` must run it from
the checkout (tts.codecs and tts.speakers linked in as pyproject.toml installs them), the
decoder must train from the audio pack that travelled, and what comes back must be at most 8
files under 16 MiB that `unpack` turns into a bundle of the trained weights."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from trainkit import REPO

from tts.config import save_config
from tts.errors import ConfigError
from tts.synthesizer import Synthesizer

SCRIPT = REPO / "recipes" / "device.sh"


def _stage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = ["bash", str(SCRIPT), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def test_a_device_run_comes_back_in_parts_and_unpacks_to_a_bundle(
    base_run: dict, tokens: Path, tmp_path: Path
) -> None:
    carried = tmp_path / "carried"  # what `pack` fills (here without wheels: nothing is missing)
    env = {
        **os.environ, "DEVICE_DIR": str(carried), "OUT": str(tmp_path / "out"),
        "DEVICE_PY": sys.executable, "PY": sys.executable, "INIT": str(base_run["bundle"]),
        "MINUTES": "30", "DEVICE_CONFIG": str(tmp_path / "config.json"), "NO_WHEELS": "1",
        "OMP_NUM_THREADS": "1", "AUDIO_MIB": "0",
        # the speed job on one sentence in the base bundle's stored voice (no test set named)
        "SPEED_MANIFEST": "", "SPEED_SENTENCES": "1",
        "SPEED_ARGS": "--device cpu --threads 1 --compile off",
    }  # fmt: skip
    done = _stage("pack", str(tokens), env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "MiB (limit 64)" in done.stdout and "no audio packed" in done.stdout
    assert "prepared 1 sentences" in done.stdout and (carried / "speed" / "speed.json").is_file()
    assert not (carried / "audio").exists()
    with tarfile.open(carried / "shards.tar.xz") as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    packed = tmp_path / "unpacked" / "shards" / tokens.name
    # the same shards, with the speaker embeddings as float16
    for path in sorted(tokens.glob("shard-*.safetensors")):
        with safe_open(str(path), "pt") as a, safe_open(str(packed / path.name), "pt") as b:
            keys = set(a.keys())
            assert a.metadata() == b.metadata() and keys == set(b.keys())
            for key in keys:
                x, y = a.get_tensor(key), b.get_tensor(key)
                if key == "speaker":
                    assert y.dtype == torch.float16
                    torch.testing.assert_close(y.float(), x, atol=1e-3, rtol=1e-3)
                else:
                    assert torch.equal(x, y), key
    before = (carried / "shards.tar.xz").read_bytes()
    twice = _stage("pack", f"{tokens},{tokens}", env=env)
    assert twice.returncode != 0 and "two shard folders named" in twice.stderr
    assert (carried / "shards.tar.xz").read_bytes() == before  # a refused pack keeps the last
    cfg = dataclasses.replace(
        base_run["config"], max_steps=3, export_bundle=False, eval_every=100, ckpt_every=100,
        device="cpu", num_workers=0,
    )  # fmt: skip
    save_config(cfg, tmp_path / "config.json")
    out = tmp_path / "out"
    out.mkdir()
    done = _stage("train", env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "[lm] " in done.stdout and "[codec]" not in done.stdout  # no audio: the LM alone
    assert not (out / "codec.tar").exists()
    # the speed job ran first, alone, from what pack prepared, and its figures came back
    assert done.stdout.index("[speed] ") < done.stdout.index("[lm] ")
    speed = json.loads((out / "speed.json").read_text())
    assert speed["reference"] is None and [r["compile"] for r in speed["runs"]] == [False]
    assert speed["runs"][0]["model"]["n"] == 1 and speed["runs"][0]["model"]["rtf"] > 0
    parts = sorted(out.glob("lm.part*"))
    assert parts and all(p.stat().st_size <= 15 * 2**20 for p in parts)
    with tarfile.open(out / "lm.tar") as archive:  # the small files as one
        names = {Path(n).name for n in archive.getnames()}
        assert {"config.json", "train_config.json", "log.csv", "best.json"} <= names
    # validated only at the end: the best weights are the last, and come back once
    assert not list(out.glob("lm_best.part*"))
    assert len(list(out.iterdir())) <= 8  # what the device tool brings back at most

    bundle = tmp_path / "bundle"
    done = _stage("unpack", str(out), str(bundle), env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    trained = load_file(bundle / "model.safetensors")
    base = load_file(Path(base_run["bundle"]) / "model.safetensors")
    assert trained.keys() == base.keys()
    assert all(v.dtype == torch.float16 for v in trained.values() if v.is_floating_point())
    moved = [k for k in base if base[k].is_floating_point() and
             not torch.equal(trained[k], base[k].half())]  # fmt: skip
    assert len(moved) > len(base) // 2  # it trained (not merely rounded to float16)
    lm = Synthesizer.from_pretrained(bundle, device="cpu").lm.state_dict()
    for name, value in trained.items():
        torch.testing.assert_close(lm[name].float(), value.float())

    again = _stage("unpack", str(out), str(bundle), env=env)  # never over an existing folder
    assert again.returncode != 0 and "exists" in again.stderr
    assert (bundle / "model.safetensors").is_file()
    done = _stage("unpack", str(out), str(tmp_path / "best"), env={**env, "LM_WEIGHTS": "best"})
    assert done.returncode != 0 and "no lm_best.part*" in done.stderr
    # LM_WEIGHTS=best takes the best validation loss's weights (here the base's, as if the
    # first validation had been the best)
    half = {k: v.half() if v.is_floating_point() else v for k, v in base.items()}
    save_file(half, tmp_path / "best.safetensors")
    (out / "lm_best.part00").write_bytes((tmp_path / "best.safetensors").read_bytes())
    done = _stage("unpack", str(out), str(tmp_path / "best"), env={**env, "LM_WEIGHTS": "best"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    chosen = load_file(tmp_path / "best" / "model.safetensors")
    assert all(torch.equal(chosen[k], half[k]) for k in half)
    # parts from a run of another architecture are refused, not shipped under the wrong config
    with tarfile.open(out / "lm.tar") as archive:
        archive.extractall(tmp_path / "lm_tar", filter="data")
    config = json.loads((tmp_path / "lm_tar" / "config.json").read_text())
    config["config"]["n_layer"] += 1
    (tmp_path / "lm_tar" / "config.json").write_text(json.dumps(config))
    with tarfile.open(out / "lm.tar", "w") as archive:
        archive.add(tmp_path / "lm_tar", ".")
    done = _stage("unpack", str(out), str(tmp_path / "other"), env=env)
    assert done.returncode != 0 and "differs from the base bundle" in done.stderr
    assert not (tmp_path / "other").exists()  # nothing half-made left behind
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _stage("unpack", str(empty), str(tmp_path / "none"), env=env)
    assert done.returncode != 0 and "no lm.part* files or codec.tar" in done.stderr


def test_the_decoder_trains_from_the_audio_pack_and_comes_back_into_the_bundle(
    base_run: dict,
    tokens: Path,
    codec_dir: Path,
    tokenizer,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    from trainkit import decoder_args, load_script, shards_with_units, unit_lm

    from tts.codecs import load_codec
    from tts.codecs.audio_pack import AudioPack
    from tts.codecs.data import ShardCrops
    from tts.codecs.losses import MultiResolutionLoss
    from tts.data.shards import ShardDataset

    # a base bundle whose codec reads the shards' units, as the shipped one does
    root = shards_with_units(tokens, tokenizer, tmp_path)
    load_script("recipes/train_codec.py").main(
        [*decoder_args(root, codec_dir, tmp_path / "dec"), "model.n_units=8", "max_steps=2"]
    )
    plain = unit_lm(base_run, root, tmp_path)
    parts = (plain.lm, load_codec(tmp_path / "dec"), plain.frontend, plain.speaker_encoder, None,
             plain.voices, plain.config, plain.semantic)  # fmt: skip
    init = Synthesizer(*parts).save(tmp_path / "init")

    carried, out = tmp_path / "carried", tmp_path / "out"
    env = {
        **os.environ, "DEVICE_DIR": str(carried), "OUT": str(out), "DEVICE_PY": sys.executable,
        "PY": sys.executable, "INIT": str(init), "MINUTES": "30", "NO_WHEELS": "1",
        "OMP_NUM_THREADS": "1", "AUDIO_MIB": "2", "VALID_MIB": "1", "AUDIO_MIN_SECONDS": "0.24",
        "SPEED": "0",  # (the speed job: the test above)
        "CODEC_OVERRIDES": "max_steps=3 batch_size=4 num_workers=0 crop_seconds=0.24 device=cpu "
        "warmup_steps=1 lr=3e-3 log_every=1",
    }  # fmt: skip
    too_much = _stage("pack", str(root), env={**env, "AUDIO_MIB": "999"})
    assert too_much.returncode != 0 and "does not fit" in too_much.stderr
    done = _stage("pack", str(root), env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # every train-split utterance of the shards, as Opus, keyed by the path the shards recorded
    train_items = ShardDataset(root, splits=("train",))
    pack = AudioPack(carried / "audio")
    assert sorted(pack.keys()) == sorted(train_items.audio_path(k) for k in range(len(train_items)))
    # and, apart and lossless, the valid split's (the decoder's held-out val_mel)
    valid_items = ShardDataset(root, splits=("valid",))
    valid_pack = AudioPack(carried / "audio_valid")
    assert len(valid_items) > 0 and (carried / "audio_valid" / "audio.flac").is_file()
    keys = [valid_items.audio_path(k) for k in range(len(valid_items))]
    assert sorted(valid_pack.keys()) == sorted(keys)
    clean, sr = sf.read(keys[0], dtype="float32")
    assert sr == 24_000
    np.testing.assert_allclose(valid_pack.audio(keys[0]), clean, atol=1.0 / 32768 + 1e-7)

    # crops read the pack (Opus: not the clean files' samples), with its pitch per 240 samples
    crops = ShardCrops(root, 24_000, 960, crop_frames=6, seed=1, audio=pack)
    assert {crops.items.audio_path(k) for k in crops.usable} <= set(pack.keys())
    for index in range(4):
        wav = crops[index][0]
        k, start = crops.locate(index)
        key = crops.items.audio_path(k)
        expected = pack.audio(key)[start * 960 : (start + 6) * 960]
        np.testing.assert_array_equal(wav.numpy()[: len(expected)], expected)
        f0, voiced = crops.pitch(index, 240)
        assert f0.shape == voiced.shape == (24,)
        np.testing.assert_array_equal(voiced.numpy()[: len(expected) // 240],
                                      pack.pitch(key)[1][start * 4 : start * 4 + 24])  # fmt: skip
    with pytest.raises(ConfigError, match="hop of 200"):
        crops.pitch(0, 200)
    with pytest.raises(ConfigError, match="holds 24000 Hz audio"):
        ShardCrops(root, 16_000, 640, crop_frames=6, audio=pack)
    recipe = load_script("recipes/train_codec.py")
    with pytest.raises(ConfigError, match="give them as units_from"):
        recipe.main(["--out", str(tmp_path / "x"), "--data", str(root),
                     f"audio_from={carried / 'audio'}", "max_steps=1"])  # fmt: skip
    args = [*decoder_args(root, tmp_path / "dec", tmp_path / "y"), "model.n_units=8",
            "model.decoder_kind=source_filter", f"audio_from={carried / 'audio'}"]  # fmt: skip
    with pytest.raises(ConfigError, match="pitch every 240 samples"):
        recipe.main([*args, "model.decoder_upsample=2", "max_steps=1"])
    with pytest.raises(ConfigError, match="--minutes"):
        recipe.main([*args, "--minutes", "-1"])
    # a source-filter decoder trains on the pack's audio and pitch, fitted into 3 seconds: the
    # run times its first steps and lowers max_steps (saved) so that its schedule ends in time
    run = recipe.main([*args, "max_steps=5000", "--minutes", "0.05"])
    assert 1 + 10 < run["step"] < 5000
    saved = json.loads((tmp_path / "y" / "train_config.json").read_text())
    assert saved["max_steps"] == run["step"] and saved["audio_from"] == str(carried / "audio")
    assert all(np.isfinite(h["f0"]) for h in run["history"] if "f0" in h)
    # validation on held-out utterances: val_mel at step 0 (the base's), every valid_every and
    # at the end; best/ holds the lowest one's weights, which measure that again
    valid_args = [*decoder_args(root, tmp_path / "dec", tmp_path / "v"), "model.n_units=8",
                  "model.decoder_kind=source_filter", f"audio_from={carried / 'audio'}",
                  f"valid_from={carried / 'audio_valid'}", "valid_every=2", "max_steps=5",
                  "lr=3e-3", "warmup_steps=1"]  # fmt: skip
    run = recipe.main(valid_args)
    measured = {h["step"]: h["val_mel"] for h in run["history"] if "val_mel" in h}
    assert sorted(measured) == [0, 2, 4, 5] and len(set(measured.values())) > 1
    best = json.loads((tmp_path / "v" / "best.json").read_text())
    assert best["val_mel"] == min(measured.values()) and measured[best["step"]] == best["val_mel"]
    config = recipe.load_config(recipe.TrainConfig, tmp_path / "v" / "train_config.json")
    held_out = recipe.validation_set(config, torch.device("cpu"))
    assert len(held_out) == len(valid_items)
    again = recipe.validate(
        load_codec(tmp_path / "v" / "best").model, held_out, MultiResolutionLoss(24_000)
    )
    assert again == pytest.approx(best["val_mel"], rel=1e-4)
    with pytest.raises(ConfigError, match="must be held out"):
        recipe.main([*valid_args, f"valid_from={carried / 'audio'}"])
    with pytest.raises(ConfigError, match="valid_from needs units_from"):
        recipe.main(["--out", str(tmp_path / "z"), "--data", str(root),
                     f"valid_from={carried / 'audio_valid'}", "max_steps=1"])  # fmt: skip

    out.mkdir()
    done = _stage("train", env={**env, "JOBS": "codec"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "[codec] " in done.stdout and "[lm]" not in done.stdout
    assert "it/s" not in done.stdout + done.stderr  # no progress bar in a remote log
    assert {p.name for p in out.iterdir()} <= {"codec.tar", "codec_best.tar"}
    with tarfile.open(out / "codec.tar") as archive:
        names = set(archive.getnames())
        log = [json.loads(x) for x in archive.extractfile("./log.jsonl").read().splitlines()]
        best = json.loads(archive.extractfile("./best.json").read())
    assert {"./codec/model.safetensors", "./codec/config.json", "./log.jsonl",
            "./train_config.json", "./samples/reference.wav"} <= names  # fmt: skip
    assert (out / "codec.tar").stat().st_size <= 16 * 2**20
    # the job validated on the packed valid split; its best weights come back apart when they
    # are not the last ones
    measured = {h["step"]: h["val_mel"] for h in log if "val_mel" in h}
    assert 0 in measured and 3 in measured and best["val_mel"] == min(measured.values())
    assert (out / "codec_best.tar").exists() == (best["step"] != 3)

    # a base saved before a codec config field existed (speaker_dim) still matches its default
    config_path = init / "codec" / "config.json"
    config = json.loads(config_path.read_text())
    del config["config"]["speaker_dim"]
    config_path.write_text(json.dumps(config))
    bundle = tmp_path / "bundle"
    done = _stage("unpack", str(out), str(bundle), env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    before = load_file(init / "codec" / "model.safetensors")
    after = load_file(bundle / "codec" / "model.safetensors")
    assert after.keys() == before.keys()
    moved = {k for k in before if not torch.equal(after[k], before[k])}
    assert moved and all(k.startswith("decoder.") for k in moved)  # the encoder as it was
    assert "decoder.unit_embedding.weight" in moved
    for name in ("model.safetensors", "config.json"):  # the LM is the base bundle's
        assert (bundle / name).read_bytes() == (init / name).read_bytes()
    decoder = Synthesizer.from_pretrained(bundle, device="cpu").codec.model.state_dict()
    torch.testing.assert_close(
        decoder["decoder.unit_embedding.weight"], after["decoder.unit_embedding.weight"].float()
    )

    # CODEC_WEIGHTS=best takes codec_best.tar's decoder (refused when the last was the best)
    chosen = _stage(
        "unpack", str(out), str(tmp_path / "best"), env={**env, "CODEC_WEIGHTS": "best"}
    )
    if best["step"] == 3:
        assert chosen.returncode != 0 and "no codec_best.tar" in chosen.stderr
    else:
        assert chosen.returncode == 0, chosen.stdout[-2000:] + chosen.stderr[-2000:]
        with tarfile.open(out / "codec_best.tar") as archive:
            archive.extractall(tmp_path / "best_files", filter="data")
        came = load_file(tmp_path / "best_files" / "codec" / "model.safetensors")
        kept = load_file(tmp_path / "best" / "codec" / "model.safetensors")
        assert all(torch.equal(kept[k], came[k]) for k in came if k.startswith("decoder."))

    # a decoder whose encoder moved would change the codes the LM was trained on: refused
    tampered = tmp_path / "tampered"
    with tarfile.open(out / "codec.tar") as archive:
        archive.extractall(tampered / "files", filter="data")
    weights = load_file(tampered / "files" / "codec" / "model.safetensors")
    name = next(k for k in weights if k.startswith("encoder."))
    weights[name] = weights[name] + 1
    save_file(weights, str(tampered / "files" / "codec" / "model.safetensors"))
    (tampered / "back").mkdir()
    with tarfile.open(tampered / "back" / "codec.tar", "w") as archive:
        archive.add(tampered / "files", ".")
    done = _stage("unpack", str(tampered / "back"), str(tmp_path / "bad"), env=env)
    assert done.returncode != 0 and "changed the codec's encoder" in done.stderr
    assert not (tmp_path / "bad").exists()

    # the codec job without audio is refused before anything runs
    bare = _stage("train", env={**env, "JOBS": "codec", "DEVICE_DIR": str(tmp_path / "none")})
    assert bare.returncode != 0 and "has no audio" in bare.stderr


def test_pack_without_folders_takes_the_default_ones_built_here(tokens: Path, tmp_path: Path):
    runs, carried = tmp_path / "runs", tmp_path / "carried"
    runs.mkdir()
    env = {**os.environ, "RUNS": str(runs), "DEVICE_DIR": str(carried), "PY": sys.executable,
           "NO_WHEELS": "1", "AUDIO_MIB": "0", "SPEED": "0"}  # fmt: skip
    done = _stage("pack", env=env)
    assert done.returncode == 2 and "none of the default shard folders" in done.stderr
    (runs / "proof_tokens").symlink_to(tokens, target_is_directory=True)  # a linked folder
    before = {p.name: p.read_bytes() for p in tokens.glob("shard-*.safetensors")}
    done = _stage("pack", env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # its shards travel as files, and the float16 copies never overwrite the originals
    assert {p.name: p.read_bytes() for p in tokens.glob("shard-*.safetensors")} == before
    assert f"skipping {runs}/kokoro_en_tokens" in done.stdout
    assert f"skipping {runs}/words_tokens" in done.stdout
    assert f"skipping {runs}/kokoro_words_tokens" in done.stdout
    with tarfile.open(carried / "shards.tar.xz") as archive:
        members = archive.getmembers()
    assert {Path(m.name).parts[1] for m in members if len(Path(m.name).parts) > 1} == {
        "proof_tokens"
    }
    assert not any(m.issym() for m in members)
    assert sum(m.name.endswith(".safetensors") for m in members) == len(before)
    named = _stage("pack", str(runs / "words_tokens"), env=env)  # a named folder must exist
    assert named.returncode == 2 and "is not a shard folder" in named.stderr
