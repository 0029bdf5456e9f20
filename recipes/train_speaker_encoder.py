"""Train the ECAPA-TDNN speaker encoder on a multi-speaker corpus.

    python recipes/train_speaker_encoder.py CORPUS --out runs/ecapa [--steps 2000]
    python recipes/train_speaker_encoder.py --make-demo-corpus data/demo_speakers --out runs/ecapa

CORPUS is a folder with one subfolder of audio files per speaker, or a JSONL manifest with
"audio" and "speaker". `--make-demo-corpus DIR` first synthesises a small offline corpus
(espeak-ng voice variants + pyopenjtalk) into DIR and trains on it. A fifth of each speaker's
clips is held out; the recipe reports same/different-speaker cosine and EER on them, for the
trained model and for the pretrained Resemblyzer baseline, writes the checkpoint
(model.safetensors + config.json), `metrics.json` and a loss plot `loss.png`.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import asdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from tts.config import apply_overrides
from tts.speakers.demo_corpus import make_speaker_corpus
from tts.speakers.ecapa import EcapaConfig, EcapaTdnn
from tts.speakers.speaker_encoder import EcapaEncoder, GE2EEncoder, save_ecapa
from tts.speakers.training import (
    Utterance,
    embed_items,
    load_utterances,
    separation,
    speaker_rows,
    train_ecapa,
)


def split_per_speaker(
    items: list[Utterance], fraction: float, seed: int
) -> tuple[list[Utterance], list[Utterance]]:
    rng = random.Random(seed)
    train, held = [], []
    for speaker in sorted({u.speaker for u in items}):
        group = [u for u in items if u.speaker == speaker]
        rng.shuffle(group)
        n_held = max(1, round(fraction * len(group))) if len(group) >= 3 else 0
        held += group[:n_held]
        train += group[n_held:]
    return train, held


def plot_losses(losses: list[float], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses, alpha=0.35, label="step")
    window = max(1, len(losses) // 20)
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    ax.plot(np.arange(window - 1, len(losses)), smooth, label=f"mean of {window}")
    ax.set(xlabel="step", ylabel="AAM-softmax loss", title="ECAPA speaker encoder")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus", nargs="?", help="speaker-per-folder directory or JSONL manifest")
    p.add_argument("--make-demo-corpus", metavar="DIR", help="synthesise a demo corpus first")
    p.add_argument("--clips-per-speaker", type=int, default=8, help="for --make-demo-corpus")
    p.add_argument("--out", required=True, help="checkpoint directory to write")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--crop-seconds", type=float, default=2.0)
    p.add_argument("--held-out", type=float, default=0.2, help="fraction of clips per speaker")
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="EcapaConfig overrides, e.g. channels=256 mel.n_mels=64",
    )
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    if args.make_demo_corpus:
        corpus = make_speaker_corpus(
            args.make_demo_corpus, clips_per_speaker=args.clips_per_speaker
        )
        print(f"demo corpus: {corpus}")
    elif args.corpus:
        corpus = Path(args.corpus)
    else:
        p.error("give a CORPUS or --make-demo-corpus DIR")

    items, speakers = load_utterances(speaker_rows(corpus))
    train, held = split_per_speaker(items, args.held_out, args.seed)
    print(f"{len(items)} clips, {len(speakers)} speakers; {len(train)} train, {len(held)} held out")

    config = apply_overrides(EcapaConfig(), args.set)
    model = EcapaTdnn(config)
    print(f"ECAPA-TDNN: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters")
    losses = train_ecapa(
        model,
        train,
        len(speakers),
        args.steps,
        args.batch_size,
        args.lr,
        args.crop_seconds,
        seed=args.seed,
        device=args.device,
    )

    out = Path(args.out)
    metrics: dict[str, object] = {"final_loss": float(np.mean(losses[-20:]))}
    eval_set = held if len({u.speaker for u in held}) >= 2 else train
    labels = [u.speaker for u in eval_set]
    metrics["ecapa"] = separation(embed_items(EcapaEncoder(model, args.device), eval_set), labels)
    metrics["resemblyzer"] = separation(embed_items(GE2EEncoder(args.device), eval_set), labels)
    metrics["evaluated_on"] = "held-out clips" if eval_set is held else "training clips"
    save_ecapa(model.cpu(), out, speakers=speakers, steps=args.steps, metrics=metrics)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    plot_losses(losses, out / "loss.png")
    print(json.dumps({"config": asdict(config), **metrics}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
