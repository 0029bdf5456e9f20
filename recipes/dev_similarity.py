"""Voice similarity (and CER) of a model on development voices: for choosing settings that
change the voice without looking at the held-out voices that `tts eval` reports.

    python recipes/dev_similarity.py --manifest ~/koe-runs/proof/manifest.jsonl
    python recipes/dev_similarity.py --manifest ... --timbre off --out dev_sim.json
    python recipes/dev_similarity.py --manifest ... --languages ja,en,de --seeds 0,1 \
        --speaker-contrast 0        # 0 / 2 / 3: how v13's strength was chosen

The voices are training voices made into new ones (`calibrate_prosody.new_voice`: resampled
by +-3 semitones, so the LM never heard them), 4 per language, each speaking 3 development
sentences (recipes/data/dev_sentences). Each output is compared by Resemblyzer with the
reference it was made from and with another clip of the same new voice (a recording the model
never saw: closeness to the voice rather than to one clip), and transcribed by Whisper base.
With a speaker contrast in the model, each item also gives the cosine of the output and of the
reference to the contrast's mean (the training voices): how far the LM pulls the voice to it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from calibrate_prosody import new_voice, training_voices
from dev_cer import apply_sampling, dev_sentences

from tts.config import config_to_dict
from tts.data.manifest import read_manifest
from tts.eval.asr import load_whisper
from tts.eval.inputs import load_entry
from tts.eval.similarity import cosine
from tts.labels import check_language
from tts.speakers.timbre import TimbreConfig
from tts.synthesizer import Synthesizer


def dev_similarity(  # type: ignore[no-untyped-def]
    synth, pool, judge, languages: list[str], voices: int = 4, texts: int = 3,
    seeds: tuple[int, ...] = (0,),
):  # fmt: skip
    """{"per_language": {lang: {sim_reference, sim_other_clip, cer}}, "items": [...]}."""
    jobs = []
    for language in languages:
        for i, entry in enumerate(training_voices(pool, language, voices)):
            other = next(
                e for e in pool
                if e.speaker == entry.speaker and e.emotion == "neutral" and e.audio != entry.audio
            )  # fmt: skip
            shift = 3.0 * (-1) ** i  # the same shift for both clips: one new voice
            jobs += [(language, entry, other, shift, t, seed)
                     for t in dev_sentences(language)[:texts] for seed in seeds]  # fmt: skip
    items = []
    mean = None if synth.speaker_contrast is None else synth.speaker_contrast.mean.numpy()
    embed = synth.speaker_encoder.embed
    for language, entry, other, shift, text, seed in tqdm(jobs, desc="dev similarity"):
        wav, sr = load_entry(entry)
        reference = (new_voice(wav, sr, shift), sr)
        other_wav, other_sr = load_entry(other)
        out = synth.synthesize(text, reference=reference, language=language, seed=seed,
                               watermark=False)  # fmt: skip
        # each clip embedded once, for every comparison it is in
        e_out, e_ref = embed(out.wav, out.sample_rate), embed(*reference)
        e_other = embed(new_voice(other_wav, other_sr, shift), other_sr)
        extra = {}
        if mean is not None:  # how near its training voices the LM puts the voice
            extra = {
                "output_to_mean": cosine(e_out, mean),
                "reference_to_mean": cosine(e_ref, mean),
            }
        items.append({
            "language": language, "voice": entry.speaker, "shift": shift, "text": text,
            "seed": seed, **extra,
            "sim_reference": cosine(e_ref, e_out),
            "sim_other_clip": cosine(e_other, e_out),
            "cer": judge.score(out.wav, out.sample_rate, text, language)[1],
        })  # fmt: skip
    keys = ("sim_reference", "sim_other_clip", "cer")
    keys += ("output_to_mean", "reference_to_mean") if mean is not None else ()
    per_language = {
        lang: {k: float(np.mean([i[k] for i in items if i["language"] == lang])) for k in keys}
        for lang in languages
    }
    return {"per_language": per_language, "items": items}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default=None, help="model bundle (default: the shipped model)")
    p.add_argument("--manifest", required=True, help="the corpus manifest (training voices)")
    p.add_argument("--languages", default="ja,en")
    p.add_argument("--timbre", choices=("bundle", "on", "off"), default="bundle",
                   help="timbre correction as the bundle says, or forced on / off")  # fmt: skip
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seeds", default="0", help="comma list: every item is drawn with each")
    p.add_argument("--speaker-contrast", type=float, default=None,
                   help="the strength of the model's speaker contrast (0: off)")  # fmt: skip
    p.add_argument("--sampling", default="", help="sampling overrides, e.g. candidates=4")
    p.add_argument("--out", default=None, help="also write every item here (JSON)")
    a = p.parse_args(argv)
    logging.getLogger("tts.watermark").setLevel(logging.ERROR)
    synth = Synthesizer.from_pretrained(a.model, threads=a.threads)
    apply_sampling(synth, a.sampling)
    if a.timbre != "bundle":
        synth.config = replace(synth.config, timbre=TimbreConfig() if a.timbre == "on" else None)
    if a.speaker_contrast is not None:
        synth.set_speaker_contrast(a.speaker_contrast)
    languages = [check_language(x.strip()) for x in a.languages.split(",") if x.strip()]
    seeds = tuple(int(x) for x in a.seeds.split(",") if x.strip())
    pool = read_manifest(a.manifest)
    result = dev_similarity(synth, pool, load_whisper(), languages, seeds=seeds)
    result["timbre"] = synth.config.timbre is not None
    result["speaker_contrast"] = synth.speaker_contrast and synth.speaker_contrast.strength
    result["sampling"] = config_to_dict(synth.config.sampling)
    for lang, row in result["per_language"].items():
        cells = " ".join(f"{k} {v:.3f}" for k, v in row.items())
        print(f"{lang} (timbre {'on' if result['timbre'] else 'off'}): {cells}")
    if a.out:
        Path(a.out).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
