#!/usr/bin/env bash
# Continue the default model's LM on a lent GPU (the `device` tool's machine), in three steps:
#
#   here:        bash recipes/device_lm.sh pack [SHARDS]     # SHARDS: shard folders, "a,b,c"
#   the device:  run(command="bash recipes/device_lm.sh train", carry=[".device"], timeout_s=540)
#   here:        bash recipes/device_lm.sh unpack FILES_AT OUT_BUNDLE
#
# Why this shape: the device machine starts bare, reaches nothing, and has Python with torch,
# numpy, safetensors, tqdm and matplotlib but not this package or its audio dependencies; what
# travels is the working tree (the shipped bundle, ~42 MiB, among it) plus the carried folder,
# 64 MiB in all; what comes back is at most 8 files of 16 MiB. So:
#   - pack puts the token shards (codes, units, phoneme ids, speaker embeddings as float16:
#     no audio) into .device/ (git-ignored) as one tar.xz, with wheels of the few packages this
#     package imports that the device lacks, and says whether the tree will fit;
#   - train points Python at this checkout (tts/ with codecs/ and speakers/ linked in as
#     tts.codecs and tts.speakers, as pyproject.toml installs them), trains the LM from the
#     shipped bundle (INIT) on the shards for MINUTES with configs/lm_device.json (the run
#     lowers max_steps to what the minutes hold, so its schedule ends in time; no bundle is
#     written there: that needs the speaker encoder, which is not on the device), and writes
#     the weights as float16 in parts under 16 MiB, with the run's config, log and curves;
#   - unpack joins the parts, checks that the architecture is the base bundle's, and writes a
#     bundle: the base bundle (INIT) with these weights, ready for recipes/dev_cer.py,
#     `tts eval` and recipes/ship_model.py like any LM bundle.
# MINUTES (default 7) leaves a 10-minute device command time to start Python, load, validate
# and write; device time is 15 minutes a session, machine start included.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
INIT=${INIT:-tts/pretrained/default}
DEVICE_DIR=${DEVICE_DIR:-.device}  # what pack fills and the device call carries
LIMIT_MIB=64
DEVICE_WHEELS="soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 soxr==1.1.0 num2words==0.5.14"
TEMPS=()  # scratch files and folders, removed however the script ends
trap 'rm -rf ${TEMPS[@]+"${TEMPS[@]}"}' EXIT

scratch() {  # scratch NAME [-d]: a new scratch file (or folder) in $NAME, removed at exit
  local path
  path=$(mktemp "${@:2}")
  TEMPS+=("$path")
  printf -v "$1" '%s' "$path"
}

pack() {
  # default: the first corpus, Kokoro's English (reader_mel's kokoro_en) and the second
  # corpus (tokenize_words), as recipes/proof_model.sh leaves them in RUNS
  local runs=${RUNS:-$HOME/koe-runs}
  local shards=${1:-$runs/proof_tokens,$runs/kokoro_en_tokens,$runs/words_tokens}
  local names=() dir name
  for dir in ${shards//,/ }; do  # every folder checked before anything is written
    [ -f "$dir/index.json" ] || {
      echo "$dir is not a shard folder (no index.json): build it (recipes/proof_model.sh)" \
        "or name the folders to carry: pack a,b" >&2
      exit 2
    }
    name=$(basename "$dir")
    case " ${names[*]-} " in *" $name "*) echo "two shard folders named $name" >&2; exit 2 ;; esac
    names+=("$name")
  done
  rm -rf "$DEVICE_DIR" && mkdir -p "$DEVICE_DIR"
  local staging
  scratch staging -d
  mkdir -p "$staging/shards"
  for dir in ${shards//,/ }; do cp -r "$dir" "$staging/shards/$(basename "$dir")"; done
  # The speaker (and style) embeddings are most of a shard's bytes: carried as float16 (the
  # LM reads them as float32; the rounding is ~1e-3 of a unit vector), the first corpus,
  # Kokoro's English and the second corpus fit beside the tree.
  "$PY" - "$staging/shards" <<'PYTHON'
import sys
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import save_file

for path in sorted(Path(sys.argv[1]).glob("*/shard-*.safetensors")):
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    for key in ("speaker", "style"):
        if key in tensors:
            tensors[key] = tensors[key].half()
    save_file(tensors, str(path), metadata=metadata)
PYTHON
  # xz (through Python: no xz program needed): codes and phoneme ids compress well (with the
  # float16 embeddings, the first corpus and Kokoro's English go from 9.3 MB to 3.0 MB).
  "$PY" - "$DEVICE_DIR/shards.tar.xz" "$staging/shards" <<'PYTHON'
import sys
import tarfile

with tarfile.open(sys.argv[1], "w:xz") as archive:  # Python's lzma: no xz program needed
    archive.add(sys.argv[2], "shards")
PYTHON
  # What this package imports that the device's Python lacks, as wheels for its Python
  # (WHEEL_PY, default 3.12; docopt, num2words' need, is a source package: built here).
  # NO_WHEELS=1 skips them (a device that has them, or a test).
  mkdir -p "$DEVICE_DIR/whl"
  if [ -z "${NO_WHEELS:-}" ]; then
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "${WHEEL_PY:-3.12}" \
      --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 -d "$DEVICE_DIR/whl" $DEVICE_WHEELS
    "$PY" -m pip wheel -q --no-deps -w "$DEVICE_DIR/whl" docopt==0.6.2
  fi
  local tree carried
  tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
  carried=$(du -sb "$DEVICE_DIR" | cut -f1)
  echo "working tree $((tree / 1048576)) MiB + $DEVICE_DIR $((carried / 1048576)) MiB (limit $LIMIT_MIB)"
  if [ $((tree + carried)) -gt $((LIMIT_MIB * 1048576)) ]; then
    echo "too large to travel: pack fewer shard folders" >&2
    exit 2
  fi
}

train() {
  local out=${OUT:?set OUT, the folder whose files come back} py=${DEVICE_PY:-python3} data
  local work
  scratch work -d
  local site=$work/site deps=$work/deps run=$work/lm
  mkdir -p "$site/tts"
  if compgen -G "$DEVICE_DIR/whl/*.whl" >/dev/null; then
    "$py" -m pip install -q --no-index --no-deps --no-compile --target "$deps" "$DEVICE_DIR"/whl/*.whl
  fi
  for f in tts/*; do ln -s "$PWD/$f" "$site/tts/"; done
  ln -s "$PWD/codecs" "$site/tts/codecs"
  ln -s "$PWD/speakers" "$site/tts/speakers"
  export PYTHONPATH=$site:$deps PYTHONUNBUFFERED=1
  [ -f "$DEVICE_DIR/shards.tar.xz" ] || {
    echo "no $DEVICE_DIR/shards.tar.xz: run pack here, and carry $DEVICE_DIR" >&2
    exit 2
  }
  "$py" - "$DEVICE_DIR/shards.tar.xz" "$work" <<'PYTHON'
import sys
import tarfile

with tarfile.open(sys.argv[1]) as archive:
    archive.extractall(sys.argv[2], filter="data")
PYTHON
  data=$(find "$work/shards" -mindepth 1 -maxdepth 1 -type d | sort | paste -sd,)
  nvidia-smi -L || true
  "$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  "$py" recipes/train.py --config "${DEVICE_CONFIG:-configs/lm_device.json}" --out "$run" --no-progress \
    --minutes "${MINUTES:-7}" data="$data" init_from="$INIT" ${DEVICE_OVERRIDES:-}
  "$py" - "$run/checkpoint/model.safetensors" "$out/lm.safetensors" <<'PYTHON'
import sys

from safetensors.torch import load_file, save_file

weights = load_file(sys.argv[1])
save_file({k: v.half() if v.is_floating_point() else v for k, v in weights.items()}, sys.argv[2])
PYTHON
  split -b 15M -d "$out/lm.safetensors" "$out/lm.part"
  rm "$out/lm.safetensors"
  cp "$run/checkpoint/config.json" "$out/config.json"
  cp "$run/train_config.json" "$run/log.csv" "$out/"
  cp "$run/loss.png" "$out/" 2>/dev/null || true
  ls -la "$out"
}

unpack() {
  local from=${1:?give FILES_AT, where the device files came back} to=${2:?give OUT_BUNDLE}
  compgen -G "$from/lm.part*" >/dev/null || { echo "no lm.part* files in $from" >&2; exit 2; }
  [ ! -e "$to" ] || { echo "$to exists: give unpack a new folder" >&2; exit 2; }
  local joined
  scratch joined
  cat "$from"/lm.part* > "$joined"
  "$PY" - "$from/config.json" "$INIT/config.json" "$joined" <<'PYTHON'
import json
import sys

from safetensors import safe_open

trained, base = (json.load(open(p)) for p in sys.argv[1:3])
if trained["config"] != base["config"]:
    sys.exit(f"the device run's LM config differs from the base bundle's: {trained['config']}")
with safe_open(sys.argv[3], "pt") as f:
    print(f"{len(list(f.keys()))} tensors; LM config as the base bundle's")
PYTHON
  cp -r "$INIT" "$to"  # (only once the parts are known good: no half-made bundle is left)
  mv "$joined" "$to/model.safetensors"
  "$PY" -c "from tts.synthesizer import Synthesizer; Synthesizer.from_pretrained('$to', device='cpu'); print('loads: $to')"
}

case "${1:-}" in
  pack) pack "${2:-}" ;;
  train) train ;;
  unpack) unpack "${2:-}" "${3:-}" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
esac
