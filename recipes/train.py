"""Train the codec-token LM on shards from recipes/tokenize_corpus.py.

    python recipes/train.py --config configs/lm_tiny_cpu.json --out runs/lm_tiny data=tokens/
    torchrun --nproc_per_node 4 recipes/train.py --config configs/lm_small.json --out runs/lm
    python recipes/train.py --out runs/lm_tiny max_steps=2000      # resume / extend a run
    python recipes/train.py --config ... --out runs/lm --minutes 8   # as many steps as 8 min hold

Overrides are `key=value` on tts.trainer.TrainConfig (`dropout.speaker=0.2`) and
`model.KEY=value` for LMConfig fields on top of the preset (`model.n_layer=6`).
Outputs in --out: log.csv (step, loss, per-codebook loss, lr, grad norm, tokens/s, validation
loss), loss.png, checkpoint/ (resumable: rerun the same command after a kill) and bundle/
(a Synthesizer bundle: `Synthesizer.from_pretrained("OUT/bundle")`).
"""

from __future__ import annotations

import argparse
import json
import sys

from tts.config import apply_overrides
from tts.errors import ConfigError
from tts.trainer import TrainConfig, resume_or_new_config, train


def apply_all_overrides(cfg: TrainConfig, overrides: list[str]) -> TrainConfig:
    """`model.KEY=value` go into the LMConfig overrides dict, the rest to apply_overrides."""
    plain = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"override {item!r} must look like key=value")
        if key.startswith("model."):
            try:
                cfg.model[key.removeprefix("model.")] = json.loads(raw)
            except json.JSONDecodeError:
                cfg.model[key.removeprefix("model.")] = raw
        else:
            plain.append(item)
    return apply_overrides(cfg, plain)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", help="JSON TrainConfig (default: the run's saved config)")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--stop-after", type=int, default=0, help="end this session after N steps")
    p.add_argument(
        "--minutes",
        type=float,
        default=0.0,
        help="fit the run into this wall-clock time: max_steps is lowered to what it holds",
    )
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("overrides", nargs="*", help="key=value overrides")
    a = p.parse_args(argv)
    cfg = apply_all_overrides(resume_or_new_config(a.out, a.config), a.overrides)
    result = train(
        cfg, a.out, stop_after=a.stop_after, progress=not a.no_progress, minutes=a.minutes
    )
    if result["rank"] == 0:
        last = result["last"]
        print(json.dumps({k: last[k] for k in ("step", "loss") if k in last}))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
