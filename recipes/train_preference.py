"""Preference fine-tuning (DPO, tts.preference) of a bundle's token LM on takes drawn by
`recipes/draw_preferences.py`; writes a new bundle with only the LM's weights changed.

    python recipes/train_preference.py --items ~/koe-runs/prefs/items.jsonl \
        --out ~/koe-runs/dpo --epochs 3

Pairs: within each item, every two takes that stopped by themselves and lie `--margin` or
more apart in Whisper CER, the clearer one chosen, the largest gaps first (at most
`--max-pairs-per-item`). A tenth of the items (`--valid-fraction`) is kept out of training:
on their pairs the run reports how often the LM, relative to where it started, now prefers the
clearer take (valid accuracy) and the mean DPO margin. The reference is a frozen copy of the starting LM; dropout is off in both, so
at the start the margins are exactly zero.

OUT gets metrics.jsonl, curves.png, preference.json (settings, pair counts, final figures),
checkpoint/ after every epoch (a rerun resumes from it), and bundle/: the starting bundle with
the trained LM (weights stored in the starting file's dtype).
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from tts.conditioning import Conditioning
from tts.errors import ConfigError
from tts.preference import PreferencePair, dpo_loss, preference_pairs, sequence_logprobs
from tts.pretrained import resolve_model_dir
from tts.runs import load_training_state, plot_curves, save_training_state
from tts.synthesizer import Synthesizer
from tts.training import make_optimizer


@dataclass
class PreferenceConfig:
    beta: float = 0.1
    sft_weight: float = 0.2  # NLL per target of the chosen take, added to the DPO loss
    lr: float = 1e-5
    weight_decay: float = 0.0
    epochs: int = 3
    batch_pairs: int = 8
    margin: float = 0.1  # rejected's CER at least this much above chosen's
    max_pairs_per_item: int = 3
    valid_fraction: float = 0.1
    valid_every: int = 20  # steps between valid measurements (and at every epoch's end)
    grad_clip: float = 1.0
    seed: int = 0


def read_items(paths: str) -> list[dict]:
    """Items of one or more comma-separated items.jsonl files."""
    items = []
    for path in (p for p in paths.split(",") if p.strip()):
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        items += [json.loads(line) for line in lines if line.strip()]
    return items


def split_pairs(
    pairs: list[PreferencePair], fraction: float, seed: int
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """(train, valid), whole items to one side."""
    groups = sorted({p.group for p in pairs})
    random.Random(seed).shuffle(groups)
    valid = set(groups[: round(len(groups) * fraction)])
    return [p for p in pairs if p.group not in valid], [p for p in pairs if p.group in valid]


def logprobs(model, pairs: list[PreferencePair]) -> tuple[torch.Tensor, ...]:
    """(chosen log-likelihood, rejected log-likelihood, chosen target count) per pair."""
    ids = [p.ids for p in pairs]
    cond = Conditioning.cat([p.cond for p in pairs])
    chosen, n_chosen = sequence_logprobs(model, ids, cond, [p.chosen for p in pairs])
    rejected, _ = sequence_logprobs(model, ids, cond, [p.rejected for p in pairs])
    return chosen, rejected, n_chosen


@torch.no_grad()
def reference_logprobs(model, pairs: list[PreferencePair], batch: int) -> torch.Tensor:
    """[n_pairs, 2] the frozen reference's chosen and rejected log-likelihoods."""
    rows = []
    for start in tqdm(range(0, len(pairs), batch), desc="reference", leave=False):
        c, r, _ = logprobs(model, pairs[start : start + batch])
        rows.append(torch.stack([c, r], dim=1))
    return torch.cat(rows) if rows else torch.zeros(0, 2)


@torch.no_grad()
def evaluate(model, pairs, ref: torch.Tensor, cfg: PreferenceConfig) -> dict[str, float]:
    """Mean DPO loss and margin over `pairs`, and the fraction with a positive margin."""
    losses, margins = [], []
    for start in range(0, len(pairs), cfg.batch_pairs):
        c, r, _ = logprobs(model, pairs[start : start + cfg.batch_pairs])
        rc, rr = ref[start : start + cfg.batch_pairs].unbind(1)
        loss, margin = dpo_loss(c, r, rc, rr, cfg.beta)
        losses.append(loss)
        margins.append(margin)
    if not losses:
        return {}
    loss, margin = torch.cat(losses), torch.cat(margins)
    return {
        "loss": float(loss.mean()),
        "margin": float(margin.mean()),
        "accuracy": preferred(margin),
    }


def preferred(margin: torch.Tensor) -> float:
    """The fraction of pairs whose margin favours the chosen take (a tie counts half: at the
    start every margin is zero and the LM prefers neither)."""
    return float((margin > 0).float().mean() + 0.5 * (margin == 0).float().mean())


def write_bundle(model, start: Path, out: Path) -> Path:
    """A copy of the starting bundle with `model`'s weights, in the starting file's dtype."""
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(start, tmp)
    original = load_file(str(start / "model.safetensors"))
    state = model.state_dict()
    if original.keys() != state.keys():
        raise ConfigError("the trained LM's tensors differ from the bundle's")
    save_file(
        {k: state[k].detach().to(original[k].dtype).contiguous() for k in original},
        str(tmp / "model.safetensors"),
    )
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--items", required=True, help="items.jsonl (comma-separate several)")
    p.add_argument("--out", required=True)
    p.add_argument("--model", default=None, help="starting bundle (default: the shipped model)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    for name, value in asdict(PreferenceConfig()).items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    a = p.parse_args(argv)
    cfg = PreferenceConfig(**{k: getattr(a, k) for k in asdict(PreferenceConfig())})
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(cfg.seed)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    items = read_items(a.items)
    pairs = preference_pairs(items, cfg.margin, cfg.max_pairs_per_item)
    train, valid = split_pairs(pairs, cfg.valid_fraction, cfg.seed)
    if not train:
        raise ConfigError(f"no pairs with a CER gap of {cfg.margin} or more in {a.items}")
    print(f"{len(items)} items, {len(pairs)} pairs: {len(train)} train, {len(valid)} valid")

    start_bundle = resolve_model_dir(a.model)
    synth = Synthesizer.from_pretrained(start_bundle)
    policy = synth.lm
    reference = copy.deepcopy(policy).eval().requires_grad_(False)
    policy.eval()  # dropout off: the margins start at exactly zero
    ref_train = reference_logprobs(reference, train, cfg.batch_pairs)
    ref_valid = reference_logprobs(reference, valid, cfg.batch_pairs)
    optimizer = make_optimizer(policy, lr=cfg.lr, weight_decay=cfg.weight_decay)

    metrics_path = out / "metrics.jsonl"
    first_epoch, step = 0, 0
    if (out / "checkpoint").is_dir():
        state = load_training_state(out / "checkpoint", {"model": policy, "optim": optimizer})
        first_epoch, step = int(state["epoch"]), int(state["step"])
        print(f"resumed after epoch {first_epoch} (step {step})")
    else:
        metrics_path.write_text("", encoding="utf-8")
        row = {
            "step": 0,
            **{f"valid_{k}": v for k, v in evaluate(policy, valid, ref_valid, cfg).items()},
        }
        with metrics_path.open("a") as f:
            f.write(json.dumps(row) + "\n")

    for epoch in range(first_epoch, cfg.epochs):
        order = list(range(len(train)))
        random.Random(cfg.seed * 1000 + epoch).shuffle(order)
        batches = [order[i : i + cfg.batch_pairs] for i in range(0, len(order), cfg.batch_pairs)]
        for index in tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}"):
            chosen, rejected, n_chosen = logprobs(policy, [train[i] for i in index])
            rc, rr = ref_train[index].unbind(1)
            loss, margin = dpo_loss(chosen, rejected, rc, rr, cfg.beta)
            total = loss.mean() + cfg.sft_weight * (-chosen / n_chosen).mean()
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            grad = torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip)
            optimizer.step()
            step += 1
            loss, margin, chosen = loss.detach(), margin.detach(), chosen.detach()
            row = {
                "step": step,
                "loss": float(loss.mean()),
                "margin": float(margin.mean()),
                "accuracy": preferred(margin),
                "chosen_nll": float((-chosen / n_chosen).mean()),
                "grad_norm": float(grad),
            }
            if index is batches[-1] or step % cfg.valid_every == 0:
                row |= {f"valid_{k}": v for k, v in evaluate(policy, valid, ref_valid, cfg).items()}
            with metrics_path.open("a") as f:
                f.write(json.dumps(row) + "\n")
        save_training_state(
            out,
            cfg,
            lambda folder: None,
            {"epoch": epoch + 1, "step": step},
            {"model": policy, "optim": optimizer},
        )

    rows = [json.loads(x) for x in metrics_path.read_text().splitlines() if x.strip()]
    plot_curves(
        out / "curves.png",
        rows,
        {
            "DPO loss": ["loss", "valid_loss"],
            "margin": ["margin", "valid_margin"],
            "prefers the clearer take": ["accuracy", "valid_accuracy"],
            "chosen NLL per target": ["chosen_nll"],
        },
        "preference fine-tuning",
    )
    bundle = write_bundle(policy, start_bundle, out / "bundle")
    # The last epoch's last step measured the valid pairs on these very weights.
    final = {k.removeprefix("valid_"): v for k, v in rows[-1].items() if k.startswith("valid_")}
    summary = {
        "config": asdict(cfg),
        "items": a.items,
        "start": str(start_bundle),
        "pairs": {"train": len(train), "valid": len(valid)},
        "valid": final,
        "bundle": str(bundle),
    }
    (out / "preference.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(json.dumps(summary["valid"]), f"-> {bundle}")
    return summary


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
