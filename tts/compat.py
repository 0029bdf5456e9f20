"""Make the audio-codec packages importable beside a CPU build of torch.

`encodec` and `descript-audio-codec` import torchaudio. PyPI's torchaudio wheels are CUDA
builds whose compiled extension links against libtorch_cuda; beside a CPU torch that
extension fails to load and `import torchaudio` raises OSError. torchaudio treats a *missing*
extension as "run as pure Python" (its pex fallback), which is all those packages need: they
use it for resampling and spectrograms, never for file I/O here (we use soundfile/soxr).

`fix_torchaudio()` moves the unloadable `.so` files into `torchaudio/lib/disabled/` (reversible:
move them back), only when they demonstrably fail to load. It is run by scripts/setup.sh and
can be run by hand: `python -m tts.compat --fix-torchaudio`.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

_PROBE = "import torchaudio"


def torchaudio_importable(python: str = sys.executable) -> tuple[bool, str]:
    """Try `import torchaudio` in a fresh interpreter (a failed import poisons this one)."""
    proc = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, check=False)
    return proc.returncode == 0, proc.stderr.strip().splitlines()[-1] if proc.stderr else ""


def fix_torchaudio() -> str:
    """Disable torchaudio's compiled extension when it cannot load; returns what was done."""
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or spec.origin is None:
        return "torchaudio is not installed; nothing to fix"
    ok, err = torchaudio_importable()
    if ok:
        return "torchaudio imports cleanly; nothing to fix"
    lib_dir = Path(spec.origin).parent / "lib"
    libs = sorted(lib_dir.glob("*.so"))
    if "Could not load this library" not in err and "cannot open shared object" not in err:
        raise RuntimeError(f"torchaudio fails to import for another reason: {err}")
    parked = lib_dir / "disabled"
    parked.mkdir(exist_ok=True)
    for so in libs:
        shutil.move(str(so), parked / so.name)
    ok, err = torchaudio_importable()
    if not ok:
        raise RuntimeError(f"torchaudio still fails to import after parking its extension: {err}")
    names = ", ".join(p.name for p in libs)
    return f"torchaudio: parked unloadable extension(s) {names} in {parked}; runs as pure Python"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fix-torchaudio", action="store_true", help="apply the fix")
    args = parser.parse_args(argv)
    if args.fix_torchaudio:
        print(fix_torchaudio())
    else:
        ok, err = torchaudio_importable()
        print("torchaudio ok" if ok else f"torchaudio broken: {err}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
