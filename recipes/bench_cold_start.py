"""First-request latency of a fresh process, with and without `Synthesizer.warm_up`.

What a server's first caller waits for: every round starts a new Python process, loads the
model, optionally warms it up (what `tts serve` and `tts demo` do before they listen), then
streams one sentence and times its first piece, then a second sentence (a warm request).
The README's speed table is measured after an untimed call, so it shows the warm figure.

    python recipes/bench_cold_start.py                       # default model, 3 rounds each
    python recipes/bench_cold_start.py --model DIR --rounds 5 --out cold.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fresh_rounds import medians, run_rounds, write_report

FIRST = "Hello there, this is the first request of a fresh process."
SECOND = "And this is the second one, once everything is loaded."


def child(model: str | None, warm: bool, language: str) -> dict:
    """One fresh process's timings in seconds (run with --child)."""
    start = time.perf_counter()
    from tts.synthesizer import Synthesizer

    synth = Synthesizer.from_pretrained(model)
    out = {"load": time.perf_counter() - start, "warm_up": 0.0}
    if warm:
        out["warm_up"] = synth.warm_up()
    for key, text in (("first_piece", FIRST), ("second_piece", SECOND)):
        start = time.perf_counter()
        pieces = synth.stream(text, language=language, seed=0)
        next(pieces)
        out[key] = time.perf_counter() - start
        for _ in pieces:  # finish the request, as a caller would
            pass
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default=None, help="model bundle (default: the shipped model)")
    p.add_argument("--rounds", type=int, default=3, help="fresh processes per setting")
    p.add_argument("--language", default="en")
    p.add_argument("--out", default=None, help="also write the figures here (JSON)")
    p.add_argument("--child", choices=("cold", "warm"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.model, a.child == "warm", a.language)))
        return {}
    if a.rounds < 1:
        p.error("--rounds must be at least 1")
    args = ["--language", a.language] + (["--model", a.model] if a.model else [])
    results = run_rounds(__file__, ("cold", "warm"), a.rounds, args)
    summary = medians(results, ("load", "warm_up", "first_piece", "second_piece"))
    print(f"fresh processes, {a.rounds} a setting, medians in seconds ({a.language}):")
    print("setting     load   warm-up  first piece  second piece")
    for mode, s in summary.items():
        name = "warm_up()" if mode == "warm" else "no warm-up"
        print(
            f"{name:<10} {s['load']:6.2f} {s['warm_up']:8.2f} {s['first_piece']:11.3f}"
            f" {s['second_piece']:13.3f}"
        )
    return write_report(a.out, a.language, results, summary)


if __name__ == "__main__":
    main()
