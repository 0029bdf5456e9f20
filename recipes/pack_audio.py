"""Pack the audio of token shards into an Opus audio pack (tts.codecs.audio_pack), within a size.

    python recipes/pack_audio.py --shards runs/proof_tokens,runs/kokoro_en_tokens \
        --out .device/audio --mib 12 --kbps 48

For training a decoder where the corpus is not (a lent GPU; recipes/device.sh): with
`recipes/train_codec.py units_from=<the same shards> audio_from=<the pack>`, crops read their
audio and pitch targets from the pack, keyed by the audio path each shard recorded.

Which utterances: those of --splits at least --min-seconds long (a shorter one holds no
training crop), taken round-robin over the voices in a seeded shuffle, so that a size limit
keeps every voice and drops utterances evenly; they stop when the next would pass --mib at
--kbps (with 10% for Opus's variable rate; --kbps 0: lossless 16-bit FLAC, counted as 1.3 bytes
a sample, about 1.08 on this project's speech) plus 3 bytes of pitch targets per --hop. The
real size is printed. The pitch targets are WORLD's (F0 and voicing per --hop samples, the
source-filter decoder's frame; default: the codec's) on the clean audio of each whole
utterance.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tts.audio import load_audio, resample
from tts.checkpoint import read_checkpoint_config
from tts.codecs.audio_pack import write_audio_pack
from tts.codecs.koe import find_checkpoint_dir
from tts.codecs.model import CodecConfig
from tts.config import config_from_dict
from tts.data.shards import ShardDataset
from tts.errors import ConfigError

# Opus codes speech at a variable rate: on the synthetic corpus at 16 kbit/s asked, 17.4 came
# out (2,201 utterances, 1.74 h); the size estimate allows 10% more.
VBR_MARGIN = 1.1
PITCH_BYTES = 3  # per pitch frame: F0 as float16, voicing as uint8
LOSSLESS_BYTES = 1.3  # per sample of 16-bit FLAC (measured 1.08 on speech), for the estimate


def choose(
    items: ShardDataset, bytes_per_second: float, budget_bytes: float, min_seconds: float,
    seed: int,
) -> list[int]:  # fmt: skip
    """Item indices to pack: round-robin over the voices in a seeded order, within the budget
    at `bytes_per_second` of audio (the stream and the pitch targets)."""
    frame_rate = float(items.codec_info["frame_rate"])
    by_voice: dict[str, list[int]] = {}
    for k, voice in enumerate(items.speaker_ids()):
        if items.frames[k] / frame_rate >= min_seconds:
            by_voice.setdefault(voice, []).append(k)
    rng = random.Random(seed)
    queues = [by_voice[v] for v in sorted(by_voice)]
    for queue in queues:
        rng.shuffle(queue)
    chosen, size = [], 0.0
    for turn in range(max((len(q) for q in queues), default=0)):
        for queue in queues:
            if turn >= len(queue):
                continue
            k = queue[turn]
            more = items.frames[k] / frame_rate * bytes_per_second
            if size + more > budget_bytes:
                return chosen
            chosen.append(k)
            size += more
    return chosen


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shards", required=True, help="token shard folder(s), 'a,b'")
    p.add_argument("--out", required=True, help="the pack folder (must not exist)")
    p.add_argument("--mib", type=float, default=12.0, help="size limit of the audio, MiB")
    p.add_argument(
        "--kbps",
        type=float,
        default=48.0,
        help="Opus bitrate, kbit/s (tts.codecs.audio_pack); 0: lossless (FLAC)",
    )
    p.add_argument("--codec", default="tts/pretrained/default/codec", help="the codec to train")
    p.add_argument("--hop", type=int, default=0, help="pitch frame, samples (0: the codec's)")
    p.add_argument("--splits", default="train", help="comma-separated shard splits")
    p.add_argument("--min-seconds", type=float, default=1.92, help="the training crop's length")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)

    out = Path(args.out)
    if out.exists():
        raise ConfigError(f"{out} exists: give pack_audio a new folder")
    if args.mib <= 0:
        raise ConfigError(f"--mib must be positive, got {args.mib}")
    codec = config_from_dict(
        CodecConfig, read_checkpoint_config(find_checkpoint_dir(args.codec))["config"]
    )
    sample_rate, hop = codec.sample_rate, args.hop or codec.istft_hop
    items = ShardDataset(args.shards, splits=tuple(args.splits.split(",")))
    audio_rate = args.kbps * 1000 / 8 * VBR_MARGIN if args.kbps else LOSSLESS_BYTES * sample_rate
    rate = audio_rate + PITCH_BYTES * sample_rate / hop
    chosen = choose(items, rate, args.mib * 2**20, args.min_seconds, args.seed)
    if not chosen:
        raise ConfigError(f"no utterance of {args.shards} fits {args.mib} MiB")

    def audio() -> Iterator[tuple[str, np.ndarray]]:
        for k in chosen:
            path = items.audio_path(k)
            wav, sr = load_audio(path)
            yield path, resample(wav, sr, sample_rate)

    info = write_audio_pack(
        out, audio(), sample_rate, hop, kbps=args.kbps, progress=not args.no_progress
    )
    size = sum(f.stat().st_size for f in out.iterdir())
    voices = len({items.speaker_ids()[k] for k in chosen})
    print(
        f"{out}: {len(chosen)} of {len(items)} utterances ({info['seconds'] / 3600:.2f} h, "
        f"{voices} voices) in {size / 2**20:.1f} MiB ({size * 8 / info['seconds'] / 1000:.1f} "
        f"kbit/s with the pitch); pitch every {hop} samples"
    )
    return {**info, "bytes": size}


if __name__ == "__main__":
    main(sys.argv[1:])
