"""Data loading and training loops for the speaker (ECAPA) and style encoders.

The recipes in `recipes/` are thin command lines over these functions; the tests call them
directly with tiny models and a handful of steps.

Corpora: a JSONL manifest (one object per line; "audio" relative to the manifest's folder or
absolute, plus "speaker", and for the style encoder "emotion" and "intensity"), or, for speaker
training only, a directory with one subfolder of audio files per speaker.
"""

from __future__ import annotations

import json
import math
import random
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from tts.errors import ManifestError, ReferenceAudioError
from tts.labels import EMOTIONS, check_emotion
from tts.speakers.ecapa import AAMSoftmax, EcapaTdnn
from tts.speakers.features import pad_batch, prosody_features
from tts.speakers.reference import SAMPLE_RATE, ReferenceAudioWarning, load_reference
from tts.speakers.speaker_encoder import SpeakerEncoder
from tts.speakers.style_encoder import StyleEncoder, StyleLossWeights, style_losses

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


@dataclass
class Utterance:
    wav: np.ndarray  # processed reference audio, float32 at 16 kHz
    speaker: int
    emotion: int = 0
    intensity: float = 0.0
    prosody: np.ndarray | None = None


def read_manifest(path: str | Path, fields: tuple[str, ...]) -> list[dict]:
    """Rows of a JSONL manifest with `fields` required; audio paths made absolute."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest {path} does not exist")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{path}:{number}: not valid JSON ({exc})") from exc
        if not isinstance(row, dict):
            raise ManifestError(f"{path}:{number}: expected a JSON object")
        missing = [f for f in fields if f not in row]
        if missing:
            raise ManifestError(f"{path}:{number}: missing field(s) {missing}")
        audio = Path(row["audio"])
        row["audio"] = str(audio if audio.is_absolute() else path.parent / audio)
        if "emotion" in fields:
            try:
                row["emotion"] = check_emotion(row["emotion"])
                row["intensity"] = float(row["intensity"])
            except (ValueError, TypeError) as exc:
                raise ManifestError(f"{path}:{number}: {exc}") from exc
            if not math.isfinite(row["intensity"]) or row["intensity"] < 0:
                raise ManifestError(f"{path}:{number}: intensity must be finite and >= 0")
        rows.append(row)
    if not rows:
        raise ManifestError(f"manifest {path} has no entries")
    return rows


def speaker_rows(corpus: str | Path) -> list[dict]:
    """{"audio", "speaker"} rows from a JSONL manifest or a speaker-per-subfolder directory."""
    corpus = Path(corpus)
    if corpus.is_dir():
        rows = [
            {"audio": str(f), "speaker": d.name}
            for d in sorted(p for p in corpus.iterdir() if p.is_dir())
            for f in sorted(d.iterdir())
            if f.suffix.lower() in AUDIO_SUFFIXES
        ]
        if not rows:
            raise ManifestError(f"{corpus} has no speaker subfolders with audio files")
        return rows
    return read_manifest(corpus, ("audio", "speaker"))


def load_utterances(
    rows: list[dict], with_style: bool = False
) -> tuple[list[Utterance], list[str]]:
    """Clean every clip with `load_reference`; unusable clips are skipped with a warning.

    Returns the utterances and the sorted speaker names (index = Utterance.speaker).
    """
    speakers = sorted({str(r["speaker"]) for r in rows})
    index = {s: i for i, s in enumerate(speakers)}
    items, skipped = [], 0
    for row in tqdm(rows, desc="loading clips", leave=False):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ReferenceAudioWarning)
                clip = load_reference(row["audio"])
        except ReferenceAudioError:
            skipped += 1
            continue
        item = Utterance(clip.wav, index[str(row["speaker"])])
        if with_style:
            item.emotion = EMOTIONS.index(row["emotion"])
            # Neutral has no strength: its intensity target is 0 whatever the manifest says.
            item.intensity = 0.0 if row["emotion"] == "neutral" else row["intensity"]
            item.prosody = prosody_features(clip.wav, SAMPLE_RATE)
        items.append(item)
    if skipped:
        warnings.warn(f"skipped {skipped} unusable clip(s) of {len(rows)}", stacklevel=2)
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
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        optimiser.step()
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
        optimiser.zero_grad(set_to_none=True)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimiser.step()
        history.append({k: float(v.detach()) for k, v in losses.items()})
        bar.set_postfix(task=f"{history[-1]['task']:.3f}")
    model.eval()
    return history


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
