"""Measure what a bundle's LM does by itself for each emotion, and store it in the bundle.

    python recipes/calibrate_prosody.py --model tts/pretrained/default \\
        --manifest ~/koe-runs/proof/manifest.jsonl --write

Each emotion at intensity 1 and neutral are synthesized with the label prosody off (the LM
alone: no decoder F0 range, shift, tempo or gain) for a few training-split texts per language,
in a few voices; the mean shift of F0, of speaking time per phoneme and of energy against
neutral becomes the bundle's `lm_prosody` ({emotion: {"f0_shift_st", "tempo", "gain_db"}},
tts.label_prosody). The synthesizer then adds only what the LM falls short of the emotion
table.

The voices: users bring voices the LM never heard, and the LM renders emotions more weakly in
those (v6's whisper: tempo x0.92 in its training voices, x0.97 in the voices below, x0.995 in
the held-out ones). So the references are training voices of different engines made into new
ones: resampled by +-`--shift-semitones` (a higher or lower voice with a shorter or longer
vocal tract; Resemblyzer's similarity to the original is 0.61-0.81 at 3 semitones, about that
of two different voices, 0.75). The held-out voices and sentences stay for `tts eval`.
`--write` updates the bundle's config.json; without it the measurement is only printed (and
written to --out).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from tts.audio import resample
from tts.data.manifest import read_manifest
from tts.errors import ConfigError
from tts.eval.emotion import evaluate_emotion
from tts.eval.inputs import load_entry, longest_neutral_clips
from tts.label_prosody import measured_lm_prosody
from tts.labels import EMOTIONS, check_language


def training_texts(pool, language: str, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The first `count` distinct neutral training-split texts of `language`."""
    seen: list[str] = []
    for e in pool:
        split = e.extra.get("split")
        neutral = e.language == language and e.emotion == "neutral" and split == "train"
        if neutral and e.text not in seen:
            seen.append(e.text)
        if len(seen) == count:
            break
    return seen


def training_voices(pool, language: str, count: int):  # type: ignore[no-untyped-def]
    """The longest neutral training clip of `count` speakers, taking engines in turn (a spread
    of voice types rather than the alphabetically first engine's voices)."""
    best = longest_neutral_clips(pool, language, ["train"])
    by_engine: dict[str, list] = {}
    for name in sorted(best):
        by_engine.setdefault(name.split("-")[0], []).append(best[name])
    picked = []
    while len(picked) < count and any(by_engine.values()):
        for voices in by_engine.values():
            if voices and len(picked) < count:
                picked.append(voices.pop(0))
    return picked


def new_voice(wav: np.ndarray, sr: int, semitones: float) -> np.ndarray:
    """The clip as a different speaker: resampled so that, played at `sr`, its pitch and
    formants move by `semitones` (its length changes too, which a reference does not mind)."""
    if semitones == 0:
        return wav
    return resample(wav, round(sr * 2 ** (semitones / 12)), sr)


def calibrate(
    synth,  # type: ignore[no-untyped-def]
    pool,
    languages: list[str],
    texts: int = 3,
    voices: int = 4,
    seed: int = 0,
    shift_semitones: float = 3.0,
) -> dict[str, dict[str, float]]:
    """Mean shifts at intensity 1 (label prosody off) over `languages` -> `lm_prosody`.
    Voice i is shifted by +`shift_semitones` for even i, - for odd (0: the voices as they are)."""
    emotions = [e for e in EMOTIONS if e != "neutral"]
    keys = ("f0_mean_st", "duration_pct", "energy_db")
    shifts: dict[str, dict[str, list[float]]] = {e: {k: [] for k in keys} for e in emotions}
    for language in languages:
        sentences = training_texts(pool, language, texts)
        picked = training_voices(pool, language, voices)
        if not sentences or not picked:
            raise ConfigError(f"the manifest has no neutral training-split {language} clips")
        references = []
        for i, entry in enumerate(picked):
            wav, sr = load_entry(entry)
            references.append((new_voice(wav, sr, shift_semitones * (-1) ** i), sr))
        result = evaluate_emotion(
            synth, sentences, language, emotions=emotions, intensities=[1.0], seed=seed,
            references=references, label_prosody=False,
        )  # fmt: skip
        logging.info("%s: voices %s", language, ", ".join(e.speaker for e in picked))
        for emotion in emotions:
            for key in keys:
                value = result["emotions"][emotion]["shifts"][key][0]
                if value is not None:  # no F0 to measure in whisper
                    shifts[emotion][key].append(value)
    mean = {
        e: {k: float(np.mean(v)) if v else None for k, v in s.items()} for e, s in shifts.items()
    }
    return measured_lm_prosody(mean)


def write_into_bundle(model_dir: Path, lm_prosody: dict[str, dict[str, float]]) -> Path:
    """Set pipeline.lm_prosody in a bundle's config.json (everything else kept)."""
    path = model_dir / "config.json"
    payload = json.loads(path.read_text(encoding="utf-8"))
    if "pipeline" not in payload:
        raise ConfigError(f"{path} is not a model bundle (no 'pipeline' entry)")
    payload["pipeline"]["lm_prosody"] = lm_prosody
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="model bundle folder")
    p.add_argument("--manifest", required=True, help="the corpus manifest (extra.split = train)")
    p.add_argument("--languages", default="ja,en")
    p.add_argument("--texts", type=int, default=3, help="training texts per language")
    p.add_argument("--voices", type=int, default=4, help="training voices per language")
    p.add_argument(
        "--shift-semitones", type=float, default=3.0, help="make them new voices (0: as they are)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="also write the measurement here (JSON)")
    p.add_argument("--write", action="store_true", help="store it in the bundle's config.json")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from tts.synthesizer import Synthesizer

    synth = Synthesizer.from_pretrained(args.model)
    languages = [check_language(x.strip()) for x in args.languages.split(",") if x.strip()]
    measured = calibrate(
        synth, read_manifest(args.manifest), languages, args.texts, args.voices, args.seed,
        args.shift_semitones,
    )  # fmt: skip
    print("emotion    LM F0 shift (st)  LM tempo  LM gain (dB)")
    for emotion, m in measured.items():
        print(
            f"{emotion:<10} {m['f0_shift_st']:>+16.2f}  {m['tempo']:>8.3f}  {m['gain_db']:>+11.2f}"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(measured, indent=2) + "\n", encoding="utf-8")
    if args.write:
        print(f"wrote {write_into_bundle(Path(args.model), measured)}")
    return measured


if __name__ == "__main__":
    main()
