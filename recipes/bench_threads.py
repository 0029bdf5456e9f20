"""Synthesis speed by thread layout: on the thread that loaded the model, or on a worker.

The server and the demo synthesize on worker threads. A thread that has run torch's parallel
CPU work keeps its OpenMP pool while it lives, and the LM is then slower on every other thread
(`tts.threads`). Each round starts a fresh process per layout, so that no pool is left over:

    main     load, warm up and synthesize on the main thread (the CLI)
    worker   load and warm up on the main thread, synthesize on a worker (the server and the
             demo until stop 52)
    fresh    load and warm up on a thread that ends (`in_fresh_thread`), synthesize on a
             worker (the server and the demo now)

    python recipes/bench_threads.py                     # default model, 3 rounds, English
    python recipes/bench_threads.py --model DIR --rounds 5 --out threads.json
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fresh_rounds import medians, run_rounds, write_report

LAYOUTS = ("main", "worker", "fresh")
SENTENCES = [
    "Hello there, this is the first request.",
    "The weather has been lovely all week.",
    "Please send me the report before Friday.",
    "We will meet at the station at noon.",
]


def child(model: str | None, layout: str, language: str) -> dict:
    """One fresh process: (LM seconds, all seconds) per second of audio over SENTENCES."""
    from tts.synthesizer import Synthesizer
    from tts.threads import in_fresh_thread

    def load() -> Synthesizer:
        synth = Synthesizer.from_pretrained(model)
        synth.warm_up([language])
        return synth

    synth = in_fresh_thread(load) if layout == "fresh" else load()

    def run() -> tuple[float, float, float]:
        lm = total = audio = 0.0
        for i, text in enumerate(SENTENCES):
            out = synth.synthesize(text, language=language, seed=i)
            lm += out.timings["lm"]
            total += sum(out.timings.values())
            audio += out.duration
        return lm / audio, total / audio, audio

    if layout == "main":
        lm, rtf, audio = run()
    else:
        with ThreadPoolExecutor(max_workers=1) as pool:
            lm, rtf, audio = pool.submit(run).result()
    return {"lm_rtf": lm, "rtf": rtf, "audio_seconds": audio}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default=None, help="model bundle (default: the shipped model)")
    p.add_argument("--rounds", type=int, default=3, help="fresh processes per layout")
    p.add_argument("--language", default="en")
    p.add_argument("--layouts", default=",".join(LAYOUTS))
    p.add_argument("--out", default=None, help="also write the figures here (JSON)")
    p.add_argument("--child", choices=LAYOUTS, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.model, a.child, a.language)))
        return {}
    layouts = [x.strip() for x in a.layouts.split(",") if x.strip()]
    if a.rounds < 1 or not layouts or any(x not in LAYOUTS for x in layouts):
        p.error(f"--rounds must be >= 1 and --layouts a list of {', '.join(LAYOUTS)}")
    args = ["--language", a.language] + (["--model", a.model] if a.model else [])
    rounds = run_rounds(__file__, layouts, a.rounds, args)
    median = medians(rounds, ("lm_rtf", "rtf"))
    print(
        f"fresh processes, {a.rounds} a layout, medians ({a.language}, {len(SENTENCES)} sentences):"
    )
    print("layout   LM RTF   RTF")
    for layout, m in median.items():
        print(f"{layout:<8} {m['lm_rtf']:6.3f} {m['rtf']:6.3f}")
    return write_report(a.out, a.language, rounds, median)


if __name__ == "__main__":
    main()
