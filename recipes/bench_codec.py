"""Benchmark speech codecs: token rates, speed and reconstruction quality on held-out speech.

    python recipes/bench_codec.py                                   # all codecs, all clips
    python recipes/bench_codec.py --codecs encodec-24k@6,koe-tiny --max-clips 2 --out bench.json
    python recipes/bench_codec.py --koe-checkpoint runs/codec       # include our trained codec

For each codec: frame rate, tokens per second of audio (frame_rate x codebooks), bitrate
(tokens/s x log2(codebook size)), encode and decode real-time factor (seconds of compute per
second of audio; CPU, and CUDA when present), and on held-out sentences synthesised here
(pyopenjtalk for ja, espeak-ng for en/de): log-mel distance and STOI between original and
resynthesis, the share of voiced frames kept (WORLD DIO's voiced frames in the resynthesis
over those in the original: a decoder that loses the harmonics of voiced speech scores far
below 1), and Whisper-base CER of the resynthesis against the sentence text. The row
"original" is the judge on the unprocessed clips: the CER floor of these voices.
Codecs whose pretrained weights are not on this machine run with random weights; the
`weights` column says so, and their quality numbers then only show the pipeline works.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from tts.audio import resample
from tts.codecs import Codec, load_codec
from tts.codecs.losses import mel_distance
from tts.errors import CheckpointError

DEFAULT_CODECS = "encodec-24k@1.5,encodec-24k@6,dac-24k,dac-44k,koe-small"
# Interleaved by language so that --max-clips N still covers ja, en and de.
SENTENCES = [
    ("ja", "今日はとても良い天気ですね。"),
    ("en", "The quick brown fox jumps over the lazy dog."),
    ("de", "Guten Morgen, wie geht es dir heute?"),
    ("ja", "明日の会議は午後三時から始まります。"),
    ("en", "Please call Stella and ask her to bring these things with her from the store."),
    ("de", "Der Zug nach Berlin fährt um acht Uhr ab."),
]
ESPEAK_VOICES = {"en": "en-us", "de": "de"}


@dataclass
class Clip:
    language: str
    engine: str
    text: str
    wav: np.ndarray  # float32 mono
    sr: int

    @property
    def seconds(self) -> float:
        return len(self.wav) / self.sr


def synthesize_clips(max_clips: int) -> list[Clip]:
    import pyopenjtalk

    clips = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (lang, text) in enumerate(SENTENCES[:max_clips]):
            if lang == "ja":
                wav, sr = pyopenjtalk.tts(text)  # float64, int16 scale, 48 kHz
                clips.append(
                    Clip(lang, "pyopenjtalk", text, (wav / 32768.0).astype(np.float32), int(sr))
                )
                continue
            if shutil.which("espeak-ng") is None:
                raise SystemExit("espeak-ng is not installed (apt-get install espeak-ng)")
            path = Path(tmp) / f"{i}.wav"
            voice = ESPEAK_VOICES[lang]
            subprocess.run(
                ["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True
            )
            wav, sr = sf.read(path, dtype="float32")
            clips.append(Clip(lang, f"espeak-ng {voice}", text, wav, int(sr)))
    return clips


def open_codec(name: str, device: str) -> tuple[Codec, str]:
    """(codec, weights label): pretrained/trained when available, else random weights."""
    try:
        codec = load_codec(name, device=device)
        return codec, "trained" if Path(name).exists() else "pretrained"
    except CheckpointError:
        if Path(name).exists():
            raise
        return load_codec(name, pretrained=False, device=device), "random"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_speed(codec: Codec, clips: list[Clip]) -> tuple[float, float, list[torch.Tensor]]:
    """(encode RTF, decode RTF, decoded audio per clip) on the codec's current device."""
    device = codec.device
    codec.decode(
        codec.encode(torch.from_numpy(clips[0].wav[None, : clips[0].sr // 2]), clips[0].sr)
    )  # warm-up
    enc = dec = 0.0
    outputs = []
    for clip in clips:
        wav = torch.from_numpy(clip.wav[None]).to(device)
        _sync(device)
        t0 = time.perf_counter()
        codes = codec.encode(wav, clip.sr)
        _sync(device)
        t1 = time.perf_counter()
        audio = codec.decode(codes)
        _sync(device)
        t2 = time.perf_counter()
        enc, dec = enc + t1 - t0, dec + t2 - t1
        outputs.append(audio[0].float().cpu())
    total = sum(c.seconds for c in clips)
    return enc / total, dec / total, outputs


def quality(clip: Clip, audio: np.ndarray, sr: int, judge: Any) -> dict[str, Any]:
    """Mel distance and STOI against the original, Whisper CER against the text."""
    from pystoi import stoi

    ref24 = resample(clip.wav, clip.sr, 24_000)
    out24 = resample(audio, sr, 24_000)[: len(ref24)]
    out24 = np.pad(out24, (0, len(ref24) - len(out24)))
    row: dict[str, Any] = {
        "mel_distance": mel_distance(torch.from_numpy(out24), torch.from_numpy(ref24), 24_000)
    }
    ref16, out16 = resample(ref24, 24_000, 16_000), resample(out24, 24_000, 16_000)
    row["stoi"] = float(stoi(ref16, out16, 16_000, extended=False))
    row["voiced_kept"] = voiced_fraction(out24) / max(voiced_fraction(ref24), 1e-9)
    if judge is not None:
        row["transcript"], row["cer"] = judge.score(audio, sr, clip.text, clip.language)
    return row


def voiced_fraction(wav: np.ndarray, sr: int = 24_000) -> float:
    """Share of 5 ms frames in which WORLD's DIO + StoneMask find an F0."""
    from tts.data.prosody import world_f0

    return float((world_f0(wav, sr, 5.0)[0] > 0).mean())


def mean(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return float(np.mean(values)) if values else None


def print_table(results: list[dict[str, Any]]) -> None:
    columns = [
        ("codec", "{}", 22),
        ("weights", "{}", 10),
        ("frame_rate", "{:.1f}", 8),
        ("tokens_per_s", "{:.0f}", 8),
        ("kbps", "{:.2f}", 6),
        ("enc_rtf_cpu", "{:.3f}", 8),
        ("dec_rtf_cpu", "{:.3f}", 8),
        ("enc_rtf_cuda", "{:.4f}", 9),
        ("dec_rtf_cuda", "{:.4f}", 9),
        ("mel_distance", "{:.3f}", 8),
        ("stoi", "{:.3f}", 6),
        ("voiced_kept", "{:.2f}", 6),
        ("cer", "{:.3f}", 6),
    ]
    titles = {
        "frame_rate": "fps",
        "tokens_per_s": "tok/s",
        "enc_rtf_cpu": "enc cpu",
        "dec_rtf_cpu": "dec cpu",
        "enc_rtf_cuda": "enc cuda",
        "dec_rtf_cuda": "dec cuda",
        "mel_distance": "mel",
        "voiced_kept": "voiced",
        "weights": "weights",
    }
    print("  ".join(f"{titles.get(k, k):>{w}}" for k, _, w in columns))
    for row in results:
        cells = []
        for key, fmt, width in columns:
            value = row.get(key)
            cells.append(f"{'-' if value is None else fmt.format(value):>{width}}")
        print("  ".join(cells))
    print(
        "RTF = seconds of compute per second of audio (lower is faster). 'random' weights: quality is meaningless."
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--codecs", default=DEFAULT_CODECS, help=f"comma-separated names (default {DEFAULT_CODECS})"
    )
    parser.add_argument(
        "--koe-checkpoint", help="our trained codec (checkpoint or run folder) to add"
    )
    parser.add_argument(
        "--max-clips", type=int, default=len(SENTENCES), help="held-out sentences to use"
    )
    parser.add_argument("--no-asr", action="store_true", help="skip the Whisper CER (faster)")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0 = torch default)"
    )
    parser.add_argument("--out", default="bench_codec.json", help="JSON file for the results")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    names = [n.strip() for n in args.codecs.split(",") if n.strip()]
    if args.koe_checkpoint:
        names.append(args.koe_checkpoint)
    clips = synthesize_clips(max(1, args.max_clips))
    judge = None
    if not args.no_asr:
        from tts.eval.asr import load_whisper

        judge = load_whisper()
    cuda = torch.cuda.is_available()
    print(
        f"{len(clips)} clips, {sum(c.seconds for c in clips):.1f} s of speech; CPU threads {torch.get_num_threads()}"
        f"{'; CUDA ' + torch.cuda.get_device_name(0) if cuda else ''}"
    )

    results = []
    original_rows = [
        {**quality(c, c.wav, c.sr, judge)} for c in tqdm(clips, desc="original", leave=False)
    ]
    results.append(
        {
            "codec": "original",
            "weights": "-",
            "mel_distance": 0.0,
            "stoi": 1.0,
            "voiced_kept": 1.0,
            "cer": mean(original_rows, "cer"),
            "clips": original_rows,
        }
    )
    for name in tqdm(names, desc="codecs"):
        codec, weights = open_codec(name, "cpu")
        row: dict[str, Any] = {
            "codec": codec.name,
            "weights": weights,
            "params_m": codec.num_parameters() / 1e6,
            "sample_rate": codec.sample_rate,
            "frame_rate": codec.frame_rate,
            "n_codebooks": codec.n_codebooks,
            "codebook_size": codec.codebook_size,
            "tokens_per_s": codec.tokens_per_second,
            "kbps": codec.tokens_per_second * math.log2(codec.codebook_size) / 1000,
        }
        row["enc_rtf_cpu"], row["dec_rtf_cpu"], outputs = measure_speed(codec, clips)
        if cuda:
            codec.to("cuda")
            row["enc_rtf_cuda"], row["dec_rtf_cuda"], _ = measure_speed(codec, clips)
            codec.to("cpu")
        per_clip = []
        for clip, audio in zip(clips, outputs, strict=True):
            per_clip.append(
                {
                    "language": clip.language,
                    **quality(clip, audio.numpy(), codec.sample_rate, judge),
                }
            )
        row.update(
            mel_distance=mean(per_clip, "mel_distance"),
            stoi=mean(per_clip, "stoi"),
            voiced_kept=mean(per_clip, "voiced_kept"),
            cer=mean(per_clip, "cer"),
        )
        row["clips"] = per_clip
        results.append(row)
        del codec

    print_table(results)
    report = {
        "machine": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "cpu_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if cuda else None,
        },
        "clips": [
            {k: v for k, v in asdict(c).items() if k != "wav"} | {"seconds": c.seconds}
            for c in clips
        ],
        "results": results,
    }
    Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
