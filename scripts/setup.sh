#!/usr/bin/env bash
# One-command install on a fresh Debian/Ubuntu machine:  bash scripts/setup.sh
#
# 1. system packages (espeak-ng for the en/de/ko/vi front end, ...),
# 2. a virtual environment in .venv (or the one already active),
# 3. torch: kept if already importable (e.g. a CUDA build on a GPU machine); otherwise the
#    CUDA build when nvidia-smi is present, else torch==2.13.0 (a local CPU wheel here).
#    Override with TORCH_SPEC="torch==X.Y.Z" and TORCH_PIP_ARGS="--index-url ...".
# 4. everything else in ONE pip resolve (two-step installs leave a protobuf conflict),
# 5. the torchaudio fix-up: PyPI's torchaudio is a CUDA build whose extension cannot load
#    beside a CPU torch; `python -m tts.compat --fix-torchaudio` parks those .so files so that
#    torchaudio runs as pure Python (encodec and dac import it; we never use it for audio I/O).
set -euo pipefail
cd "$(dirname "$0")/.."

# espeak-ng: G2P for en/de/ko/vi; flite, festival, open_jtalk, sox: offline voices for the
# synthetic corpus; ffmpeg: Gradio streaming playback; chromium: the browser test of the demo.
APT_PACKAGES="${APT_PACKAGES:-espeak-ng libsndfile1 sox ffmpeg flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts open-jtalk open-jtalk-mecab-naist-jdic chromium}"
EXTRAS="${EXTRAS:-all}"

log() { printf '\n==> %s\n' "$*"; }

# --- 1. system packages --------------------------------------------------------------
missing=""
for p in $APT_PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  log "installing system packages:$missing"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

# --- 2. virtual environment ----------------------------------------------------------
if [ -n "${VIRTUAL_ENV:-}" ]; then
  PY="$VIRTUAL_ENV/bin/python"
else
  [ -x .venv/bin/python ] || { log "creating .venv"; python3 -m venv .venv; }
  PY="$PWD/.venv/bin/python"
fi
"$PY" -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 is required"'
log "upgrading pip"
"$PY" -m pip install -q --upgrade pip wheel "setuptools<81"

# --- 3. torch ------------------------------------------------------------------------
if "$PY" -c 'import torch' >/dev/null 2>&1; then
  log "keeping installed torch $("$PY" -c 'import torch; print(torch.__version__)')"
else
  if [ -z "${TORCH_SPEC:-}" ]; then
    if command -v nvidia-smi >/dev/null 2>&1; then TORCH_SPEC="torch"; else TORCH_SPEC="torch==2.13.0"; fi
  fi
  log "installing $TORCH_SPEC"
  # shellcheck disable=SC2086
  "$PY" -m pip install -q "$TORCH_SPEC" ${TORCH_PIP_ARGS:-}
fi

# --- 4. the package and everything else, in one resolve -------------------------------
log "installing koe-tts[$EXTRAS] (editable)"
"$PY" -m pip install -q -e ".[$EXTRAS]"

# --- 5. torchaudio fix-up and a final check -------------------------------------------
"$PY" -m tts.compat --fix-torchaudio
"$PY" -m tts.cli doctor
log "done. Activate with: source .venv/bin/activate   (or call .venv/bin/tts directly)"
