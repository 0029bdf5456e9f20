"""A copy of a shard folder whose codes went once through the codec: decoded, then encoded again.

Why: synthesis keeps the best of several takes by what its codes reader (tts.reader) hears,
and what it hears is the codec's encoding of each take's *decoded audio*. A reader trained on
the codes of the corpus's real audio reads another distribution: on the first corpus's valid
clips only 25-33% of the codes (per codebook) come back the same after one decode and encode.
Training (or fine-tuning) the reader on these cycled codes lets it read what it will be given
(tried on v11, `proof_model.sh reader2`: it read them better, but ranked takes no better).

    python recipes/cycle_shards.py ~/koe-runs/proof_tokens --codec tts/pretrained/default/codec \
        --out ~/koe-runs/proof_tokens_cycled

Each item is decoded as synthesis decodes a take: with its semantic units in front of the codes
when the folder has units and the codec's decoder reads them. The copy keeps the index, the
phonemes, the units and every other tensor as they were; only `codes` changes, frame for frame
(the same count per item). Resumable: finished shards are kept.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm import tqdm

from tts.codecs import load_codec
from tts.data.shards import SEMANTIC_NAME, read_index, semantic_name
from tts.errors import ConfigError


@torch.inference_mode()
def decode_item(codec, codes: torch.Tensor, units: torch.Tensor | None) -> torch.Tensor:
    """One item's codes [K, F] (and semantic units [F], for a decoder that reads them) -> its
    waveform [T] at the codec's rate, decoded as synthesis decodes a take."""
    frames = codes.long()
    if units is not None:  # a unit the codec's table lacks: "no unit"
        frames = torch.cat([units.long().clamp(max=codec.n_units)[None], frames])
    return codec.decode(frames[None])[0]


@torch.inference_mode()
def cycle_codes(codec, codes: torch.Tensor, units: torch.Tensor | None) -> torch.Tensor:
    """One item's codes [K, F] -> the codec's encoding of their decoding, [K, F]."""
    wav = decode_item(codec, codes, units)
    again = codec.encode(wav[None], codec.sample_rate)[0]
    n = codes.shape[-1]
    if again.shape[-1] < n:  # never seen; keep the count whatever the encoder's rounding
        again = torch.cat([again, again[:, -1:].expand(-1, n - again.shape[-1])], dim=-1)
    return again[:, :n].to(codes.dtype)


def cycle_shards(source: str | Path, codec_dir: str | Path, out: str | Path) -> Path:
    source, out = Path(source), Path(out)
    index = read_index(source)
    codec = load_codec(str(codec_dir))
    info = index["codec"]
    if (codec.n_codebooks, codec.codebook_size) != (info["n_codebooks"], info["codebook_size"]):
        raise ConfigError(
            f"{codec_dir} has {codec.n_codebooks} codebooks of {codec.codebook_size}; the "
            f"shards were made with {info['n_codebooks']} of {info['codebook_size']}"
        )
    has_units = (source / SEMANTIC_NAME).is_file() and getattr(codec, "n_units", 0) > 0
    out.mkdir(parents=True, exist_ok=True)
    total = sum(shard["count"] for shard in index["shards"])
    bar = tqdm(total=total, desc="cycling codes", unit="utt")
    for number, shard in enumerate(index["shards"]):
        target = out / shard["file"]
        if target.is_file():
            bar.update(shard["count"])
            continue
        with safe_open(str(source / shard["file"]), framework="pt") as f:
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (not a dict)
            metadata = f.metadata()
        units = None
        if has_units:
            with safe_open(str(source / semantic_name(number)), framework="pt") as f:
                units = f.get_tensor("units")
        offsets = tensors["code_offsets"].tolist()
        cycled = []
        for i in range(len(offsets) - 1):
            a, b = offsets[i], offsets[i + 1]
            cycled.append(
                cycle_codes(
                    codec, tensors["codes"][:, a:b], units[a:b] if units is not None else None
                )
            )
            bar.update(1)
        tensors["codes"] = torch.cat(cycled, dim=-1).contiguous()
        tmp = target.with_name(target.name + ".tmp")
        save_file(tensors, str(tmp), metadata=metadata)
        os.replace(tmp, target)
    bar.close()
    # Everything else as it was; the index last, so that a half-made copy never reads as done.
    for path in source.iterdir():
        kept = path.name != "index.json" and not path.name.startswith("shard-")
        if kept and path.is_file() and not (out / path.name).exists():
            shutil.copy2(path, out / path.name)
    cycled_from = {**index, "cycled_from": str(source), "cycled_codec": str(codec_dir)}
    (out / "index.json").write_text(json.dumps(cycled_from, ensure_ascii=False, indent=1))
    return out


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("shards")
    p.add_argument("--codec", required=True, help="the codec the shards were made with")
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    out = cycle_shards(a.shards, a.codec, a.out)
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
