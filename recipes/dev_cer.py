"""CER of a model on the development sentences: for choosing training runs and sampling
settings without looking at the held-out test set that `tts eval` reports.

    python recipes/dev_cer.py --model tts/pretrained/default --seeds 0,1,2,3
    python recipes/dev_cer.py --model /tmp/candidate --sampling cfg_scale=1.5 --out dev.json
    python recipes/dev_cer.py --reference dev_voice.wav --languages ja,en,de --phoneme-weight 2.5

The sentences (recipes/data/dev_sentences/<lang>.txt) were written for this and appear in no
corpus sentence list. Each is spoken in the model's default voice once per seed and
transcribed by Whisper base (tts.eval.asr); the table gives the mean CER per language and
over all of them. `--reference` speaks them in another voice instead (a training voice of one
of the engines, say, to see what a change does outside the default voice without looking at
the held-out voices). The default voice is a training voice, and the held-out Kokoro voice is
where the LM is weakest: also run a change in the development voice, a Kokoro voice no corpus
has (`recipes/data/dev_voice.py --out dev_voice.wav`, then `--reference dev_voice.wav`), unless
the change trains on Kokoro blends, which make that voice familiar (its docstring). The
spread between seeds is a few hundredths: compare settings on the same seeds, and on more
than one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tts.config import apply_overrides, config_to_dict
from tts.errors import ConfigError
from tts.eval.asr import load_whisper
from tts.labels import check_language
from tts.synthesizer import Synthesizer

SENTENCES = Path(__file__).parent / "data" / "dev_sentences"


def dev_sentences(language: str, root: Path = SENTENCES) -> list[str]:
    """The non-empty lines of `root/<language>.txt`."""
    path = root / f"{check_language(language)}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"no development sentences for {language!r} ({path})")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def apply_sampling(synth: Synthesizer, overrides: str) -> list[str]:
    """Set the comma-listed sampling overrides ("candidates=4,cfg_scale=1.5") on `synth`;
    returns them as a list (empty: the model's own sampling)."""
    items = [x for x in overrides.split(",") if x.strip()]
    if items:
        synth.config.sampling = apply_overrides(synth.config.sampling, items)
    return items


def dev_cer(
    synth: Synthesizer,
    judge,
    languages: list[str],
    seeds: list[int],
    root: Path = SENTENCES,
    reference: str | None = None,
) -> dict:
    """{"per_language": {lang: mean CER}, "mean": ..., "items": [...]} over sentences x seeds,
    in `reference`'s voice (a clip's path; None: the model's default voice)."""
    jobs = [
        (lang, text, seed)
        for lang in languages
        for text in dev_sentences(lang, root)
        for seed in seeds
    ]
    items = []
    for lang, text, seed in tqdm(jobs, desc="dev cer"):
        out = synth.synthesize(text, language=lang, seed=seed, reference=reference)
        heard, cer = judge.score(out.wav, out.sample_rate, text, lang)
        items.append({"language": lang, "seed": seed, "text": text, "heard": heard, "cer": cer})
    per_language = {
        lang: float(np.mean([i["cer"] for i in items if i["language"] == lang]))
        for lang in languages
    }
    mean = float(np.mean(list(per_language.values())))
    return {"per_language": per_language, "mean": mean, "items": items}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default=None, help="model bundle (default: the shipped model)")
    p.add_argument("--sampling", default="", help="sampling overrides, e.g. cfg_scale=1.5")
    p.add_argument("--languages", default="ja,en")
    p.add_argument("--seeds", default="0,1", help="comma-separated sampling seeds")
    p.add_argument(
        "--reference",
        default=None,
        help="a voice clip or stored voice name (default: the model's voice)",
    )
    p.add_argument(
        "--phoneme-weight",
        type=float,
        default=None,
        help="decode with this CodecConfig.phoneme_weight (default: the codec's own)",
    )
    p.add_argument("--out", default=None, help="also write every transcript here (JSON)")
    a = p.parse_args(argv)
    synth = Synthesizer.from_pretrained(a.model)
    overrides = apply_sampling(synth, a.sampling)
    if a.phoneme_weight is not None:
        try:
            synth.set_phoneme_weight(a.phoneme_weight)
        except ConfigError as exc:
            p.error(f"--phoneme-weight: {exc}")
        overrides.append(f"phoneme_weight={a.phoneme_weight:g}")
    languages = [check_language(x.strip()) for x in a.languages.split(",") if x.strip()]
    seeds = [int(x) for x in a.seeds.split(",") if x.strip()]
    result = dev_cer(synth, load_whisper(), languages, seeds, reference=a.reference)
    result["sampling"] = config_to_dict(synth.config.sampling)
    result["reference"] = a.reference
    if synth.codec.reads_phonemes:  # a codec without the text has no such weight
        result["phoneme_weight"] = synth.codec.config.phoneme_weight
    cells = " ".join(f"{lang} {v:.3f}" for lang, v in result["per_language"].items())
    setting = ",".join(overrides) or "model defaults"
    if a.reference:
        setting += f", voice {a.reference}"
    print(f"dev CER ({len(seeds)} seeds, {setting}): {cells} mean {result['mean']:.3f}")
    if a.out:
        Path(a.out).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
