"""Draw preference pairs for the token LM: several takes of training sentences, each take's
Whisper CER, so that `recipes/train_preference.py` can teach the LM to prefer its clearer takes.

    python recipes/draw_preferences.py --manifest ~/koe-runs/proof_full/manifest.jsonl \
        --out ~/koe-runs/prefs --languages ja,en,de --per-language 120 --takes 4

Items come from the manifest's train split only (never a held-out voice or sentence): the
item's text, language, emotion and intensity, spoken in the voice of another clip of the same
speaker (the reference, as synthesis takes one). Half of each language's items are in
Kokoro's voices when the manifest has them (the LM speaks least clearly in them). Each item's
takes are drawn as synthesis draws them (the model's sampling, one seed per take;
`rank_takes.sample_takes`), decoded, and transcribed by Whisper base; texts that the front end
splits into several chunks, and items whose reference holds too little speech, are skipped.

OUT/items.jsonl gets one line per item: the LM's input ids, its conditioning, and per take the
LM's codes [K, F], whether it stopped by itself, the transcript and the CER. Rerunning resumes
after the last written item (the same seed draws the same items).

Whisper base is also what `tts eval` measures CER with, so a model trained on these pairs is
judged by the model that chose its preferences (on other sentences and voices): weigh any gain
with that in mind, beside the development sentences' (`recipes/rank_takes.py`).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

from tqdm import tqdm

from tts.data.manifest import default_intensity, read_manifest
from tts.errors import ReferenceAudioError
from tts.labels import check_language
from tts.synthesizer import Synthesizer

sys.path.insert(0, str(Path(__file__).parent))
from rank_takes import sample_takes


def pick_items(rows: list, languages: list[str], per_language: int, seed: int) -> list[dict]:
    """`per_language` train-split rows per language (half in Kokoro voices where there are
    enough), each with a reference: another train clip of the same speaker, 3 s or longer."""
    rng = random.Random(seed)
    by_speaker: dict[str, list] = defaultdict(list)
    train = [r for r in rows if (r.extra or {}).get("split") == "train"]
    for r in train:
        by_speaker[r.speaker].append(r)
    picked = []
    for lang in languages:
        pool = [r for r in train if r.language == lang and len(by_speaker[r.speaker]) > 1]
        kokoro = [r for r in pool if r.speaker.startswith("kokoro-")]
        other = [r for r in pool if not r.speaker.startswith("kokoro-")]
        rng.shuffle(kokoro)
        rng.shuffle(other)
        n_kokoro = min(len(kokoro), per_language // 2)
        chosen = kokoro[:n_kokoro] + other[: per_language - n_kokoro]
        for r in chosen:
            refs = [x for x in by_speaker[r.speaker] if x.audio != r.audio and x.duration >= 3.0]
            if not refs:
                continue
            neutral = [x for x in refs if x.emotion == "neutral"] or refs
            ref = rng.choice(neutral)
            picked.append(
                {
                    "text": r.text,
                    "language": lang,
                    "speaker": r.speaker,
                    "emotion": r.emotion,
                    "intensity": float(
                        default_intensity(r.emotion) if r.intensity is None else r.intensity
                    ),
                    "reference": str(ref.audio),
                }
            )
    return picked


def draw(synth: Synthesizer, judge, item: dict, seed: int, n: int) -> dict | None:
    """One item's n takes (None when its text is several chunks or its reference holds too
    little speech to clone)."""
    emotion = item["emotion"] if item["intensity"] > 0 else None
    intensity = item["intensity"] if emotion else None
    try:
        chunks, cond, sampling, _, voice, _ = synth._prepare(
            item["text"], item["reference"], item["language"], emotion, intensity, None, 1.0, None
        )
    except ReferenceAudioError as e:
        print(f"skipped: {e}", file=sys.stderr)
        return None
    if len(chunks) != 1:
        return None
    results, audios = sample_takes(
        synth, chunks[0], cond, sampling, voice, seed, n, emotion, intensity
    )
    takes = []
    for r, wav in zip(results, audios, strict=True):
        transcript, cer = judge.score(wav, synth.sample_rate, item["text"], item["language"])
        takes.append(
            {
                "codes": r.codes.tolist(),
                "stopped": bool(r.stopped),
                "transcript": transcript,
                "cer": float(cer),
            }
        )
    return {
        **item,
        "seed": seed,
        "ids": [int(i) for i in chunks[0].ids],
        "cond": {
            "speaker": [float(x) for x in cond.speaker[0]],
            "emotion": int(cond.emotion[0]),
            "intensity": float(cond.intensity[0]),
            "language": int(cond.language[0]),
        },
        "takes": takes,
    }


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--manifest", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--model", default=None, help="model bundle (default: the shipped model)")
    p.add_argument("--languages", default="ja,en,de")
    p.add_argument("--per-language", type=int, default=120)
    p.add_argument("--takes", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.takes < 2:
        p.error("--takes must be at least 2: a pair needs two takes")
    languages = [check_language(x.strip()) for x in a.languages.split(",") if x.strip()]
    items = pick_items(read_manifest(a.manifest), languages, a.per_language, a.seed)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "items.jsonl"
    done = len(path.read_text(encoding="utf-8").splitlines()) if path.is_file() else 0
    (out / "config.json").write_text(json.dumps(vars(a), indent=2), encoding="utf-8")
    synth = Synthesizer.from_pretrained(a.model)
    from tts.eval.asr import load_whisper

    judge = load_whisper()
    with path.open("a", encoding="utf-8") as f:
        for number, item in enumerate(tqdm(items, desc="preference takes")):
            if number < done:
                continue
            # One line per picked item, skipped ones included, so a rerun resumes by count.
            row = draw(synth, judge, item, a.seed + 1000 * number, a.takes)
            f.write(json.dumps(row if row is not None else {"skipped": item}, ensure_ascii=False))
            f.write("\n")
            f.flush()
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
