"""How well a takes reader picks the best of several sampled takes, on the development sentences.

Synthesis samples `candidates` takes of each chunk and keeps the one its reader (tts.reader)
finds most likely to say the chunk's phonemes. Whether a new reader picks better shows only
faintly in `recipes/dev_cer.py`, because every run draws new takes. Here the takes are drawn
once and kept (`--takes FILE`: each take's Whisper CER and the codec codes its reader hears),
so readers are compared on the very same takes (a mel reader reads each take's audio, kept as
FLAC files in the folder FILE.audio next to the JSON):

    python recipes/rank_takes.py --takes takes.json --languages ja,en,de --n 4 --seeds 0,1
    python recipes/rank_takes.py --takes takes.json --reader runs/reader_new   # reuses them

Printed per language: the CER of the first take, of each reader's pick among the first 2 and
among all n, of the best take (what a perfect reader would pick), and the mean Spearman
correlation between a reader's scores and the takes' CER within a sentence (1: it ranks them
as Whisper does). `--voice-margins 0.1,0.2` also prints, for the bundle's reader, what
`SamplingConfig.voice_margin` would keep among the first k takes (k = 2 .. n): the CER of the
pick (raw and with each take's capped at 1) and the speaker encoder's cosine between the pick
and the voice (the reference's, or the model's default voice), with the reader alone (margin
0) for comparison. Takes are drawn as synthesis draws them (same seeds per take), in the
model's default voice or `--reference`'s, neutral; a sentence that the front end splits into
several chunks is skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from scipy.stats import rankdata
from tqdm import tqdm

from tts.conditioning import Conditioning
from tts.errors import ConfigError
from tts.generate import generate
from tts.labels import LANGUAGES, check_language
from tts.reader import UnitReader, read_ids
from tts.speakers.reference import load_reference
from tts.synthesizer import (
    TAKE_SEED_STRIDE,
    Synthesizer,
    closest_to_voice,
    pick_take,
    takes_within,
)

sys.path.insert(0, str(Path(__file__).parent))
from dev_cer import dev_sentences


def sample_takes(
    synth: Synthesizer, chunk, cond, sampling, voice, seed: int, n: int,
    emotion: str | None = None, intensity: float | None = None,
) -> tuple[list, list[np.ndarray]]:  # fmt: skip
    """n takes of one prepared chunk (`Synthesizer._prepare`'s chunk, conditioning, sampling
    and decoder voice), drawn as synthesis draws them (one seed per take) and decoded with the
    label's prosody: (the LM's GenerationResults, float32 audio at the model's rate)."""
    ids = synth._phonemes(chunk)
    seeds = [seed + take * TAKE_SEED_STRIDE for take in range(n)]
    results = generate(synth.lm, [ids] * n, Conditioning.cat([cond] * n), sampling, seed=seeds)
    pitch, extra = synth._label_controls(emotion, intensity, None, None, True)
    tempo, _ = synth._tempo_split(extra.tempo)
    audios = [
        synth._decode(synth._codec_codes(r.codes)[None], pitch, tempo, extra.f0_shift_st, voice)
        for r in results
    ]
    return results, audios


def draw_takes(
    synth: Synthesizer, judge, text: str, language: str, seed: int, n: int, reference=None
) -> dict | None:
    """n takes of one sentence as synthesis draws them: each take's Whisper CER, the codec codes
    of its decoded audio (what a codes reader reads) and the audio itself (float32 arrays at
    the model's rate, what a mel reader reads; `main` keeps them as files). None when the text
    is several chunks."""
    chunks, cond, sampling, _, voice, _ = synth._prepare(
        text, reference, language, None, None, None, 1.0, None
    )
    if len(chunks) != 1:
        return None
    results, audios = sample_takes(synth, chunks[0], cond, sampling, voice, seed, n)
    heard = synth.codec.encode_list(audios, synth.sample_rate)
    return {
        "language": language,
        "text": text,
        "seed": seed,
        "target": read_ids(chunks[0].ids, synth.frontend.inventory),
        "stopped": [bool(r.stopped) for r in results],
        "cer": [judge.score(a, synth.sample_rate, text, language)[1] for a in audios],
        "codes": [h.tolist() for h in heard],
        "sample_rate": synth.sample_rate,
        "audio": audios,
    }


def keep_audio(item: dict, folder: Path, number: int) -> dict:
    """The item with its takes' audio written to folder/NUMBER_TAKE.flac (16-bit) and named in
    item["audio"] instead."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for take, wav in enumerate(item["audio"]):
        name = f"{number:04d}_{take}.flac"
        sf.write(folder / name, np.clip(wav, -1.0, 1.0), item["sample_rate"], subtype="PCM_16")
        names.append(name)
    return {**item, "audio": names}


def reader_scores(reader: UnitReader, item: dict, audio: Path | None = None) -> list[float]:
    """A reader's scores of an item's takes: a mel reader reads the takes' audio files (in
    `audio`), the others the codes kept in the item."""
    language = LANGUAGES.index(item["language"])
    if reader.config.source != "mel":
        heard = [torch.tensor(c, dtype=torch.long) for c in item["codes"]]
        return reader.score(heard, item["target"], language)
    if audio is None or "audio" not in item:
        raise ConfigError("a mel reader reads the takes' audio: these takes were kept without it")
    mels = []
    for name in item["audio"]:
        wav, sr = sf.read(audio / name, dtype="float32")
        mels.append(reader.log_mel(wav, sr))
    return reader.score(mels, item["target"], language)


def pick(scores: list[float], stopped: list[bool], k: int) -> int:
    """The take synthesis keeps among the first k (`tts.synthesizer.pick_take`)."""
    return pick_take(scores[:k], stopped[:k])


def voice_pick(
    scores: list[float], stopped: list[bool], similarity: list[float], k: int, margin: float
) -> int:
    """The take synthesis keeps among the first k with `voice_margin` = margin: of the takes
    the reader scores within the margin of its best (`tts.synthesizer.takes_within`), the
    one closest to the voice; ties and margin 0: the reader's pick."""
    close = takes_within(scores[:k], stopped[:k], margin)
    return close[closest_to_voice([similarity[i] for i in close])]


def take_similarities(
    synth: Synthesizer, item: dict, audio: Path, voice: torch.Tensor
) -> list[float]:
    """The speaker encoder's cosine between each kept take's audio and `voice` [D]."""
    wavs = [sf.read(audio / name, dtype="float32") for name in item["audio"]]
    return synth.voice_similarities([w for w, _ in wavs], wavs[0][1], voice)


def voice_summary(
    items: list[dict],
    reader: UnitReader,
    audio: Path | None,
    similarities: list[list[float]],
    margins: list[float],
) -> dict:
    """Per language and margin (0 = the reader alone): the CER (also with each take's capped
    at 1, so that a take Whisper hears as a loop does not decide the mean) and the voice
    cosine of the pick among the first k takes, for k = 2 .. n. `similarities`: per item,
    each take's cosine."""
    out: dict = {}
    for lang in sorted({i["language"] for i in items}, key=LANGUAGES.index):
        rows = [
            (i, sims) for i, sims in zip(items, similarities, strict=True) if i["language"] == lang
        ]
        n = len(rows[0][0]["cer"])
        scored = [(r, sims, reader_scores(reader, r, audio)) for r, sims in rows]
        res: dict = {}
        for margin in [0.0, *margins]:
            res[margin] = {}
            for k in range(2, n + 1):
                kept = [
                    (r, sims, voice_pick(sc, r["stopped"], sims, k, margin))
                    for r, sims, sc in scored
                ]
                res[margin][f"cer_of_{k}"] = float(np.mean([r["cer"][i] for r, _, i in kept]))
                capped = [min(r["cer"][i], 1.0) for r, _, i in kept]
                res[margin][f"capped_cer_of_{k}"] = float(np.mean(capped))
                res[margin][f"similarity_of_{k}"] = float(np.mean([s[i] for _, s, i in kept]))
        out[lang] = res
    return out


def spearman(a: list[float], b: list[float]) -> float | None:
    """Rank correlation (ties share their mean rank); None when either side has no order,
    as when every take reads equally well."""
    ra, rb = (rankdata(x) for x in (a, b))
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def summarise(items: list[dict], readers: dict[str, UnitReader], audio: Path | None = None) -> dict:
    """Per language: CER of the first take, the best take, and each reader's picks (`audio`:
    the folder of the takes' audio, for a mel reader)."""
    out: dict = {}
    for lang in sorted({i["language"] for i in items}, key=LANGUAGES.index):
        rows = [i for i in items if i["language"] == lang]
        n = len(rows[0]["cer"])
        res = {
            "sentences": len(rows),
            "first": float(np.mean([r["cer"][0] for r in rows])),
            "best_of_2": float(np.mean([min(r["cer"][:2]) for r in rows])),
            f"best_of_{n}": float(np.mean([min(r["cer"]) for r in rows])),
        }
        for name, reader in readers.items():
            picks2, picksn, rhos = [], [], []
            for r in rows:
                scores = reader_scores(reader, r, audio)
                picks2.append(r["cer"][pick(scores, r["stopped"], 2)])
                picksn.append(r["cer"][pick(scores, r["stopped"], n)])
                finite = [s if np.isfinite(s) else 1e9 for s in scores]
                rho = spearman(finite, r["cer"])
                if rho is not None:
                    rhos.append(rho)
            res[name] = {
                "pick_of_2": float(np.mean(picks2)),
                f"pick_of_{n}": float(np.mean(picksn)),
                "spearman": float(np.mean(rhos)) if rhos else None,
            }
        out[lang] = res
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default=None, help="model bundle (default: the shipped model)")
    p.add_argument("--takes", required=True, help="JSON of drawn takes: read if it exists")
    p.add_argument("--languages", default="ja,en")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--n", type=int, default=4, help="takes per sentence and seed")
    p.add_argument("--reference", default=None, help="a voice clip (default: the model's voice)")
    p.add_argument(
        "--reader", action="append", default=[], help="a reader to compare (repeatable); "
        "default: the bundle's own"
    )  # fmt: skip
    p.add_argument(
        "--voice-margins", default="", help="comma list: what SamplingConfig.voice_margin would "
        "keep at each (the bundle's reader; the takes' audio is needed)"
    )  # fmt: skip
    a = p.parse_args(argv)
    synth = Synthesizer.from_pretrained(a.model)
    path = Path(a.takes)
    audio = path.with_name(path.name + ".audio")
    if path.is_file():
        items = json.loads(path.read_text(encoding="utf-8"))["items"]
    else:
        if a.n < 2:
            p.error("--n must be at least 2")
        from tts.eval.asr import load_whisper

        judge = load_whisper()
        languages = [check_language(x.strip()) for x in a.languages.split(",") if x.strip()]
        seeds = [int(x) for x in a.seeds.split(",") if x.strip()]
        jobs = [(lang, t, s) for lang in languages for t in dev_sentences(lang) for s in seeds]
        items = []
        for lang, text, seed in tqdm(jobs, desc="takes"):
            item = draw_takes(synth, judge, text, lang, seed, a.n, a.reference)
            if item is not None:
                items.append(keep_audio(item, audio, len(items)))
        payload = {"reference": a.reference, "n": a.n, "items": items}
        path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    readers = {"bundle": synth.reader} if synth.reader is not None and not a.reader else {}
    readers |= {r: UnitReader.load(r) for r in a.reader}
    if not readers:
        p.error("this bundle has no reader: name one with --reader")
    result = summarise(items, readers, audio)
    for lang, res in result.items():
        n = len(next(i for i in items if i["language"] == lang)["cer"])
        line = (f"{lang} ({res['sentences']} sentence-seeds): first {res['first']:.3f}, "
                f"best of 2 {res['best_of_2']:.3f}, best of {n} {res[f'best_of_{n}']:.3f}")  # fmt: skip
        print(line)
        for name in readers:
            r = res[name]
            rho = "n/a" if r["spearman"] is None else f"{r['spearman']:.2f}"
            print(f"   {name}: pick of 2 {r['pick_of_2']:.3f}, of {n} {r[f'pick_of_{n}']:.3f}, "
                  f"Spearman {rho}")  # fmt: skip
    margins = [float(x) for x in a.voice_margins.split(",") if x.strip()]
    if margins:
        if synth.reader is None:
            p.error("--voice-margins needs a bundle with a reader")
        reference = json.loads(path.read_text(encoding="utf-8"))["reference"]
        clip = load_reference(reference) if reference is not None else None
        # the voice's embedding before the speaker contrast, as synthesis compares takes with
        # it (the language does not enter the speaker embedding)
        voice = synth._conditioning(clip, "en", None, None, None, None)[1]
        sims = [take_similarities(synth, i, audio, voice) for i in tqdm(items, desc="voices")]
        result["voice_margins"] = voice_summary(items, synth.reader, audio, sims, margins)
        for lang, res in result["voice_margins"].items():
            n = len(next(i for i in items if i["language"] == lang)["cer"])
            for margin, r in res.items():
                picks = "; ".join(
                    f"of {k} CER {r[f'cer_of_{k}']:.3f} (capped {r[f'capped_cer_of_{k}']:.3f}), "
                    f"voice {r[f'similarity_of_{k}']:.4f}"
                    for k in range(2, n + 1)
                )
                print(f"{lang} voice margin {margin}: pick {picks}")
    return result


if __name__ == "__main__":
    main()
