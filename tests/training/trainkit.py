"""Helpers of the training tests (this folder is put on sys.path by conftest.py, because
pytest's importlib mode keeps test folders off it)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VOICES = ("espeak-en-us+m3", "espeak-en-us+f2")
TARGET_VOICE = "espeak-en-us+m3"


def load_script(relative: str):  # type: ignore[no-untyped-def]
    key = "_training_test_" + relative.replace("/", "_").removesuffix(".py")
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, REPO / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


def small_model(**extra: object) -> dict:
    """LMConfig overrides that keep CPU steps fast (and synthesis short)."""
    return {"d_model": 64, "n_layer": 2, "n_head": 2, "max_seq_len": 512,
            "max_frames_per_phoneme": 1.0, "max_frames_offset": 10, **extra}  # fmt: skip


def shards_with_units(tokens: Path, tokenizer, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A copy of the test shards labelled with `tokenizer`'s units."""
    from tts.data.shards import add_semantic_units

    root = tmp_path / "tokens"
    shutil.copytree(tokens, root)
    tokenizer.save(tmp_path / "units")
    add_semantic_units(root, tokenizer, str((tmp_path / "units").resolve()), progress=False)
    return root


def decoder_args(root: Path, codec_dir: Path, out: Path) -> list[str]:
    """recipes/train_codec.py arguments that train a tiny decoder on `root`'s shards."""
    return ["--out", str(out), "--preset", "tiny", "model.fsq_levels=[4,4]",
            f"units_from={root}", f"init_from={codec_dir}", "train_encoder=false",
            "crop_seconds=0.24", "num_workers=0", "warmup_steps=2", "lr=3e-3", "batch_size=4",
            "log_every=1", "sample_every=100"]  # fmt: skip


def unit_lm(base_run: dict, root: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The base run's LM continued 2 steps with a unit stream in front, as a synthesizer."""
    from tts.data.shards import read_index
    from tts.synthesizer import Synthesizer
    from tts.trainer import TrainConfig, train

    k = read_index(root)["codec"]["n_codebooks"]
    cfg = TrainConfig(
        data=str(root), init_from=base_run["bundle"], model={"n_semantic": 1, "n_codebooks": k + 1},
        max_frames=400, max_steps=2, lr=3e-3, warmup_steps=1, log_every=1, eval_every=2,
        ckpt_every=2, seed=4,
    )  # fmt: skip
    train(cfg, tmp_path / "lm", progress=False)
    return Synthesizer.from_pretrained(tmp_path / "lm" / "bundle", device="cpu")
