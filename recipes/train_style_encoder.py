"""Train the style / emotion encoder (GST + prosody, adversarial speaker removal).

    python recipes/train_style_encoder.py MANIFEST --out runs/style [--steps 2000]
    python recipes/train_style_encoder.py --make-demo-corpus data/demo_emotions --out runs/style

MANIFEST is JSONL with "audio", "speaker", "emotion" (one of tts.labels.EMOTIONS) and
"intensity" (>= 0). `--make-demo-corpus DIR` first synthesises emotional variants offline
(WORLD prosody edits of espeak-ng / pyopenjtalk voices). A fifth of the clips is held out; the
recipe reports emotion accuracy, intensity error and identity leakage (nearest-centroid speaker
accuracy from style vectors, to compare with chance), and writes the checkpoint
(model.safetensors + config.json), `metrics.json` and `loss.png`.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from tts.config import apply_overrides
from tts.labels import EMOTIONS
from tts.speakers.demo_corpus import make_emotion_corpus
from tts.speakers.style_encoder import StyleEncoder, StyleEncoderConfig, StyleLossWeights
from tts.speakers.training import Utterance, load_utterances, read_manifest, train_style


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


def plot_history(history: list[dict[str, float]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    window = max(1, len(history) // 20)
    for key in ("task", "emotion", "intensity", "speaker"):
        if key in history[0]:
            values = np.convolve([h[key] for h in history], np.ones(window) / window, "valid")
            ax.plot(np.arange(window - 1, len(history)), values, label=key)
    ax.set(xlabel="step", ylabel=f"loss (mean of {window})", title="style encoder")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("manifest", nargs="?", help="JSONL: audio, speaker, emotion, intensity")
    p.add_argument("--make-demo-corpus", metavar="DIR", help="synthesise a demo corpus first")
    p.add_argument("--out", required=True, help="checkpoint directory to write")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--crop-seconds", type=float, default=4.0)
    p.add_argument("--adversary-weight", type=float, default=0.2, help="gradient reversal")
    p.add_argument("--held-out", type=float, default=0.2)
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="StyleEncoderConfig overrides, e.g. n_tokens=16 gru_size=256",
    )
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    if args.make_demo_corpus:
        manifest = make_emotion_corpus(args.make_demo_corpus)
        print(f"demo corpus: {manifest}")
    elif args.manifest:
        manifest = Path(args.manifest)
    else:
        p.error("give a MANIFEST or --make-demo-corpus DIR")

    rows = read_manifest(manifest, ("audio", "speaker", "emotion", "intensity"))
    items, speakers = load_utterances(rows, with_style=True)
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
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    plot_history(history, out / "loss.png")
    print(json.dumps(metrics, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
