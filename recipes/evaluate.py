"""Evaluate a model bundle: CER, voice similarity, emotion control and speed (see tts.eval.evaluate).

    python recipes/evaluate.py --model runs/bundle --manifest data/synthetic/manifest.jsonl \\
        --out eval/ --max-sentences 4 --languages ja,en --only cer,sim,emotion,speed
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from tts.eval.evaluate import main as evaluate_main


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    return evaluate_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
