"""End-to-end synthesis speed: tokens/s, real-time factor and streaming first-chunk latency.

For each LM preset (random weights: speed does not depend on what was learned) with our
25 Hz codec, on this CPU and on CUDA when present, with torch.compile off and on. Each item
synthesises the same sentences through the full pipeline (front end, conditioning from a
stored voice, LM, codec decoder, watermark). Lengths follow a realistic ~2.5 frames per
phoneme cap, since a random LM rarely stops on its own.

    python recipes/bench_synthesis.py                       # tiny, small; compile off and on
    python recipes/bench_synthesis.py --presets tiny --no-compile --out bench_synthesis.json
    python recipes/bench_synthesis.py --model path/to/bundle  # a real model instead
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import torch

from tts.generate import MaxLengthWarning
from tts.synthesizer import Synthesizer, random_synthesizer

SENTENCES = {
    "en": "The quick brown fox jumps over the lazy dog near the river bank.",
    "ja": "今日は朝から雨が降っていたので、駅まで歩いて行きました。",
    "de": "Morgen fahren wir mit dem Zug nach Berlin und besuchen das Museum.",
}


def measure(synth: Synthesizer, language: str, text: str, repeats: int) -> dict:
    sync = torch.cuda.synchronize if synth.device.type == "cuda" else (lambda: None)
    rows = []
    for r in range(repeats + 1):  # the first run warms up (and compiles)
        sync()
        start = time.perf_counter()
        audio = synth.synthesize(text, language=language, seed=r)
        sync()
        total = time.perf_counter() - start
        start = time.perf_counter()
        first = None
        for _ in synth.stream(text, language=language, seed=r):  # default chunking
            if first is None:
                sync()
                first = time.perf_counter() - start
        frames = sum(s.n_frames for s in audio.segments)
        if r:
            rows.append((total, first, audio.duration, frames))
    total = sum(r[0] for r in rows) / len(rows)
    duration = sum(r[2] for r in rows) / len(rows)
    frames = sum(r[3] for r in rows) / len(rows)
    return {
        "audio_seconds": round(duration, 3),
        "rtf": round(total / duration, 4),
        "tokens_per_second": round(frames * synth.lm.config.n_codebooks / total, 1),
        "first_chunk_ms": round(1000 * sum(r[1] for r in rows) / len(rows), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"])
    parser.add_argument("--model", help="a real model bundle instead of random presets")
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu (+ cuda)")
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled runs")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", default="bench_synthesis.json")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    compiles = [False] if args.no_compile else [False, True]
    targets = [args.model] if args.model else args.presets
    results = []
    warnings.simplefilter("ignore", MaxLengthWarning)
    for target in targets:
        for device in devices:
            if args.model:
                synth = Synthesizer.from_pretrained(args.model, device=device)
            else:
                synth = random_synthesizer(
                    target,
                    "small",
                    style_encoder=False,
                    max_frames_per_phoneme=2.5,
                    max_frames_offset=10,
                    device=device,
                )
            for compiled in compiles:
                synth.compile = compiled
                for language, text in SENTENCES.items():
                    row = {
                        "model": target,
                        "params_m": round(synth.lm.num_params() / 1e6, 1),
                        "device": device,
                        "compile": compiled,
                        "language": language,
                        **measure(synth, language, text, args.repeats),
                    }
                    results.append(row)
                    print(json.dumps(row), flush=True)
    header = (
        f"{'model':<10}{'device':<8}{'compile':<9}{'lang':<6}{'tok/s':>9}{'RTF':>8}{'1st ms':>9}"
    )
    print("\n" + header)
    for r in results:
        print(
            f"{r['model']:<10}{r['device']:<8}{r['compile']!s:<9}{r['language']:<6}"
            f"{r['tokens_per_second']:>9.1f}{r['rtf']:>8.3f}{r['first_chunk_ms']:>9.1f}"
        )
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
