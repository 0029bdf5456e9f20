"""Give a shard folder semantic units (tts.semantic): fit the tokenizer if needed, then label.

    python recipes/semantic_units.py --shards ~/koe-runs/proof2_tokens \\
        --tokenizer ~/koe-runs/semantic500 --clusters 500 --fit-utterances 1500

When --tokenizer holds no tokenizer yet, one is fitted first: Whisper base's encoder states of
--fit-utterances random training-split utterances (read again from the audio paths the shards
recorded), averaged to the codec's frame rate, k-means into --clusters units. With
--fit-manifest M (and no --shards) only the tokenizer is fitted, from M's training split, so
it can run while the shards are still being made. Then every
utterance gets one unit per codec frame, in sidecar files next to its shard (resumable: rerun
the same command). Train an LM on them with `model.n_semantic=1` (and n_codebooks one more
than the codec's); see configs/lm_proof3_cpu.json.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from safetensors import safe_open

from tts.audio import load_audio
from tts.checkpoint import CONFIG_NAME
from tts.data.shards import add_semantic_units, read_index
from tts.semantic import SemanticConfig, SemanticTokenizer, WhisperEncoder, fit_tokenizer


def training_audio(shards: Path, count: int, seed: int) -> list[str]:
    """Audio paths of `count` random train-split utterances of a shard folder."""
    paths = []
    for shard in read_index(shards)["shards"]:
        with safe_open(str(shards / shard["file"]), framework="pt") as f:
            meta = f.metadata()
        for path, split in zip(json.loads(meta["audio"]), json.loads(meta["splits"]), strict=True):
            if split == "train":
                paths.append(path)
    random.Random(seed).shuffle(paths)
    return paths[:count]


def manifest_audio(manifest: Path, count: int, seed: int) -> list[str]:
    """Audio paths of `count` random train-split utterances of a manifest."""
    from tts.data.manifest import read_manifest

    paths = [str(e.audio) for e in read_manifest(manifest) if e.extra.get("split") == "train"]
    random.Random(seed).shuffle(paths)
    return paths[:count]


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shards", default=None, help="a finished shard folder")
    p.add_argument("--fit-manifest", default=None, help="fit from this manifest, label nothing")
    p.add_argument("--frame-rate", type=float, default=25.0, help="with --fit-manifest")
    p.add_argument("--tokenizer", required=True, help="tokenizer folder (fitted if empty)")
    p.add_argument("--clusters", type=int, default=500)
    p.add_argument("--fit-utterances", type=int, default=1500)
    p.add_argument("--threads", type=int, default=2, help="CPU threads for Whisper's encoder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    if (a.shards is None) == (a.fit_manifest is None):
        p.error("give --shards (fit if needed, then label) or --fit-manifest (fit only)")
    target = Path(a.tokenizer).expanduser().resolve()
    encoder = WhisperEncoder(threads=a.threads)
    if (target / CONFIG_NAME).is_file():
        tokenizer = SemanticTokenizer.load(target, encoder)
    else:
        if a.shards is not None:
            source = Path(a.shards).expanduser()
            frame_rate = read_index(source)["codec"]["frame_rate"]
            paths = training_audio(source, a.fit_utterances, a.seed)
        else:
            source, frame_rate = Path(a.fit_manifest).expanduser(), a.frame_rate
            paths = manifest_audio(source, a.fit_utterances, a.seed)
        config = SemanticConfig(n_clusters=a.clusters, frame_rate=frame_rate)
        clips = [load_audio(path) for path in paths]
        tokenizer = fit_tokenizer(clips, config, encoder, seed=a.seed, progress=not a.no_progress)
        tokenizer.save(target, fitted_on=str(source.resolve()), utterances=len(clips))
    if a.shards is None:
        print(f"fitted {target}")
        return {"tokenizer": str(target)}
    shards = Path(a.shards).expanduser()
    settings = add_semantic_units(shards, tokenizer, str(target), progress=not a.no_progress)
    print(json.dumps(settings, indent=1))
    return settings


if __name__ == "__main__":
    main()
