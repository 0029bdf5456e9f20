"""Data loading, training loops and the shared command-line plumbing of the speaker (ECAPA)
and style encoder recipes.

The recipes in `recipes/` are thin command lines over these functions; the tests call them
directly with tiny models and a handful of steps.

Corpora: a canonical JSONL manifest (`tts.data.manifest`; the style encoder uses its "emotion"
and "intensity"), or, for speaker training only, a directory with one subfolder of audio files
per speaker.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from tts.data.importers import audio_files
from tts.data.manifest import ManifestEntry, read_manifest
from tts.errors import ManifestError, ReferenceAudioError
from tts.labels import EMOTIONS
from tts.speakers.ecapa import AAMSoftmax, EcapaTdnn
from tts.speakers.features import pad_batch, prosody_features
from tts.speakers.reference import SAMPLE_RATE, ReferenceAudioWarning, load_reference
from tts.speakers.speaker_encoder import SpeakerEncoder
from tts.speakers.style_encoder import StyleEncoder, StyleLossWeights, style_losses


@dataclass
class Utterance:
    wav: np.ndarray  # processed reference audio, float32 at 16 kHz
    speaker: int
    emotion: int = 0
    intensity: float = 0.0
    prosody: np.ndarray | None = None


@dataclass(frozen=True)
class SpeakerClip:
    """An audio file and its speaker: all a speaker-per-subfolder corpus says (no text)."""

    audio: Path
    speaker: str


def read_speaker_corpus(corpus: str | Path) -> list[ManifestEntry] | list[SpeakerClip]:
    """The clips of a JSONL manifest, or of a directory with one subfolder per speaker."""
    corpus = Path(corpus)
    if not corpus.is_dir():
        return read_manifest(corpus)
    clips = [
        SpeakerClip(f, d.name)
        for d in sorted(p for p in corpus.iterdir() if p.is_dir())
        for f in audio_files(d)
    ]
    if not clips:
        raise ManifestError(f"{corpus} has no speaker subfolders with audio files")
    return clips


def load_utterances(
    clips: Sequence[ManifestEntry] | Sequence[SpeakerClip], with_style: bool = False
) -> tuple[list[Utterance], list[str]]:
    """Clean every clip with `load_reference`; unusable clips are skipped with a warning.

    `with_style` needs manifest entries (their emotion and intensity labels). Returns the
    utterances and the sorted speaker names (index = Utterance.speaker).
    """
    if not clips:
        raise ManifestError("no clips to train on")
    if with_style and not all(isinstance(c, ManifestEntry) for c in clips):
        raise ManifestError("style training needs manifest entries with emotion labels")
    speakers = sorted({c.speaker for c in clips})
    index = {s: i for i, s in enumerate(speakers)}
    items, skipped = [], 0
    for clip_info in tqdm(clips, desc="loading clips", leave=False):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ReferenceAudioWarning)
                clip = load_reference(clip_info.audio)
        except ReferenceAudioError:
            skipped += 1
            continue
        item = Utterance(clip.wav, index[clip_info.speaker])
        if isinstance(clip_info, ManifestEntry) and with_style:
            item.emotion = EMOTIONS.index(clip_info.emotion)
            # Neutral has no strength: its intensity target is 0 whatever the manifest says.
            item.intensity = 0.0 if clip_info.emotion == "neutral" else clip_info.intensity
            item.prosody = prosody_features(clip.wav, SAMPLE_RATE)
        items.append(item)
    if skipped:
        warnings.warn(f"skipped {skipped} unusable clip(s) of {len(clips)}", stacklevel=2)
    if len({i.speaker for i in items}) < 2 and not with_style:
        raise ManifestError("speaker training needs clips from at least two speakers")
    return items, speakers


def random_crop(wav: np.ndarray, samples: int, rng: random.Random) -> np.ndarray:
    if len(wav) <= samples:
        return wav
    start = rng.randrange(len(wav) - samples + 1)
    return wav[start : start + samples]


def batches(
    items: list[Utterance], batch_size: int, crop_seconds: float, seed: int
) -> Iterator[tuple[list[Utterance], torch.Tensor, torch.Tensor]]:
    """Endless random batches: (items, [B, T] cropped audio, [B] lengths)."""
    rng = random.Random(seed)
    crop = int(crop_seconds * SAMPLE_RATE)
    while True:
        chosen = [rng.choice(items) for _ in range(batch_size)]
        wav, lengths = pad_batch([random_crop(u.wav, crop, rng) for u in chosen])
        yield chosen, wav, lengths


def train_ecapa(
    model: EcapaTdnn,
    items: list[Utterance],
    n_speakers: int,
    steps: int,
    batch_size: int = 16,
    lr: float = 1e-3,
    crop_seconds: float = 2.0,
    margin: float = 0.2,
    seed: int = 0,
    device: str = "cpu",
) -> list[float]:
    """Train `model` in place with AAM-softmax; returns the loss of every step."""
    torch.manual_seed(seed)
    head = AAMSoftmax(model.config.embedding_dim, n_speakers, margin=margin).to(device)
    params = list(model.parameters()) + list(head.parameters())
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    model.to(device).train()
    losses = []
    data = batches(items, batch_size, crop_seconds, seed)
    for _ in (bar := tqdm(range(steps), desc="speaker encoder", leave=False)):
        chosen, wav, lengths = next(data)
        labels = torch.tensor([u.speaker for u in chosen], device=device)
        loss, _ = head(model(wav.to(device), lengths.to(device)), labels)
        _optimise(optimiser, loss, params)
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    return losses


def train_style(
    model: StyleEncoder,
    items: list[Utterance],
    steps: int,
    batch_size: int = 16,
    lr: float = 1e-3,
    crop_seconds: float = 4.0,
    weights: StyleLossWeights | None = None,
    seed: int = 0,
    device: str = "cpu",
) -> list[dict[str, float]]:
    """Train `model` in place; returns every step's losses (see `style_losses`)."""
    torch.manual_seed(seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    model.to(device).train()
    history = []
    data = batches(items, batch_size, crop_seconds, seed)
    for step in (bar := tqdm(range(steps), desc="style encoder", leave=False)):
        chosen, wav, lengths = next(data)
        # Ramp the gradient reversal in (DANN schedule) so the encoder first learns the task.
        ramp = 2.0 / (1.0 + math.exp(-10.0 * step / max(1, steps))) - 1.0
        base = weights or StyleLossWeights()
        now = StyleLossWeights(base.intensity, base.speaker * ramp, base.table)
        losses = style_losses(
            model,
            wav.to(device),
            lengths.to(device),
            torch.from_numpy(np.stack([u.prosody for u in chosen])).to(device),
            torch.tensor([u.emotion for u in chosen], device=device),
            torch.tensor([u.intensity for u in chosen], dtype=torch.float32, device=device),
            torch.tensor([u.speaker for u in chosen], device=device),
            now,
        )
        _optimise(optimiser, losses["total"], list(model.parameters()))
        history.append({k: float(v.detach()) for k, v in losses.items()})
        bar.set_postfix(task=f"{history[-1]['task']:.3f}")
    model.eval()
    return history


def _optimise(
    optimiser: torch.optim.Optimizer, loss: torch.Tensor, params: list[torch.nn.Parameter]
) -> None:
    """One step; gradients are clipped because AAM margins and gradient reversal can spike."""
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 5.0)
    optimiser.step()


def separation(embeddings: torch.Tensor, labels: list[int]) -> dict[str, float]:
    """Mean same-label and different-label cosine, and the equal error rate, of [N, D]
    L2-normalised embeddings."""
    sims = embeddings @ embeddings.T
    lab = torch.tensor(labels)
    same = lab[:, None] == lab[None, :]
    upper = torch.triu(torch.ones_like(same), diagonal=1)
    pos, neg = sims[same & upper], sims[~same & upper]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("separation needs at least two labels with two items each")
    scores = torch.cat([pos, neg])
    truth = torch.cat([torch.ones_like(pos), torch.zeros_like(neg)])
    eer = 1.0
    for threshold in scores.unique():
        accept = scores >= threshold
        far = float((accept & (truth == 0)).sum() / len(neg))
        frr = float((~accept & (truth == 1)).sum() / len(pos))
        eer = min(eer, max(far, frr))
    return {"same": float(pos.mean()), "different": float(neg.mean()), "eer": eer}


def embed_items(encoder: SpeakerEncoder, items: list[Utterance], batch: int = 16) -> torch.Tensor:
    parts = [
        encoder.embed_batch([u.wav for u in items[i : i + batch]], SAMPLE_RATE)
        for i in range(0, len(items), batch)
    ]
    return F.normalize(torch.cat(parts), dim=1)


# ---- command-line plumbing shared by recipes/train_speaker_encoder.py and train_style_encoder.py


def recipe_parser(
    description: str, corpus_help: str, crop_seconds: float, config_help: str
) -> argparse.ArgumentParser:
    """The options both encoder recipes take; each adds its own on top."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("corpus", nargs="?", help=corpus_help)
    p.add_argument("--make-demo-corpus", metavar="DIR", help="synthesise a demo corpus first")
    p.add_argument("--out", required=True, help="checkpoint directory to write")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--crop-seconds", type=float, default=crop_seconds)
    p.add_argument("--held-out", type=float, default=0.2, help="fraction of clips to evaluate on")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help=config_help)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=0)
    return p


def recipe_corpus(
    parser: argparse.ArgumentParser, args: argparse.Namespace, make_demo: Callable[[str], Path]
) -> Path:
    """CORPUS, or the manifest of a demo corpus that `make_demo` synthesises into
    --make-demo-corpus DIR."""
    if args.make_demo_corpus:
        manifest = make_demo(args.make_demo_corpus)
        print(f"demo corpus: {manifest}")
        return manifest
    if not args.corpus:
        parser.error("give a CORPUS or --make-demo-corpus DIR")
    return Path(args.corpus)


def write_recipe_outputs(
    out: Path, metrics: dict[str, object], curves: dict[str, list[float]], title: str
) -> None:
    """metrics.json and loss.png (each curve per step, faint, and its running mean)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    window = max(1, max(len(values) for values in curves.values()) // 20)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in curves.items():
        (line,) = ax.plot(values, alpha=0.25, linewidth=0.8)
        smooth = np.convolve(values, np.ones(window) / window, mode="valid")
        label = f"{name} (mean of {window})" if window > 1 else name
        ax.plot(np.arange(window - 1, len(values)), smooth, color=line.get_color(), label=label)
    ax.set(xlabel="step", ylabel="loss", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "loss.png", dpi=120)
    plt.close(fig)
    print(json.dumps(metrics, indent=2))
    print(f"wrote {out}")
