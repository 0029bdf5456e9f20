"""Adapt a trained bundle to one voice from a few minutes of its audio.

    python recipes/finetune_voice.py --bundle runs/lm/bundle --data alice.jsonl --name alice \\
        --out runs/alice                                # LoRA (rank 8), 300 steps
    python recipes/finetune_voice.py --bundle ... --data ... --name alice --out ... --lora-rank 0
                                                        # full fine-tuning instead

--data is a JSONL manifest (tts.data.manifest) of that speaker: a folder of wavs plus one line
per clip with its transcript. Utterances marked extra.split "valid"/"test" are held out, else
--held-out clips are picked (deterministically). Steps: tokenise with the bundle's codec and
inventory (OUT/tokens), train with tts.trainer from the bundle's weights, export OUT/bundle
whose voices.safetensors holds the voice's mean speaker embedding as "default" and as --name
(LoRA adapters alone are kept in OUT/checkpoint/adapter).

Held-out check: the held-out sentences are synthesised with the base bundle (conditioned on the
voice's embedding, i.e. zero-shot cloning) and with the fine-tuned bundle; the Resemblyzer
cosine similarity of each to the voice's held-out clips is printed, with PASS when fine-tuning
raised it. Extra `key=value` arguments override tts.trainer.TrainConfig fields.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

import torch

from tts.checkpoint import read_checkpoint_config
from tts.codecs import load_codec
from tts.config import apply_overrides, config_from_dict
from tts.data.manifest import ManifestEntry, read_manifest, write_manifest
from tts.data.shards import ShardDataset, add_semantic_units, tokenize_manifest
from tts.errors import AudioInputError, CheckpointError, ConfigError, ManifestError
from tts.model import CodecLM
from tts.semantic import SemanticTokenizer
from tts.speakers import StyleEncoder, load_speaker_encoder
from tts.synthesizer import PipelineConfig, Synthesizer
from tts.text import SymbolInventory
from tts.trainer import TrainConfig, train, validation_loss

HELD_OUT_SPLITS = ("valid", "test")


def split_voice_data(entries: list[ManifestEntry], held_out: int, seed: int) -> list[ManifestEntry]:
    """Mark every entry train or valid: the manifest's own held-out splits, else `held_out`
    entries picked with a seeded shuffle."""
    if len({e.speaker for e in entries}) != 1:
        speakers = sorted({e.speaker for e in entries})
        raise ManifestError(
            f"the voice manifest must hold one speaker, found {speakers[:5]}; filter it first"
        )
    marked = [e.extra.get("split") in HELD_OUT_SPLITS for e in entries]
    if not any(marked):
        if not 0 <= held_out < len(entries):
            raise ConfigError(f"--held-out must be in 0..{len(entries) - 1}, got {held_out}")
        picked = set(random.Random(seed).sample(range(len(entries)), held_out))
        marked = [i in picked for i in range(len(entries))]
    if all(marked):
        raise ConfigError("every utterance is held out; nothing is left to fine-tune on")
    return [
        e.with_extra(split="valid" if m else "train") for e, m in zip(entries, marked, strict=True)
    ]


def voice_similarity(
    synth: Synthesizer,
    voice: str,
    sentences: list[tuple[str, str]],
    target: torch.Tensor,
    seed: int = 0,
) -> float:
    """Mean cosine similarity of synthesised `sentences` [(text, language)] to `target`."""
    scores = []
    for j, (text, language) in enumerate(sentences):
        audio = synth.synthesize(text, voice, language, seed=seed + j, watermark=False)
        try:
            embedding = synth.speaker_encoder.embed(audio.wav, audio.sample_rate)
        except AudioInputError:  # nothing was generated: counts as dissimilar
            scores.append(0.0)
            continue
        scores.append(float(torch.nn.functional.cosine_similarity(embedding, target, dim=0)))
    return sum(scores) / len(scores)


def tokenize_for_bundle(bundle: Path, manifest: Path, out: Path, progress: bool) -> dict:
    """Shards made with the bundle's own codec, inventory and encoders."""
    pipeline = config_from_dict(PipelineConfig, read_checkpoint_config(bundle)["pipeline"])
    codec_dir = bundle / pipeline.codec
    source = str(codec_dir.resolve()) if codec_dir.is_dir() else pipeline.codec
    speaker_dir = bundle / pipeline.speaker_encoder
    speaker_source = (
        str(speaker_dir.resolve()) if speaker_dir.is_dir() else pipeline.speaker_encoder
    )
    style_encoder = style_source = None
    if pipeline.style_encoder and (bundle / pipeline.style_encoder).is_dir():
        style_source = str((bundle / pipeline.style_encoder).resolve())
        style_encoder = StyleEncoder.load(style_source)
    index = tokenize_manifest(
        manifest,
        out,
        load_codec(source),
        source,
        load_speaker_encoder(speaker_source),
        speaker_source,
        style_encoder,
        style_source,
        inventory=SymbolInventory.load(bundle / pipeline.inventory),
        max_symbols=pipeline.max_symbols,
        progress=progress,
    )
    if predicts_units(
        bundle
    ):  # the LM predicts semantic units first: the new clips need theirs too
        if not pipeline.semantic or not (bundle / pipeline.semantic).is_dir():
            raise CheckpointError(
                f"{bundle}'s LM predicts semantic units but the bundle has no semantic "
                "tokenizer, so new recordings cannot be labelled for fine-tuning"
            )
        source = str((bundle / pipeline.semantic).resolve())
        add_semantic_units(out, SemanticTokenizer.load(source), source, progress=progress)
    return index


def predicts_units(bundle: Path) -> bool:
    """Whether the bundle's LM predicts semantic units (its shards must carry them)."""
    return bool(read_checkpoint_config(bundle)["config"].get("n_semantic", 0))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", required=True, help="the trained model bundle to adapt")
    p.add_argument("--data", required=True, help="JSONL manifest of the target voice")
    p.add_argument("--name", required=True, help="voice name stored in the new bundle")
    p.add_argument("--out", required=True)
    p.add_argument("--lora-rank", type=int, default=8, help="0 = full fine-tuning")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr", type=float, default=None, help="default 1e-3 (LoRA) / 1e-4 (full)")
    p.add_argument("--held-out", type=int, default=3, help="clips kept for the check")
    p.add_argument("--check-sentences", type=int, default=3, help="0 skips the check")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("overrides", nargs="*", help="TrainConfig key=value overrides")
    a = p.parse_args(argv)
    bundle, out = Path(a.bundle), Path(a.out)
    progress = not a.no_progress

    entries = split_voice_data(read_manifest(a.data, check_audio=True), a.held_out, a.seed)
    out.mkdir(parents=True, exist_ok=True)
    manifest = write_manifest(out / "manifest.jsonl", entries)
    tokenize_for_bundle(bundle, manifest, out / "tokens", progress)

    lora = a.lora_rank > 0
    cfg = TrainConfig(
        data=str(out / "tokens"),
        init_from=str(bundle),
        lora_rank=a.lora_rank,
        voice_name=a.name,
        max_steps=a.steps,
        lr=a.lr if a.lr is not None else (1e-3 if lora else 1e-4),
        warmup_steps=min(20, max(1, a.steps // 10)),
        weight_decay=0.0 if lora else 0.01,
        max_frames=2000,
        eval_every=max(1, a.steps // 5),
        ckpt_every=a.steps,
        log_every=max(1, a.steps // 20),
        seed=a.seed,
    )
    cfg = apply_overrides(cfg, a.overrides)
    units = predicts_units(bundle)
    held_out_set = ShardDataset(out / "tokens", ["valid"], units)
    before_loss = None
    if len(held_out_set):  # the base model's loss on the voice's held-out clips
        before_loss = validation_loss(CodecLM.load(bundle), held_out_set, cfg, torch.device("cpu"))
    result = train(cfg, out, progress=progress)
    rows = [r for r in result["history"] if "val_loss" in r]
    report: dict[str, Any] = {
        "bundle": result["bundle"],
        "val_loss_before": before_loss,
        "val_loss_after": rows[-1]["val_loss"] if rows else None,
    }

    held = [e for e in entries if e.extra["split"] == "valid"]
    if a.check_sentences > 0 and held and result["bundle"]:
        target = next(
            iter(ShardDataset(out / "tokens", ["valid"], units).mean_speaker_embeddings().values())
        )
        voice = next(
            iter(ShardDataset(out / "tokens", ["train"], units).mean_speaker_embeddings().values())
        )
        sentences = [(e.text, e.language) for e in held[: a.check_sentences]]
        before = Synthesizer.from_pretrained(bundle, device="cpu")
        before.voices["__target__"] = voice
        after = Synthesizer.from_pretrained(result["bundle"], device="cpu")
        report["similarity_before"] = voice_similarity(
            before, "__target__", sentences, target, a.seed
        )
        report["similarity_after"] = voice_similarity(after, "default", sentences, target, a.seed)
        report["passed"] = report["similarity_after"] > report["similarity_before"]
        verdict = "PASS" if report["passed"] else "FAIL"
        print(
            f"held-out speaker similarity: before {report['similarity_before']:.3f}, "
            f"after {report['similarity_after']:.3f} -> {verdict}"
        )
    (out / "finetune_report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))
    report["result"] = result
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
