"""Build a multilingual, multi-speaker, emotion-labelled synthetic corpus entirely offline.

    python recipes/data/synthetic.py --out data/synthetic --utterances-per-voice 20 --jobs 2
    python recipes/data/synthetic.py --out data/synth_big --hours 10 --emotional-variants 2
    python recipes/data/synthetic.py --out /tmp/tiny --engines espeak,pyopenjtalk \\
        --utterances-per-voice 2 --held-out-voices 1

Voices come from the offline engines in `tts.data.engines` (Kokoro's five Japanese voices also
reading en/de/ko/vi from espeak IPA, pyopenjtalk/open_jtalk timbre variants, flite, festival,
piper and espeak-ng variants), each with a stable speaker id. Texts are the hand-written
sentence lists in `recipes/data/sentences/{ja,en,ko,vi,de}.txt`.

For every (voice, language, sentence) the engine reads the sentence once; the clip is resampled
to 24 kHz mono, trimmed, loudness-normalised (active-speech RMS -23 dBFS) and saved as the
neutral utterance. `--emotional-variants K` emotional copies are then made from it with WORLD
(`tts.data.prosody`: F0 level and range, tempo, energy, spectral tilt, breathiness, unvoiced
excitation for whisper) at an intensity drawn from `--intensities`. The manifest records
`emotion`, `intensity` and the exact prosody parameters in `extra["prosody"]`.

Splits (`extra["split"]`): a fraction of each language's sentences (`--held-out-sentences`) is
never used for training; seen voices reading them are "valid". Voices named or counted by
`--held-out-voices` (a comma list, or a count N meaning N voices per language, drawn from
each voice's first language wherever more than N voices exist) are "test" only: unseen
speakers, reading the held-out sentences. Everything else is "train".

`--kokoro-blends N` adds N new Kokoro voices, each a weighted mean of two of its voices' style
vectors (`tts.data.engines.kokoro_blends`): never of a held-out voice (name those), never the
pair reserved for the development voice. `--voices` takes shell patterns, so
`--voices 'kokoro-mix-*'` builds the blends alone.

Deterministic: the same seed and flags give the same plan, manifest and audio bytes (all engines
are run without sampling noise). Interrupted builds resume: finished files are skipped (files are
written atomically, so a half-written file is never mistaken for a finished one).
Outputs: OUT/wavs/<speaker>/<lang>/*.wav, OUT/manifest.jsonl, OUT/build_stats.json,
OUT/summary.png (hours per language / emotion).
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import math
import multiprocessing
import random
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from tts.data.cleanup import CORPUS_SAMPLE_RATE, clean_clip, limit_peak
from tts.data.engines import (
    ENGINES,
    KOKORO_VOICES,
    Voice,
    all_voices,
    engine_available,
    kokoro_blends,
    synthesize,
)
from tts.data.manifest import entry_from_dict, write_manifest
from tts.data.prosody import ProsodyParams, apply_emotion, emotion_params
from tts.data.stats import format_summary, plot_summary, summarize
from tts.errors import ConfigError, TTSError
from tts.labels import EMOTIONS, LANGUAGES

SAMPLE_RATE = CORPUS_SAMPLE_RATE
SENTENCES_DIR = Path(__file__).resolve().parent / "sentences"
# Rough speaking time per character, only used to turn --hours into utterances per voice.
SECONDS_PER_CHAR = {"ja": 0.14, "ko": 0.11, "vi": 0.07, "en": 0.065, "de": 0.07}


@dataclass
class BuildConfig:
    out: Path
    seed: int = 0
    engines: tuple[str, ...] = ENGINES
    languages: tuple[str, ...] = LANGUAGES
    voices: tuple[str, ...] = ()  # restrict to these speaker ids or patterns (empty: all)
    kokoro_blends: int = 0  # new Kokoro voices, each a mix of two of its voices
    utterances_per_voice: int | None = 20  # sentences per (voice, language)
    hours: float | None = None  # overrides utterances_per_voice with an estimate
    emotional_variants: int = 1
    emotions: tuple[str, ...] = tuple(e for e in EMOTIONS if e != "neutral")
    intensities: tuple[float, ...] = (0.33, 0.66, 1.0)
    held_out_voices: tuple[str, ...] | int = 0
    held_out_sentences: float = 0.05
    jobs: int = 1
    sentences_dir: Path = SENTENCES_DIR


@dataclass
class Unit:
    """One engine call: a voice reading one sentence, plus its emotional variants."""

    speaker: str
    engine: str
    voice_params: dict
    language: str
    sentence_index: int
    text: str
    split: str
    variants: list[tuple[str, float]] = field(default_factory=list)

    def stem(self) -> str:
        return f"{self.speaker}/{self.language}/{self.speaker}_{self.language}_{self.sentence_index:04d}"

    def outputs(self) -> list[tuple[str, float, str]]:
        """(emotion, intensity, relative wav path) for the neutral clip and each variant."""
        rows = [("neutral", 0.0, f"wavs/{self.stem()}_neutral.wav")]
        for emotion, intensity in self.variants:
            rows.append(
                (
                    emotion,
                    intensity,
                    f"wavs/{self.stem()}_{emotion}{round(intensity * 100):03d}.wav",
                )
            )
        return rows


def load_sentences(folder: Path, language: str) -> list[str]:
    path = Path(folder) / f"{language}.txt"
    if not path.is_file():
        raise ConfigError(f"no sentence list for {language!r}: {path} is missing")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    sentences = [line for line in lines if line and not line.startswith("#")]
    if not sentences:
        raise ConfigError(f"{path} has no sentences")
    return sentences


def select_voices(config: BuildConfig) -> list[Voice]:
    unknown = set(config.engines) - set(ENGINES)
    if unknown:
        raise ConfigError(f"unknown engine(s) {sorted(unknown)}; choose from {', '.join(ENGINES)}")
    missing = [e for e in config.engines if not engine_available(e)]
    if missing:
        warnings.warn(f"engines not installed here, skipped: {missing}", stacklevel=2)
    catalogue = all_voices()
    if config.kokoro_blends:
        if "kokoro" not in config.engines or "kokoro" in missing:
            raise ConfigError("--kokoro-blends needs the kokoro engine")
        if isinstance(config.held_out_voices, int) and config.held_out_voices:
            raise ConfigError(
                "with --kokoro-blends, name the held-out voices (a blend must not contain one)"
            )
        held = () if isinstance(config.held_out_voices, int) else config.held_out_voices
        exclude = tuple(n for n in KOKORO_VOICES if f"kokoro-{n}" in held)
        catalogue += kokoro_blends(config.kokoro_blends, config.seed, exclude)

    def wanted(speaker: str) -> bool:
        return not config.voices or any(fnmatch.fnmatchcase(speaker, p) for p in config.voices)

    voices = [
        v
        for v in catalogue
        if v.engine in config.engines
        and v.engine not in missing
        and set(v.languages) & set(config.languages)
        and wanted(v.speaker)
    ]
    absent = [
        p for p in config.voices if not any(fnmatch.fnmatchcase(v.speaker, p) for v in voices)
    ]
    if absent:
        raise ConfigError(f"voice(s) {sorted(absent)} not available with the chosen engines")
    if not voices:
        raise ConfigError("no voices left after filtering by engine, language and voice id")
    return voices


def _per_voice_count(
    config: BuildConfig, voices: list[Voice], sentences: dict[str, list[str]]
) -> int:
    if config.hours is None:
        if config.utterances_per_voice is None or config.utterances_per_voice < 1:
            raise ConfigError("give --utterances-per-voice >= 1 or --hours > 0")
        return config.utterances_per_voice
    if config.hours <= 0:
        raise ConfigError(f"--hours must be > 0, got {config.hours}")
    seconds_per_round = 0.0  # one sentence for every (voice, language)
    for voice in voices:
        for lang in set(voice.languages) & set(config.languages):
            mean_chars = float(np.mean([len(s) for s in sentences[lang]]))
            seconds_per_round += (0.4 + SECONDS_PER_CHAR[lang] * mean_chars) * (
                1 + config.emotional_variants
            )
    return max(1, math.ceil(config.hours * 3600 / seconds_per_round))


def plan_corpus(config: BuildConfig) -> list[Unit]:
    """The deterministic list of units to build (depends only on the config)."""
    if config.emotional_variants < 0 or config.emotional_variants > len(config.emotions):
        raise ConfigError(f"--emotional-variants must be in 0..{len(config.emotions)}")
    if not 0 <= config.held_out_sentences < 1:
        raise ConfigError(
            f"--held-out-sentences must be in [0, 1), got {config.held_out_sentences}"
        )
    for e in config.emotions:
        if e not in EMOTIONS or e == "neutral":
            raise ConfigError(
                f"emotion {e!r} must be one of {[x for x in EMOTIONS if x != 'neutral']}"
            )
    if any(not (0 < i <= 2) for i in config.intensities):
        raise ConfigError(f"intensities must be in (0, 2], got {config.intensities}")
    voices = select_voices(config)
    languages = sorted({lang for v in voices for lang in v.languages} & set(config.languages))
    sentences = {lang: load_sentences(config.sentences_dir, lang) for lang in languages}
    per_voice = _per_voice_count(config, voices, sentences)

    held_sentences: dict[str, set[int]] = {}
    for lang in languages:
        n = len(sentences[lang])
        k = round(n * config.held_out_sentences)
        if config.held_out_sentences > 0 and k == 0 and n > 1:
            k = 1
        held_sentences[lang] = set(
            random.Random(f"{config.seed}:sentences:{lang}").sample(range(n), k)
        )

    ids = [v.speaker for v in voices]
    if isinstance(config.held_out_voices, int):
        if not 0 <= config.held_out_voices < len(ids):
            raise ConfigError(
                f"--held-out-voices must be in 0..{len(ids) - 1}, got {config.held_out_voices}"
            )
        # Stratified: N unseen voices in every language that keeps at least one training voice,
        # so each language can be evaluated on a held-out speaker.
        held_voices = set()
        for lang in languages:
            pool = [v.speaker for v in voices if v.languages[0] == lang]
            if len(pool) > config.held_out_voices:
                rng = random.Random(f"{config.seed}:voices:{lang}")
                held_voices.update(rng.sample(pool, config.held_out_voices))
    else:
        # A held-out voice need not be built here (a corpus of blends alone holds out the voice
        # its blends leave out), but it must exist: a typo would hold out nothing.
        held_voices = set(config.held_out_voices)
        known = set(ids) | {v.speaker for v in all_voices()}
        if held_voices - known:
            raise ConfigError(f"held-out voice(s) {sorted(held_voices - known)} do not exist")

    units = []
    for voice in voices:
        for lang in sorted(set(voice.languages) & set(languages)):
            rng = random.Random(f"{config.seed}:{voice.speaker}:{lang}")
            n = len(sentences[lang])
            if voice.speaker in held_voices:
                # Unseen voices read the held-out sentences: unseen speaker and unseen text.
                pool = sorted(held_sentences[lang]) or list(range(n))
                chosen = [(i, "test") for i in rng.sample(pool, min(per_voice, len(pool)))]
            else:
                train_pool = [i for i in range(n) if i not in held_sentences[lang]]
                valid_pool = sorted(held_sentences[lang])
                n_valid = min(len(valid_pool), max(1, round(per_voice * config.held_out_sentences))) if valid_pool else 0  # fmt: skip
                chosen = [
                    (i, "train") for i in rng.sample(train_pool, min(per_voice, len(train_pool)))
                ]
                chosen += [(i, "valid") for i in rng.sample(valid_pool, n_valid)]
            for index, split in sorted(chosen):
                emotions = rng.sample(list(config.emotions), config.emotional_variants)
                variants = [(e, float(rng.choice(config.intensities))) for e in emotions]
                units.append(
                    Unit(voice.speaker, voice.engine, dict(voice.params), lang, index,
                         sentences[lang][index], split, variants)
                )  # fmt: skip
    return units


def _save_atomic(path: Path, wav: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    sf.write(str(tmp), wav, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    tmp.replace(path)


def _entry_dict(unit: Unit, emotion: str, intensity: float, rel: str, duration: float) -> dict:
    params = emotion_params(emotion, intensity) if emotion != "neutral" else ProsodyParams()
    return {
        "audio": rel,
        "text": unit.text,
        "language": unit.language,
        "speaker": unit.speaker,
        "emotion": emotion,
        "intensity": intensity,
        "duration": duration,
        "extra": {
            "source": "synthetic",
            "engine": unit.engine,
            "voice": unit.voice_params,
            "split": unit.split,
            "sentence_id": f"{unit.language}-{unit.sentence_index:04d}",
            "prosody": params.as_dict(),
        },
    }


def build_unit(unit: Unit, out: Path) -> tuple[list[dict], bool, str | None]:
    """Synthesise one unit (or reuse finished files): (entry dicts, built?, error)."""
    rows = unit.outputs()
    if all((out / rel).is_file() for _, _, rel in rows):
        return [_entry_dict(unit, e, i, rel, sf.info(str(out / rel)).duration) for e, i, rel in rows], False, None  # fmt: skip
    try:
        voice = Voice(unit.speaker, unit.engine, (unit.language,), unit.voice_params)
        wav, sr = synthesize(voice, unit.text, unit.language)
        neutral = clean_clip(wav, sr, SAMPLE_RATE)
    except TTSError as exc:
        return [], True, f"{unit.stem()}: {exc}"
    entries = []
    for emotion, intensity, rel in rows:
        if emotion == "neutral":
            clip = neutral
        else:
            # The emotion's energy change is applied after normalising the neutral clip, so it
            # survives; only the peak limiter can pull a loud variant back down.
            clip = limit_peak(apply_emotion(neutral, SAMPLE_RATE, emotion, intensity)[0])
        _save_atomic(out / rel, clip)
        entries.append(_entry_dict(unit, emotion, intensity, rel, len(clip) / SAMPLE_RATE))
    return entries, True, None


def _work(job: tuple[int, Unit, str]) -> tuple[int, list[dict], bool, str | None]:
    index, unit, out = job
    warnings.filterwarnings("ignore")
    entries, built, error = build_unit(unit, Path(out))
    return index, entries, built, error


@dataclass
class BuildReport:
    manifest: Path
    utterances: int
    audio_hours: float
    units_built: int
    units_skipped: int
    failures: list[str]
    seconds: float
    built_utterances: int  # made in this run (not reused from an earlier, interrupted run)
    built_audio_hours: float

    @property
    def utterances_per_second(self) -> float:
        return self.built_utterances / self.seconds if self.seconds > 0 else 0.0

    @property
    def audio_hours_per_compute_hour(self) -> float:
        return self.built_audio_hours * 3600 / self.seconds if self.seconds > 0 else 0.0


def build_corpus(config: BuildConfig, progress: bool = True, plot: bool = True) -> BuildReport:
    """Plan, synthesise (in `config.jobs` processes) and write OUT/manifest.jsonl."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    units = plan_corpus(config)
    jobs = [(i, u, str(out)) for i, u in enumerate(units)]
    results: dict[int, list[dict]] = {}
    failures: list[str] = []
    built = skipped = built_utts = 0
    built_seconds = 0.0
    start = time.perf_counter()
    bar = tqdm(total=len(jobs), desc="synthetic corpus", unit="sent", disable=not progress)
    with contextlib.ExitStack() as stack:
        if config.jobs > 1:
            pool = stack.enter_context(multiprocessing.get_context("fork").Pool(config.jobs))
            stream = pool.imap_unordered(_work, jobs, chunksize=1)
        else:
            stream = map(_work, jobs)
        for index, entries, was_built, error in stream:
            results[index] = entries
            if error:
                failures.append(error)
            elif was_built:
                built += 1
                built_utts += len(entries)
                built_seconds += sum(e["duration"] for e in entries)
            else:
                skipped += 1
            bar.update(1)
    bar.close()
    seconds = time.perf_counter() - start
    rows = [row for i in range(len(units)) for row in results.get(i, [])]
    entries = [entry_from_dict(row, out) for row in rows]
    manifest = write_manifest(out / "manifest.jsonl", entries)
    report = BuildReport(
        manifest=manifest,
        utterances=len(entries),
        audio_hours=sum(e.duration for e in entries) / 3600,
        units_built=built,
        units_skipped=skipped,
        failures=failures,
        seconds=seconds,
        built_utterances=built_utts,
        built_audio_hours=built_seconds / 3600,
    )
    stats = {
        **{k: v for k, v in asdict(report).items() if k != "manifest"},
        "utterances_per_second": report.utterances_per_second,
        "audio_hours_per_compute_hour": report.audio_hours_per_compute_hour,
        "jobs": config.jobs,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
    }
    (out / "build_stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    if plot and entries:
        plot_summary(summarize(entries), out / "summary.png")
    return report


def _csv(value: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in value.split(",") if x.strip())


def parse_args(argv: list[str] | None = None) -> BuildConfig:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--engines", type=_csv, default=ENGINES, help=f"comma list from {','.join(ENGINES)}"
    )
    p.add_argument("--languages", type=_csv, default=LANGUAGES)
    p.add_argument(
        "--voices", type=_csv, default=(), help="only these speaker ids (shell patterns allowed)"
    )
    p.add_argument(
        "--kokoro-blends", type=int, default=0, help="add N Kokoro voices mixed from two of its own"
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--utterances-per-voice", type=int, default=20, help="sentences per voice and language"
    )
    size.add_argument("--hours", type=float, help="approximate total hours (overrides the above)")
    p.add_argument(
        "--emotional-variants", type=int, default=1, help="emotional copies per sentence"
    )
    p.add_argument("--emotions", type=_csv, default=tuple(e for e in EMOTIONS if e != "neutral"))
    p.add_argument(
        "--intensities", type=lambda s: tuple(float(x) for x in _csv(s)), default=(0.33, 0.66, 1.0)
    )
    p.add_argument(
        "--held-out-voices",
        default="0",
        help="a count per language, or a comma list of speaker ids",
    )
    p.add_argument("--held-out-sentences", type=float, default=0.05, help="fraction per language")
    p.add_argument("--jobs", type=int, default=max(1, (multiprocessing.cpu_count() or 1)))
    p.add_argument("--sentences-dir", type=Path, default=SENTENCES_DIR)
    a = p.parse_args(argv)
    held: tuple[str, ...] | int = (
        int(a.held_out_voices) if a.held_out_voices.isdigit() else _csv(a.held_out_voices)
    )
    return BuildConfig(
        out=a.out, seed=a.seed, engines=a.engines, languages=a.languages, voices=a.voices,
        kokoro_blends=a.kokoro_blends,
        utterances_per_voice=a.utterances_per_voice, hours=a.hours,
        emotional_variants=a.emotional_variants, emotions=a.emotions, intensities=a.intensities,
        held_out_voices=held, held_out_sentences=a.held_out_sentences, jobs=a.jobs,
        sentences_dir=a.sentences_dir,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    try:
        report = build_corpus(config)
    except TTSError as exc:
        sys.exit(f"error: {exc}")
    from tts.data.manifest import read_manifest

    print(format_summary(summarize(read_manifest(report.manifest))))
    print(
        f"\nmanifest: {report.manifest}\nbuilt {report.units_built} sentences "
        f"({report.built_utterances} utterances, {report.built_audio_hours * 3600:.1f} s of audio), "
        f"skipped {report.units_skipped} already built, {len(report.failures)} failed, "
        f"in {report.seconds:.1f} s with {config.jobs} job(s): "
        f"{report.utterances_per_second:.2f} utterances/s, "
        f"{report.audio_hours_per_compute_hour:.2f} audio hours per compute hour"
    )
    for failure in report.failures[:20]:
        print(f"failed: {failure}")


if __name__ == "__main__":
    main()
