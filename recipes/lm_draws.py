"""The LM's own codes for real utterances: a copy of token shards in which some items' codes and
semantic units are replaced by what the model's LM draws for them, frame by frame, given the
true frames before (teacher forcing), sampled as synthesis samples (guidance, temperatures,
top-k, top-p).

    python recipes/lm_draws.py --shards runs/tokens --out runs/lm_draws --share 1.0

Why: a decoder trained only on real codes meets the LM's at synthesis, and the LM's codebooks
follow the text loosely. Decoding these draws to the real audio (recipes/train_codec.py with
units_from=this folder) teaches the decoder what the LM's codes stand for; with the text as well
(phonemes_from=), it learns to say the phoneme the frame should be where the LM's codes blur it.
The timing is the real utterance's, so its audio and phoneme frames still fit.

`--share` of the train split's items (drawn at random with `--seed`) and all valid items are
replaced; the rest keep their true codes. The copy keeps the shards' index and unit sidecars.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shutil
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm import tqdm

from tts.data.shards import ShardDataset, collate_lm, semantic_info, semantic_name
from tts.errors import ConfigError
from tts.generate import SamplingConfig, codebook_temperatures, top_p_filter
from tts.model import CodecLM, ConditionDrop
from tts.training import build_lm_inputs


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shards", required=True, help="token shards with semantic units")
    ap.add_argument("--out", required=True, help="folder for the copy")
    ap.add_argument("--model", default="tts/pretrained/default", help="model bundle")
    ap.add_argument("--share", type=float, default=1.0, help="share of train items replaced")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    return ap.parse_args(argv)


@torch.inference_mode()
def draw_codes(
    lm: CodecLM, items: list, sampling: SamplingConfig, generator: torch.Generator
) -> list[torch.Tensor]:
    """For each item ([K, F] true codes, units first), the LM's draw at every frame given the
    true frames before it: [K, F] each. Guidance as in `tts.generate.generate` (speaker guidance
    aside: refused by `main` unless 1); the end of speech and the other special ids are never
    drawn."""
    cfg = lm.config
    batch = collate_lm(items, cfg.pad_id)
    inputs, _ = build_lm_inputs(batch.codes, batch.code_lengths, lm)
    n = len(items)

    def logits_under(cond, drop: ConditionDrop) -> torch.Tensor:  # [B, K, T, V]
        return lm(batch.phonemes, batch.phoneme_lengths, cond, inputs, drop).float()

    cond_logits = logits = logits_under(batch.cond, ConditionDrop.none(n))
    if sampling.cfg_scale != 1.0:
        text = cfg.null_text
        drop = (
            ConditionDrop.only(n, "cpu", "text")
            if sampling.cfg_drop == "text"
            else ConditionDrop.all(n, "cpu", text=text)
        )
        uncond = logits_under(batch.cond, drop)
        logits = uncond + sampling.cfg_scale * (cond_logits - uncond)
    if sampling.emotion_guidance != 1.0:  # (a neutral item's two passes are the same)
        neutral = dataclasses.replace(batch.cond, intensity=torch.zeros_like(batch.cond.intensity))
        logits = logits + (sampling.emotion_guidance - 1) * (
            cond_logits - logits_under(neutral, ConditionDrop.none(n))
        )
    # real codes only (no end of speech, BOS or PAD), inside the utterance
    logits[..., cfg.codebook_size :] = -float("inf")
    temps = torch.tensor(codebook_temperatures(sampling, cfg.n_codebooks, cfg.n_semantic))
    logits = logits / temps.clamp(min=1e-4)[None, :, None, None]
    if 0 < sampling.top_k < logits.shape[-1]:
        values, ids = logits.topk(sampling.top_k, dim=-1)
    else:
        values, ids = logits, None
    probs = top_p_filter(values, sampling.top_p).softmax(-1)
    pick = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator)
    pick = pick.reshape(probs.shape[:-1])
    drawn = pick if ids is None else ids.gather(-1, pick[..., None])[..., 0]  # [B, K, T] delayed
    out = []
    for j in range(n):
        frames = int(batch.code_lengths[j])  # codebook k's frame t sits at step t + k
        out.append(torch.stack([drawn[j, k, k : k + frames] for k in range(cfg.n_codebooks)]))
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if not 0.0 <= args.share <= 1.0:
        raise ConfigError(f"--share must lie in [0, 1], got {args.share}")
    torch.set_num_threads(args.threads)
    src, dst = Path(args.shards), Path(args.out)
    if dst.resolve() == src.resolve():
        raise ConfigError("--out must be another folder than --shards")
    bundle = Path(args.model)
    sampling = SamplingConfig(
        **json.loads((bundle / "config.json").read_text())["pipeline"]["sampling"]
    )
    if sampling.speaker_guidance != 1.0:
        raise ConfigError("speaker guidance is not drawn here: set it to 1 in the bundle")
    lm = CodecLM.load(bundle).eval()
    info = semantic_info(src)
    if info is None or "," in args.shards:
        raise ConfigError(f"--shards must be one folder of token shards with semantic units: {src}")
    n_units = int(info["n_clusters"])
    items = ShardDataset(src, semantic=True)
    if items[0].codes.shape[0] != lm.config.n_codebooks:
        raise ConfigError(
            f"{src} holds {items[0].codes.shape[0]} streams a frame; the LM predicts "
            f"{lm.config.n_codebooks}"
        )
    splits = items.splits()
    train = [k for k, split in enumerate(splits) if split == "train"]
    valid = [k for k, split in enumerate(splits) if split == "valid"]
    random.Random(args.seed).shuffle(train)
    todo = sorted(train[: round(args.share * len(train))] + valid, key=lambda k: items.frames[k])
    generator = torch.Generator().manual_seed(args.seed)
    drawn: dict[int, torch.Tensor] = {}
    agree, total = torch.zeros(lm.config.n_codebooks), 0
    for start in tqdm(range(0, len(todo), args.batch_size), desc="drawing", unit="batch"):
        chosen = todo[start : start + args.batch_size]
        batch = [items[k] for k in chosen]
        for k, item, codes in zip(
            chosen, batch, draw_codes(lm, batch, sampling, generator), strict=True
        ):
            drawn[k] = codes
            agree += (codes == item.codes).float().sum(1)
            total += codes.shape[1]
    # the copy: every shard and unit sidecar, with the drawn items' frames replaced
    dst.mkdir(parents=True, exist_ok=True)
    for path in src.glob("*.json"):
        shutil.copy(path, dst / path.name)
    by_shard: dict[int, list[tuple[int, torch.Tensor]]] = {}
    for k, codes in drawn.items():
        number, i = items._locations[k]
        by_shard.setdefault(number, []).append((i, codes))
    for number, (shard, sidecar) in enumerate(items._files):
        with safe_open(str(shard), "pt") as f:
            tensors, meta = {k: f.get_tensor(k) for k in f.keys()}, f.metadata()  # noqa: SIM118
        with safe_open(str(sidecar), "pt") as f:
            units, unit_meta = {k: f.get_tensor(k) for k in f.keys()}, f.metadata()  # noqa: SIM118
        offsets = tensors["code_offsets"]
        for i, codes in by_shard.get(number, []):
            a, b = int(offsets[i]), int(offsets[i + 1])
            tensors["codes"][:, a:b] = codes[1:].to(tensors["codes"].dtype)
            # a unit the tokenizer never made is "no unit", as synthesis gives the decoder
            units["units"][a:b] = codes[0].clamp(max=n_units).to(units["units"].dtype)
        save_file(tensors, str(dst / shard.name), metadata=meta)
        save_file(units, str(dst / semantic_name(number)), metadata=unit_meta)
    agreement = (agree / max(total, 1)).tolist()
    print(f"{len(drawn)} items drawn -> {dst}; agreement with the true codes per stream (units "
          f"first): {[round(a, 3) for a in agreement]}")  # fmt: skip
    return {"drawn": len(drawn), "agreement": agreement}


if __name__ == "__main__":
    main(sys.argv[1:])
