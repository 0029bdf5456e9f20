"""Phoneme frames for a token shard set: which phoneme each codec frame of each utterance says.

    python recipes/align_phonemes.py --shards runs/tokens --out runs/tokens_phonemes.safetensors

For every utterance: the model bundle's codec decodes its codes (and units), the bundle's mel
reader hears that audio, and the utterance's phonemes are force-aligned through the reader's
CTC posteriors (`tts.forced_align`). Synthesis aligns each take the same way before its
decoder reads the text, so a decoder trained on these frames (recipes/train_codec.py
phonemes_from=...) learns from labels made as synthesis makes them. Keys are the audio paths
the shards recorded; `--shards` may name several folders ("a,b") that share utterances (e.g.
true codes and an LM's draws of the same audio: aligned once, from the first folder that
holds them).
"""

from __future__ import annotations

import argparse
import sys

import torch
from tqdm import tqdm

from tts.data.shards import ShardDataset
from tts.errors import ConfigError
from tts.forced_align import save_phoneme_frames
from tts.synthesizer import Synthesizer


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shards", required=True, help="token shard folder(s), comma-separated")
    ap.add_argument("--out", required=True, help="the .safetensors file to write")
    ap.add_argument("--model", default=None, help="model bundle (default: the shipped one)")
    ap.add_argument("--threads", type=int, default=2)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, int]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    synth = Synthesizer.from_pretrained(args.model)
    reader = synth.reader
    if reader is None or reader.config.source != "mel":
        raise ConfigError("aligning needs a model bundle with a mel reader (reader/)")
    items = ShardDataset(args.shards, semantic=synth.codec.n_units > 0)
    none_id = reader.config.vocab_size  # the LM's symbols (the decoder's n_phonemes)
    frames, failed = {}, 0
    for k in tqdm(range(len(items)), desc="aligning", unit="utt"):
        key = items.audio_path(k)
        if key in frames:
            continue
        item = items[k]
        with torch.inference_mode():
            wav = synth.codec.decode(synth._codec_codes(item.codes)[None])[0].numpy()
        n = item.codes.shape[-1]
        row = synth.align_phonemes(item.phonemes.tolist(), item.language, wav, n, none_id)
        if row is None:  # more phonemes than frames (or none to hear): the crops skip it
            failed += 1
            continue
        frames[key] = row
    save_phoneme_frames(args.out, frames, none_id=str(none_id))
    print(
        f"{len(frames)} utterances aligned ({failed} too short for their text or silent) -> {args.out}"
    )
    return {"aligned": len(frames), "failed": failed}


if __name__ == "__main__":
    main(sys.argv[1:])
