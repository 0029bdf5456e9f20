"""The LM training loop: the loss falls, resume is exact, DDP ranks agree, the bundle works."""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from trainkit import REPO, small_model

from tts.alignment import GuidedAttention
from tts.conditioning import Conditioning
from tts.data.shards import ShardDataset, read_index
from tts.errors import ConfigError
from tts.model import CodecLM
from tts.synthesizer import Synthesizer
from tts.trainer import TrainConfig, model_config_for, text_reliance, train, validation_loss


def test_training_lowers_train_and_validation_loss(base_run: dict, tokens: Path) -> None:
    cfg: TrainConfig = base_run["config"]
    torch.manual_seed(cfg.seed)  # the run's initial weights
    initial = CodecLM(model_config_for(cfg, read_index(tokens)))
    valid = ShardDataset(tokens, ["valid"])
    before = validation_loss(initial, valid, cfg, torch.device("cpu"))
    rows = base_run["history"]
    assert rows[-1]["step"] == 40 and base_run["step"] == 40
    # 16-entry codebooks (see conftest): an untrained model sits near log(16) = 2.77 nats; the
    # voices' code statistics are learnable, the exact unseen sentences are not, so held-out
    # loss falls clearly but cannot approach zero.
    assert rows[-1]["loss"] < 0.8 * rows[0]["loss"]
    assert rows[-1]["val_loss"] < 0.85 * before
    # the CSV log and the plot are written, one column per codebook
    out = Path(base_run["out"])
    with (out / "log.csv").open() as f:
        logged = list(csv.DictReader(f))
    assert [float(r["step"]) for r in logged] == [r["step"] for r in rows]
    assert {"loss_cb0", "loss_cb1", "lr", "grad_norm", "tokens_per_s", "val_loss"} <= set(logged[0])
    assert all(np.isfinite(r["val_text_gain"]) for r in rows if "val_loss" in r)
    assert (out / "loss.png").stat().st_size > 1000


def _resume_config(tokens: Path) -> TrainConfig:
    return TrainConfig(
        data=str(tokens), model=small_model(d_model=32), max_frames=300, max_steps=8,
        lr=2e-3, warmup_steps=2, log_every=1, eval_every=4, ckpt_every=100, seed=9,
        export_bundle=False,
    )  # fmt: skip


def test_resume_continues_exactly(tokens: Path, tmp_path: Path) -> None:
    cfg = _resume_config(tokens)
    straight = train(cfg, tmp_path / "a", progress=False)
    first = train(cfg, tmp_path / "b", stop_after=4, progress=False)
    assert first["step"] == 4 and (tmp_path / "b" / "checkpoint" / "train_state.pt").is_file()
    resumed = train(_resume_config(tokens), tmp_path / "b", progress=False)  # fresh objects
    assert resumed["start_step"] == 4 and resumed["step"] == 8
    assert (resumed["epoch"], resumed["position"]) == (straight["epoch"], straight["position"])
    assert straight["epoch"] >= 1  # the runs crossed an epoch boundary
    a, b = straight["model"].state_dict(), resumed["model"].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    opt_a, opt_b = straight["optimizer"].state_dict(), resumed["optimizer"].state_dict()
    for key, state in opt_a["state"].items():
        for name, value in state.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(opt_b["state"][key][name]))

    def timeless(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "tokens_per_s"} for r in rows]

    # same losses, lr, grad norms and validation losses at every step
    assert timeless(straight["history"]) == timeless(resumed["history"])
    with pytest.raises(ConfigError, match="another model config"):
        other = _resume_config(tokens)
        other.model["n_layer"] = 3
        train(other, tmp_path / "b", progress=False)


def test_a_run_fits_into_minutes(tokens: Path, tmp_path: Path) -> None:
    """`minutes`: the first steps are timed and max_steps lowered to what the time holds, so
    the schedule ends (the learning rate at its floor) inside the budget; saved with the run."""
    from tts.config import load_config

    cfg = _resume_config(tokens)
    cfg.max_steps, cfg.log_every, cfg.eval_every = 100_000, 1, 100_000
    run = train(cfg, tmp_path / "run", progress=False, minutes=0.1)  # 6 s
    assert 11 < run["step"] < 100_000 and cfg.max_steps == run["step"]
    saved = load_config(TrainConfig, tmp_path / "run" / "train_config.json")
    assert saved.max_steps == run["step"]
    lrs = [r["lr"] for r in run["history"]]
    assert lrs[-1] < 0.2 * max(lrs)  # decayed to near min_lr_ratio (0.1) by the last step
    unhurried = _resume_config(tokens)  # a budget the run fits: max_steps stays as configured
    assert train(unhurried, tmp_path / "b", progress=False, minutes=30)["step"] == 8
    with pytest.raises(ConfigError, match="minutes"):
        train(_resume_config(tokens), tmp_path / "c", progress=False, minutes=-1)


def test_two_process_gloo_run_keeps_ranks_in_sync(tokens: Path, tmp_path: Path) -> None:
    config = tmp_path / "cfg.json"
    cfg = _resume_config(tokens)
    cfg.max_frames, cfg.max_steps = 200, 3
    from tts.config import save_config

    save_config(cfg, config)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        str(REPO / "recipes" / "train.py"), "--config", str(config), "--out", str(tmp_path / "run"),
        "--no-progress",
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    check = json.loads((tmp_path / "run" / "ddp_check.json").read_text())
    assert check["agree"] is True and len(check["ranks"]) == 2
    first = [set(r["first_batch"]) for r in check["ranks"]]
    assert first[0] and first[1] and not first[0] & first[1]  # each rank its own batches
    weights = load_file(str(tmp_path / "run" / "checkpoint" / "model.safetensors"))
    torch.manual_seed(cfg.seed)
    initial = CodecLM(model_config_for(cfg, read_index(tokens))).state_dict()
    assert any(not torch.equal(weights[k], initial[k]) for k in initial)  # it trained
    with (tmp_path / "run" / "log.csv").open() as f:
        assert [int(float(r["step"])) for r in csv.DictReader(f)] == [1, 2, 3]


def test_exported_bundle_loads_and_speaks(base_run: dict, tokens: Path) -> None:
    synth = Synthesizer.from_pretrained(base_run["bundle"], device="cpu")
    trained = base_run["model"].state_dict()
    assert all(torch.equal(synth.lm.state_dict()[k], trained[k]) for k in trained)
    assert synth.codec.name == "koe-tiny" and synth.sample_rate == 24_000
    means = ShardDataset(tokens, ["train"]).mean_speaker_embeddings()
    assert set(synth.voices) == {"default", *means}
    assert torch.allclose(synth.voices["default"], next(iter(means.values())))
    audio = synth.synthesize("Good morning.", language="en", seed=1, watermark=False)
    assert audio.sample_rate == 24_000 and audio.wav.size > 0
    assert np.isfinite(audio.wav).all() and np.abs(audio.wav).max() <= 1.0


def test_best_validation_bundle_is_kept(base_run: dict) -> None:
    out = Path(base_run["out"])
    evaluated = [r for r in base_run["history"] if "val_loss" in r]
    best = min(evaluated, key=lambda r: r["val_loss"])
    recorded = json.loads((out / "best.json").read_text())
    assert recorded == {"step": best["step"], "val_loss": best["val_loss"]}
    synth = Synthesizer.from_pretrained(out / "bundle_best", device="cpu")
    if best["step"] == base_run["step"]:  # the last evaluation was the best: same weights
        trained = base_run["model"].state_dict()
        assert all(torch.equal(synth.lm.state_dict()[k], trained[k]) for k in trained)


def test_init_from_a_bundle_with_dropout_and_guided_attention(
    base_run: dict, tokens: Path, tmp_path: Path
) -> None:
    """Continuing a trained bundle with regularisation switched on: the bundle's architecture
    is kept, `model.dropout` still applies, and the guided-attention penalty is logged
    (that optimising it aligns the heads is tests/training/test_alignment.py's job)."""
    cfg = TrainConfig(
        data=str(tokens), init_from=base_run["bundle"], model={"dropout": 0.1},
        max_frames=400, max_steps=30, lr=3e-3, warmup_steps=2, log_every=1, eval_every=30,
        ckpt_every=30, seed=2,
        guided=GuidedAttention(weight=1.0, layers=(0, 1), heads=1, sigma=0.2),
    )  # fmt: skip
    result = train(cfg, tmp_path / "ft", progress=False)
    model = result["model"]
    assert model.config.dropout == 0.1 and model.config.d_model == 64
    rows = result["history"]
    assert all(0 < r["guided"] < 1 for r in rows)
    assert rows[-1]["val_loss"] < 2.77  # still better than chance (log 16) on held-out text
    with (tmp_path / "ft" / "log.csv").open() as f:
        assert "guided" in next(csv.DictReader(f))
    with pytest.raises(ConfigError, match="layers"):
        bad = TrainConfig(data=str(tokens), init_from=base_run["bundle"], max_steps=1)
        bad.guided.weight, bad.guided.layers = 1.0, (5,)
        train(bad, tmp_path / "bad", progress=False)


def test_train_only_moves_the_named_parts_alone(
    base_run: dict, tokens: Path, tmp_path: Path
) -> None:
    """`train_only=speaker_proj,null_speaker`: those tensors move, every other weight of the
    bundle is carried over bit for bit; typos, no init_from and LoRA together are refused."""
    from tts.checkpoint import load_checkpoint

    base, _ = load_checkpoint(base_run["bundle"], kind="codec_lm")
    cfg = TrainConfig(
        data=str(tokens), init_from=base_run["bundle"], train_only="speaker_proj,null_speaker",
        dropout={"speaker": 0.5}, max_frames=400, max_steps=4, lr=1e-2, warmup_steps=1,
        log_every=1, eval_every=4, ckpt_every=4, seed=5,
    )  # fmt: skip
    trained = train(cfg, tmp_path / "spk", progress=False)["model"].state_dict()
    moved = {k for k, v in base.items() if not torch.equal(trained[k].to(v), v)}
    assert moved == {"speaker_proj.weight", "null_speaker"}
    for bad, match in (
        ({"train_only": "speaker_projection"}, "speaker_projection"),
        ({"train_only": " , "}, "train_only"),
        ({"train_only": "speaker_proj", "init_from": ""}, "init_from"),
        ({"train_only": "speaker_proj", "lora_rank": 4}, "lora_rank"),
    ):
        with pytest.raises(ConfigError, match=match):
            train(dataclasses.replace(cfg, **bad), tmp_path / "bad", progress=False)


def test_init_from_a_bundle_adds_a_null_text(base_run: dict, tokens: Path, tmp_path: Path) -> None:
    """A bundle trained without a null text continued with one (`model.null_text`): every base
    weight is carried over, the new vector starts fresh, the text is dropped in training, and
    the exported bundle guides with the text dropped."""
    from tts.checkpoint import load_checkpoint
    from tts.generate import MaxLengthWarning, SamplingConfig, generate
    from tts.model import LMConfig
    from tts.trainer import add_null_text

    base_state, _ = load_checkpoint(base_run["bundle"], kind="codec_lm")
    grown = CodecLM(LMConfig(**{**vars(base_run["model"].config), "null_text": True}))
    state = add_null_text(base_state, grown)
    assert set(state) == set(grown.state_dict()) and "null_text" not in base_state
    assert add_null_text(state, grown) is state  # already there: unchanged
    cfg = TrainConfig(
        data=str(tokens), init_from=base_run["bundle"], model={"null_text": True},
        dropout={"all": 0.3, "text": 0.3}, max_frames=400, max_steps=6, lr=1e-3,
        warmup_steps=2, log_every=1, eval_every=6, ckpt_every=6, seed=3,
    )  # fmt: skip
    result = train(cfg, tmp_path / "nt", progress=False)
    assert result["model"].config.null_text and result["history"][-1]["val_loss"] < 2.77
    synth = Synthesizer.from_pretrained(tmp_path / "nt" / "bundle", device="cpu")
    assert synth.lm.config.null_text and synth.lm.null_text is not None
    ids = torch.randint(1, synth.lm.config.vocab_size, (9,))
    cond = Conditioning(torch.nn.functional.normalize(torch.randn(1, 256), dim=1),
                        torch.tensor([0]), torch.tensor([0.0]), torch.tensor([0]))  # fmt: skip
    strong = SamplingConfig(temperature=0, cfg_scale=3.0)
    with warnings.catch_warnings():  # 12 frames: a short look, not a whole utterance
        warnings.simplefilter("ignore", MaxLengthWarning)
        plain = generate(synth.lm, [ids], cond, SamplingConfig(temperature=0), max_frames=12)
        guided = generate(synth.lm, [ids], cond, strong, max_frames=12)
    assert not torch.equal(plain[0].codes, guided[0].codes)


def test_text_reliance_is_zero_for_a_model_that_cannot_see_the_text(tokens: Path) -> None:
    """Texts of one length: with every phoneme embedding equal the model cannot tell them
    apart, so swapping them changes nothing (gain 0); with distinct embeddings it can."""
    from dataclasses import replace

    class SameLength:  # the validation items, each text cut to the shortest length
        def __init__(self, dataset: ShardDataset) -> None:
            self.items = [dataset[i] for i in range(len(dataset))]
            shortest = min(len(item.phonemes) for item in self.items)
            self.items = [replace(item, phonemes=item.phonemes[:shortest]) for item in self.items]
            self.frames = dataset.frames

        def __getitem__(self, index: int):  # type: ignore[no-untyped-def]
            return self.items[index]

    cfg = TrainConfig(data=str(tokens), model=small_model(), max_frames=400, eval_batches=4)
    torch.manual_seed(0)
    model = CodecLM(model_config_for(cfg, read_index(tokens)))
    valid = SameLength(ShardDataset(tokens, ["valid"]))
    assert abs(text_reliance(model, valid, cfg, torch.device("cpu"))) > 1e-4  # type: ignore[arg-type]
    with torch.no_grad():
        model.phoneme_emb.weight[:] = model.phoneme_emb.weight[1]
    assert abs(text_reliance(model, valid, cfg, torch.device("cpu"))) < 1e-5  # type: ignore[arg-type]


def test_input_noise_is_validated_and_read_from_json(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="input_noise"):
        TrainConfig(input_noise=1.0)
    from tts.trainer import resume_or_new_config

    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"data": "x", "input_noise": 0.1}))
    assert resume_or_new_config(tmp_path / "run", path).input_noise == 0.1


def test_self_input_is_validated_and_read_from_json(tmp_path: Path) -> None:
    for bad in (-0.1, 1.5):
        with pytest.raises(ConfigError, match="self_input"):
            TrainConfig(self_input=bad)
    from tts.trainer import resume_or_new_config

    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"data": "x", "self_input": 0.5}))
    assert resume_or_new_config(tmp_path / "run", path).self_input == 0.5


def test_lm_reliance_spoils_one_input_at_a_time(base_run: dict, tokens: Path) -> None:
    """recipes/lm_reliance.py: the loss under each spoiled input. Spoiling nothing (rate 0) is
    the clean loss exactly; spoiled history changes it, except for a model whose code
    embeddings cannot tell codes apart (it cannot be using its history)."""
    from trainkit import load_script

    recipe = load_script("recipes/lm_reliance.py")
    model = base_run["model"]
    valid = ShardDataset(tokens, ["valid"])
    table = recipe.reliance(model, valid, max_frames=400, batches=2, rates=(0.0, 0.5))
    assert list(table) == ["clean", "text", "history 0.0", "history 0.5"]  # no unit stream
    assert all(len(v) == model.config.n_codebooks for v in table.values())
    assert table["history 0.0"] == pytest.approx(table["clean"], abs=1e-5)
    assert table["history 0.5"] != pytest.approx(table["clean"], abs=1e-4)
    assert table["text"] != pytest.approx(table["clean"], abs=1e-4)
    blind = copy.deepcopy(model)
    with torch.no_grad():
        for emb in blind.code_emb:  # every real code looks the same; BOS/EOS/PAD stay apart
            emb.weight[: blind.config.codebook_size] = emb.weight[0]
    table = recipe.reliance(blind, valid, max_frames=400, batches=2, rates=(0.5,))
    assert table["history 0.5"] == pytest.approx(table["clean"], abs=1e-5)
    out = recipe.main(["--model", base_run["bundle"], "--shards", str(tokens), "--batches", "1",
                       "--max-frames", "400"])  # fmt: skip
    assert set(out) == {"clean", "text", "history 0.2", "history 0.5"}
