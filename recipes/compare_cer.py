"""Two models' CER compared sentence by sentence: is the difference more than noise?

    python recipes/compare_cer.py --a eval_v13/results.json eval1_v13/results.json \\
        --b eval_new/results.json eval1_new/results.json
    python recipes/compare_cer.py --a dev_v13.json --b dev_new.json

Reads `tts eval` results (`cer.items`, each with its seed, or else the run's config seed) or
the files that `recipes/dev_cer.py --out` and `recipes/dev_similarity.py --out` write (items
with their seed; the latter's development voices, each a training voice made new, are told
apart). An item of A is paired with the item of B that has the same seed, language, voice
and text, so both models are judged on the same sentences drawn with the same seed, wherever
each run's corpus lay; items without a partner are counted and left out. `tts eval` records
a fingerprint of the held-out set it scored (`config.held_out`) and the machine it ran on
(`config.machine`): where A's and B's differ for a seed, a note says so, since a corpus
rebuilt elsewhere can hold other sentences or other audio for the same voices, and another
CPU or library version can sample or hear otherwise.

Per language and over all: the number of pairs, both means, the mean paired difference B - A
with its standard error (a difference within about two standard errors is noise), and how
many sentences B reads better and worse. The same figures follow with each sentence's CER
capped at 1: when Whisper loops on unclear audio ("2, 1, 2, 1, ..." for a minute), one
sentence scores 5 or 12 and moves a 16-sentence mean by 0.3 or more, in either model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

Key = tuple[int, str, str]


def read_items(path: str | Path) -> dict[Key, float]:
    """{(seed, language, "voice: text"): CER} from a `tts eval` results.json, or from a
    dev_cer file (text alone: one voice) or a dev_similarity file (voice, shift and text)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable JSON file ({err})") from err
    out: dict[Key, float] = {}
    if isinstance(data.get("cer"), dict) and "items" in data["cer"]:  # tts eval
        seed = int(data.get("config", {}).get("seed", 0))
        for item in data["cer"]["items"]:  # an item's own seed: a run of several (--cer-seeds)
            what = f"{item.get('speaker', '')}: {item['text']}"
            out[(int(item.get("seed", seed)), item["language"], what)] = float(item["model_cer"])
    elif isinstance(data.get("items"), list):  # recipes/dev_cer.py or dev_similarity.py --out
        for item in data["items"]:
            # dev_similarity: each training voice made new by a pitch shift reads the sentence
            voice = f"{item['voice']} {item['shift']:+g} st: " if "voice" in item else ""
            key = (int(item["seed"]), item["language"], voice + item["text"])
            out[key] = float(item["cer"])
    else:
        raise ValueError(
            f"{path}: neither `tts eval` results (cer.items) nor dev_cer / dev_similarity items"
        )
    return out


def read_runs(paths: list[str]) -> dict[Key, float]:
    """The items of several runs (different seeds) as one set; a key seen twice is refused."""
    merged: dict[Key, float] = {}
    for path in paths:
        items = read_items(path)
        twice = merged.keys() & items.keys()
        if twice:
            seed, language, what = sorted(twice)[0]
            raise ValueError(
                f"{path} repeats seed {seed}, {language} {what!r} of an earlier file: "
                "give each seed's run once"
            )
        merged.update(items)
    return merged


def held_out_notes(a_paths: list[str], b_paths: list[str]) -> list[str]:
    """One line per seed where A's and B's `tts eval` runs ran on different machines, or
    scored held-out sets with different fingerprints (other sentences, or the same sentences
    with other audio)."""

    def configs(paths: list[str]) -> dict[int, dict[str, Any]]:
        out = {}
        for path in paths:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            config = data.get("config") or {}
            cer = data.get("cer") if isinstance(data.get("cer"), dict) else {}
            for seed in cer.get("seeds") or [config.get("seed", 0)]:  # a run of several seeds
                out[int(seed)] = config
        return out

    a, b = configs(a_paths), configs(b_paths)
    notes = []
    for seed in sorted(a.keys() & b.keys()):
        ma, mb = a[seed].get("machine"), b[seed].get("machine")
        if ma and mb and ma != mb:
            notes.append(
                f"seed {seed}: run on different machines or libraries ({ma} vs {mb}): the same "
                "model can sample other takes and Whisper hear other words there"
            )
        fa, fb = a[seed].get("held_out"), b[seed].get("held_out")
        if not (fa and fb):
            continue
        if fa.get("texts") != fb.get("texts"):
            notes.append(
                f"seed {seed}: A and B scored different held-out sentences (texts "
                f"{fa.get('texts')} vs {fb.get('texts')}): only the shared ones are paired"
            )
        elif fa.get("audio") != fb.get("audio"):
            notes.append(
                f"seed {seed}: the same sentences with different audio (audio {fa.get('audio')}"
                f" vs {fb.get('audio')}): the references differ, so do the engines' CER"
            )
    return notes


def _stats(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    d = b - a
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else None
    return {
        "a": float(a.mean()),
        "b": float(b.mean()),
        "diff": float(d.mean()),
        "se": se,
        "better": int((d < 0).sum()),
        "worse": int((d > 0).sum()),
    }


def compare(a: dict[Key, float], b: dict[Key, float]) -> dict[str, Any]:
    """Paired statistics per language and over all, raw and with each CER capped at 1."""
    keys = sorted(a.keys() & b.keys())
    if not keys:
        raise ValueError(
            "no sentence appears in both A and B (same seed, language, voice and text)"
        )
    rows: dict[str, Any] = {}
    languages = sorted({k[1] for k in keys})
    for language in [*languages, "all"]:
        ks = [k for k in keys if language in ("all", k[1])]
        x = np.array([a[k] for k in ks])
        y = np.array([b[k] for k in ks])
        rows[language] = {
            "n": len(ks),
            "raw": _stats(x, y),
            "capped": _stats(np.minimum(x, 1.0), np.minimum(y, 1.0)),
        }
    return {
        "per_language": rows,
        "unpaired_a": len(a) - len(keys),
        "unpaired_b": len(b) - len(keys),
    }


def format_table(result: dict[str, Any]) -> str:
    head = (
        "| language | n | A | B | B - A | s.e. | B better / worse | capped: A | B | B - A | s.e. |"
    )
    lines = [head, "|" + "---|" * 11]

    def se(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    for language, row in result["per_language"].items():
        r, c = row["raw"], row["capped"]
        lines.append(
            f"| {language} | {row['n']} | {r['a']:.3f} | {r['b']:.3f} | {r['diff']:+.3f} | "
            f"{se(r['se'])} | {r['better']} / {r['worse']} | {c['a']:.3f} | {c['b']:.3f} | "
            f"{c['diff']:+.3f} | {se(c['se'])} |"
        )
    if result["unpaired_a"] or result["unpaired_b"]:
        lines.append(
            f"\nleft out, without a partner: {result['unpaired_a']} of A, "
            f"{result['unpaired_b']} of B"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--a", nargs="+", required=True, help="model A's results (one file per seed)")
    p.add_argument("--b", nargs="+", required=True, help="model B's results (one file per seed)")
    p.add_argument("--out", default=None, help="also write the comparison here (JSON)")
    args = p.parse_args(argv)
    result = compare(read_runs(args.a), read_runs(args.b))
    result["notes"] = held_out_notes(args.a, args.b)
    print(format_table(result))
    for note in result["notes"]:
        print("note:", note)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
