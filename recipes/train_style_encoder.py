"""Train the style / emotion encoder (GST + prosody, adversarial speaker removal).

    python recipes/train_style_encoder.py MANIFEST --out runs/style [--steps 2000]
    python recipes/train_style_encoder.py --make-demo-corpus data/demo_emotions --out runs/style

MANIFEST is a JSONL manifest in the canonical format of tts.data.manifest; its "emotion" and
"intensity" labels are the targets. `--make-demo-corpus DIR` first synthesises emotional
variants offline (tts.data.prosody WORLD edits of espeak-ng / pyopenjtalk voices). A fifth of the clips is held out; the
recipe reports emotion accuracy, intensity error and identity leakage (nearest-centroid speaker
accuracy from style vectors, to compare with chance), and writes the checkpoint
(model.safetensors + config.json), `metrics.json` and `loss.png`.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from tts.config import apply_overrides
from tts.data.manifest import read_manifest
from tts.labels import EMOTIONS
from tts.speakers.demo_corpus import make_emotion_corpus
from tts.speakers.style_encoder import StyleEncoder, StyleEncoderConfig, StyleLossWeights
from tts.speakers.training import (
    Utterance,
    load_utterances,
    recipe_corpus,
    recipe_parser,
    train_style,
    write_recipe_outputs,
)


def evaluate(model: StyleEncoder, items: list[Utterance], n_speakers: int) -> dict[str, float]:
    styles = torch.cat(
        [
            model.embed_batch([u.wav for u in items[i : i + 16]], 16_000)
            for i in range(0, len(items), 16)
        ]
    )
    with torch.inference_mode():
        emotion = model.emotion_head(styles).argmax(-1)
        intensity = model.intensity_head(styles).squeeze(-1)
    true_emotion = torch.tensor([u.emotion for u in items])
    true_intensity = torch.tensor([u.intensity for u in items])
    speakers = torch.tensor([u.speaker for u in items])
    # Identity leakage: leave-one-out nearest speaker centroid on the style vectors.
    correct = 0
    for i in range(len(items)):
        others = torch.ones(len(items), dtype=torch.bool)
        others[i] = False
        centroids = {
            s: styles[others & (speakers == s)].mean(0)
            for s in speakers.unique().tolist()
            if bool((others & (speakers == s)).any())
        }
        guess = min(centroids, key=lambda s: float((styles[i] - centroids[s]).norm()))
        correct += int(guess == int(speakers[i]))
    return {
        "emotion_accuracy": float((emotion == true_emotion).float().mean()),
        "emotion_chance": float(torch.bincount(true_emotion).max() / len(items)),
        "intensity_mae": float((intensity - true_intensity).abs().mean()),
        "speaker_probe_accuracy": correct / len(items),
        "speaker_chance": 1.0 / max(1, n_speakers),
    }


def main(argv: list[str] | None = None) -> int:
    p = recipe_parser(
        __doc__.splitlines()[0],
        corpus_help="JSONL manifest (tts.data.manifest) with emotion and intensity labels",
        crop_seconds=4.0,
        config_help="StyleEncoderConfig overrides, e.g. n_tokens=16 gru_size=256",
    )
    p.add_argument("--adversary-weight", type=float, default=0.2, help="gradient reversal")
    args = p.parse_args(argv)
    manifest = recipe_corpus(p, args, make_emotion_corpus)

    items, speakers = load_utterances(read_manifest(manifest), with_style=True)
    random.Random(args.seed).shuffle(items)
    n_held = round(args.held_out * len(items)) if len(items) >= 10 else 0
    held, train = items[:n_held], items[n_held:]
    counts = {e: sum(u.emotion == i for u in items) for i, e in enumerate(EMOTIONS)}
    print(f"{len(items)} clips, {len(speakers)} speakers, emotions {counts}")

    config = apply_overrides(StyleEncoderConfig(n_speakers=len(speakers)), args.set)
    model = StyleEncoder(config)
    print(f"style encoder: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters")
    weights = StyleLossWeights(speaker=args.adversary_weight)
    history = train_style(
        model,
        train,
        args.steps,
        args.batch_size,
        args.lr,
        args.crop_seconds,
        weights,
        seed=args.seed,
        device=args.device,
    )
    metrics = evaluate(model, held or train, len(speakers))
    metrics["evaluated_on"] = "held-out clips" if held else "training clips"
    metrics["final_task_loss"] = float(np.mean([h["task"] for h in history[-20:]]))
    out = Path(args.out)
    model.cpu().save(out, speakers=speakers, steps=args.steps, metrics=metrics)
    keys = [k for k in ("task", "emotion", "intensity", "speaker") if k in history[0]]
    curves = {key: [h[key] for h in history] for key in keys}
    write_recipe_outputs(out, metrics, curves, "style encoder")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
