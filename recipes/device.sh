#!/usr/bin/env bash
# Train the default model's LM and its codec's decoder on a lent GPU (the `device` tool's
# machine), in three steps:
#
#   here:        bash recipes/device.sh pack [SHARDS]     # SHARDS: shard folders, "a,b,c"
#   the device:  run(command="bash recipes/device.sh train", carry=[".device"], timeout_s=540)
#   here:        bash recipes/device.sh unpack FILES_AT OUT_BUNDLE
#
# Why this shape: the device machine starts bare, reaches nothing, and has Python with torch,
# numpy, safetensors, tqdm and matplotlib but not this package or its audio dependencies; what
# travels is the working tree (the shipped bundle, ~42 MiB, among it) plus the carried folder,
# 64 MiB in all; what comes back is at most 8 files of 16 MiB. So:
#   - pack puts the token shards (codes, units, phoneme ids, speaker embeddings as float16)
#     into .device/ (git-ignored) as one tar.xz, with wheels of the few packages this package
#     imports that the device lacks; then, in the room left, the train split's audio as an
#     Opus audio pack (recipes/pack_audio.py: AUDIO_KBPS, default 48 kbit/s, as lower rates
#     teach the decoder Opus's errors; WORLD's pitch targets computed here; AUDIO_MIB sets its
#     size, 0 packs none; VALID_MIB of it, default 2, holds valid-split utterances losslessly
#     as audio_valid/, on which the decoder's run measures val_mel), and says whether the
#     tree will fit;
#   - train points Python at this checkout (tts/ with codecs/ and speakers/ linked in as
#     tts.codecs and tts.speakers, as pyproject.toml installs them) and runs two jobs side by
#     side on the one GPU for MINUTES each (each run lowers max_steps to what the minutes hold,
#     so its schedule ends in time):
#       lm:    the LM from the shipped bundle (INIT) on the shards, configs/lm_device.json; no
#              bundle is written there (that needs the speaker encoder, not on the device); the
#              weights come back as float16 in parts under 16 MiB (lm.part*; lm_best.part*
#              too when the validation loss was lowest before the end), with config, log and
#              curves as lm.tar;
#       codec: the codec's decoder from INIT's codec on the packed audio with the shards' codes
#              and units (recipes/train_codec.py units_from= audio_from=, the encoder frozen so
#              the codes and the LM stay valid); it comes back as codec.tar (float16 weights,
#              config, log, curves, a sample), and as codec_best.tar the weights of its lowest
#              val_mel when that came before the end (step 0's: training never beat the base);
#     JOBS="lm" or "codec" runs one (default: both, the codec only when audio was packed);
#     before them, alone on the GPU, a speed job (recipes/device_speed.py measure: the shipped
#     pipeline's RTF and first-chunk latency there, as `tts eval --only speed` measures them
#     here) when pack prepared it (SPEED=0 skips it at pack; at most SPEED_SECONDS, default
#     120; its speed.json comes back);
#   - unpack checks that the architectures are the base bundle's (and the codec's encoder
#     untouched), and writes a bundle: the base bundle (INIT) with what came back, ready for
#     recipes/dev_cer.py, `tts eval` and recipes/ship_model.py like any bundle (LM_WEIGHTS=best
#     takes the LM's best validation weights, lm_best.part*; CODEC_WEIGHTS=best the decoder's,
#     codec_best.tar).
# MINUTES (default 7, or 5 after the speed job) leaves a 10-minute device command time to
# start Python, load, validate and write; device time is 15 minutes a session, machine start
# included.
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
  # default: the first corpus, Kokoro's English (reader_mel's kokoro_en), the second corpus
  # (tokenize_words) and the third (tokenize3: Kokoro's voices reading the wordfreq lines, the
  # voices the LM speaks least clearly in), as recipes/proof_model.sh leaves them in RUNS
  local runs=${RUNS:-$HOME/koe-runs}
  local shards=${1:-} dir name names=()
  if [ -z "$shards" ]; then  # the defaults that are built here; named folders must all be
    for dir in "$runs/proof_tokens" "$runs/kokoro_en_tokens" "$runs/words_tokens" \
      "$runs/kokoro_words_tokens"; do
      if [ -f "$dir/index.json" ]; then
        shards=${shards:+$shards,}$dir
      else
        echo "skipping $dir: not built here (recipes/proof_model.sh)"
      fi
    done
    [ -n "$shards" ] || { echo "none of the default shard folders is built in $runs" >&2; exit 2; }
  fi
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
  # (-L: a folder that is a link is copied, not linked: the float16 rewrite below must never
  # reach the shards themselves, and a link would not travel)
  for dir in ${shards//,/ }; do cp -rL "$dir" "$staging/shards/$(basename "$dir")"; done
  # The speaker (and style) embeddings are most of a shard's bytes: carried as float16 (the
  # LM reads them as float32; the rounding is ~1e-3 of a unit vector), the four default
  # folders fit beside the tree, leaving the decoder's audio less room.
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
  # The speed job's sentences, through the real front end, and tts eval's reference clip with
  # its embedding (recipes/device_speed.py; the device has neither pyopenjtalk nor Resemblyzer).
  if [ "${SPEED:-1}" != 0 ]; then
    local manifest=${SPEED_MANIFEST-$runs/testset/manifest.jsonl}
    [ -f "$manifest" ] || manifest=  # no test set here: the model's stored voice
    "$PY" recipes/device_speed.py prepare --model "$INIT" ${manifest:+--manifest "$manifest"} \
      --sentences "${SPEED_SENTENCES:-8}" --out "$DEVICE_DIR/speed"
  fi
  local tree carried room
  tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
  carried=$(du -sb "$DEVICE_DIR" | cut -f1)
  room=$(((LIMIT_MIB * 1048576 - tree - carried) / 1048576 - 1))  # MiB, one kept in hand
  # The decoder's audio takes the room the shards leave (or AUDIO_MIB of it).
  local audio_mib=${AUDIO_MIB:-$room}
  if [ "$audio_mib" -gt "$room" ]; then
    echo "AUDIO_MIB=$audio_mib does not fit: $room MiB are left beside the tree and shards" >&2
    exit 2
  elif [ "$audio_mib" -gt "${VALID_MIB:-2}" ]; then
    # VALID_MIB of it (default 2) the valid split's, lossless (FLAC: about 20 utterances), for
    # the decoder's held-out val_mel: against Opus-coded audio, a decoder learning Opus's errors
    # scores better while it moves away from the clean speech (tts.codecs.audio_pack)
    local valid_mib=${VALID_MIB:-2} n_valid
    n_valid=$("$PY" -c 'import sys; from tts.data.shards import ShardDataset
print(len(ShardDataset(sys.argv[1], splits=("valid",))))' "$shards")
    if [ "$n_valid" -gt 0 ] && [ "$valid_mib" -ge 1 ]; then
      "$PY" recipes/pack_audio.py --shards "$shards" --out "$DEVICE_DIR/audio_valid" \
        --splits valid --mib "$valid_mib" --kbps 0 --codec "$INIT/codec" --min-seconds 0
    else
      valid_mib=0
      echo "no valid-split audio packed: the decoder's run has no held-out val_mel"
    fi
    "$PY" recipes/pack_audio.py --shards "$shards" --out "$DEVICE_DIR/audio" \
      --mib "$((audio_mib - valid_mib))" --kbps "${AUDIO_KBPS:-48}" --codec "$INIT/codec" \
      --min-seconds "${AUDIO_MIN_SECONDS:-1.92}"
  else
    echo "no audio packed (AUDIO_MIB not above VALID_MIB, or no room): the device trains the LM alone"
  fi
  carried=$(du -sb "$DEVICE_DIR" | cut -f1)
  echo "working tree $((tree / 1048576)) MiB + $DEVICE_DIR $((carried / 1048576)) MiB (limit $LIMIT_MIB)"
  if [ $((tree + carried)) -gt $((LIMIT_MIB * 1048576)) ]; then
    echo "too large to travel: pack fewer shard folders, or less audio (AUDIO_MIB)" >&2
    exit 2
  fi
}

train() {
  local out=${OUT:?set OUT, the folder whose files come back} py=${DEVICE_PY:-python3} data
  local jobs=${JOBS:-} work
  if [ -z "$jobs" ]; then  # both, the codec only when audio travelled
    jobs=lm
    if [ -f "$DEVICE_DIR/audio/pack.json" ]; then jobs="lm codec"; fi
  fi
  case " $jobs " in *" codec "*)
    [ -f "$DEVICE_DIR/audio/pack.json" ] || {
      echo "JOBS names codec but $DEVICE_DIR has no audio: pack with AUDIO_MIB above VALID_MIB" >&2
      exit 2
    } ;;
  esac
  scratch work -d
  local site=$work/site deps=$work/deps
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
  # First, alone on the GPU: the shipped pipeline's speed (what it measured stays if it is cut
  # off at SPEED_SECONDS; a failure is reported and the training still runs).
  local speed_failed=0 minutes=${MINUTES:-7}
  if [ -f "$DEVICE_DIR/speed/speed.json" ] && [ "${SPEED:-1}" != 0 ]; then
    timeout "${SPEED_SECONDS:-120}" "$py" recipes/device_speed.py measure --model "$INIT" \
      --prepared "$DEVICE_DIR/speed" --out "$out/speed.json" ${SPEED_ARGS:-} 2>&1 |
      sed -u "s/^/[speed] /" || speed_failed=1
    minutes=${MINUTES:-5}
  fi
  export MINUTES=$minutes
  # The jobs run side by side (the GPU has room for both), each line of output tagged.
  local job pids=() failed=0
  for job in $jobs; do
    case $job in
      lm | codec) ;;
      *) echo "unknown job $job (JOBS: lm, codec)" >&2; exit 2 ;;
    esac
    ( "${job}_job" "$py" "$data" "$work/$job" "$out" 2>&1 | sed -u "s/^/[$job] /" ) &
    pids+=($!)
  done
  for job in "${pids[@]}"; do wait "$job" || failed=1; done
  ls -la "$out"
  [ "$speed_failed" = 0 ] || echo "the speed job failed or was cut off (its lines are tagged above)" >&2
  [ "$failed" = 0 ] || { echo "a job failed (its lines are tagged above)" >&2; exit 1; }
}

half_weights() {  # half_weights PY SRC DST: a safetensors file with its floats as float16
  "$1" - "$2" "$3" <<'PYTHON'
import sys

from safetensors.torch import load_file, save_file

weights = load_file(sys.argv[1])
save_file({k: v.half() if v.is_floating_point() else v for k, v in weights.items()}, sys.argv[2])
PYTHON
}

lm_job() {  # lm_job PY SHARDS RUN OUT
  local py=$1 data=$2 run=$3 out=$4
  "$py" recipes/train.py --config "${DEVICE_CONFIG:-configs/lm_device.json}" --out "$run" --no-progress \
    --minutes "${MINUTES:-7}" data="$data" init_from="$INIT" ${DEVICE_OVERRIDES:-}
  # the last weights as lm.part*, and the best validation loss's as lm_best.part* when that came
  # earlier (the valid split's loss rising: overfitting); the small files as one lm.tar
  local weights=lm
  [ -f "$run/best/model.safetensors" ] && weights="lm lm_best"
  cmp -s "$run/best/model.safetensors" "$run/checkpoint/model.safetensors" && weights=lm
  for name in $weights; do
    local from=$run/checkpoint/model.safetensors
    [ "$name" = lm_best ] && from=$run/best/model.safetensors
    half_weights "$py" "$from" "$run/$name.safetensors"
    split -b 15M -d "$run/$name.safetensors" "$out/$name.part"
  done
  mkdir -p "$run/back"
  cp "$run/checkpoint/config.json" "$run/train_config.json" "$run/log.csv" "$run/back/"
  cp "$run/loss.png" "$run/best.json" "$run/back/" 2>/dev/null || true
  tar -cf "$out/lm.tar" -C "$run/back" .
}

codec_job() {  # codec_job PY SHARDS RUN OUT
  # INIT's decoder continued with batches four times the CPU runs' (decoder3: 8 crops, 2e-4);
  # CODEC_OVERRIDES adds recipes/train_codec.py key=value settings.
  local py=$1 data=$2 run=$3 out=$4 valid=
  [ -f "$INIT/codec/config.json" ] || { echo "$INIT has no codec/ folder to train" >&2; return 2; }
  [ -f "$DEVICE_DIR/audio_valid/pack.json" ] && valid=$DEVICE_DIR/audio_valid
  "$py" recipes/train_codec.py --out "$run" --model-of "$INIT/codec" --minutes "${MINUTES:-7}" --no-progress \
    init_from="$INIT/codec" train_encoder=false units_from="$data" audio_from="$DEVICE_DIR/audio" \
    batch_size=32 lr=2e-4 warmup_steps=100 max_steps=100000 num_workers=4 log_every=50 \
    ckpt_every=1000000 sample_every=1000000 seed=41 device=auto \
    ${valid:+valid_from=$valid valid_every=500} ${CODEC_OVERRIDES:-}
  # one file back: float16 weights, config, log, curves and the last sample, as codec.tar
  mkdir -p "$run/back/codec"
  half_weights "$py" "$run/checkpoint/model.safetensors" "$run/back/codec/model.safetensors"
  cp "$run/checkpoint/config.json" "$run/back/codec/"
  cp "$run/train_config.json" "$run/log.jsonl" "$run/back/"
  cp "$run/loss.png" "$run/best.json" "$run/back/" 2>/dev/null || true
  mkdir -p "$run/back/samples"
  cp "$run/samples/reference.wav" "$(ls "$run"/samples/step_*.wav | tail -1)" "$run/back/samples/"
  tar -cf "$out/codec.tar" -C "$run/back" .
  # and the lowest val_mel's weights as codec_best.tar, when that came before the end (the
  # step-0 weights are the base's: training never beat it on the held-out utterances)
  if [ -f "$run/best/model.safetensors" ] &&
    ! cmp -s "$run/best/model.safetensors" "$run/checkpoint/model.safetensors"; then
    mkdir -p "$run/back_best/codec"
    half_weights "$py" "$run/best/model.safetensors" "$run/back_best/codec/model.safetensors"
    cp "$run/best/config.json" "$run/back_best/codec/"
    cp "$run/best.json" "$run/back_best/"
    tar -cf "$out/codec_best.tar" -C "$run/back_best" .
  fi
}

unpack() {
  local from=${1:?give FILES_AT, where the device files came back} to=${2:?give OUT_BUNDLE}
  local lm=0 codec=0 joined unpacked unpacked_lm
  local parts=lm  # LM_WEIGHTS=best: the best validation loss's weights (lm_best.part*)
  [ "${LM_WEIGHTS:-last}" = best ] && parts=lm_best
  compgen -G "$from/$parts.part*" >/dev/null && lm=1
  if [ "$parts" = lm_best ] && [ "$lm" = 0 ]; then
    echo "LM_WEIGHTS=best, but no lm_best.part* in $from (the last weights were the best)" >&2
    exit 2
  fi
  local codec_tar=codec.tar  # CODEC_WEIGHTS=best: the lowest val_mel's (codec_best.tar)
  [ "${CODEC_WEIGHTS:-last}" = best ] && codec_tar=codec_best.tar
  [ -f "$from/$codec_tar" ] && codec=1
  if [ "$codec_tar" = codec_best.tar ] && [ "$codec" = 0 ]; then
    echo "CODEC_WEIGHTS=best, but no codec_best.tar in $from (the last weights were the best)" >&2
    exit 2
  fi
  [ $((lm + codec)) -gt 0 ] || { echo "no lm.part* files or codec.tar in $from" >&2; exit 2; }
  [ ! -e "$to" ] || { echo "$to exists: give unpack a new folder" >&2; exit 2; }
  if [ "$lm" = 1 ]; then
    scratch joined
    cat "$from/$parts".part* > "$joined"
    scratch unpacked_lm -d
    tar -xf "$from/lm.tar" -C "$unpacked_lm"
    "$PY" - "$unpacked_lm/config.json" "$INIT/config.json" "$joined" <<'PYTHON'
import json
import sys

from safetensors import safe_open

trained, base = (json.load(open(p)) for p in sys.argv[1:3])
if trained["config"] != base["config"]:
    sys.exit(f"the device run's LM config differs from the base bundle's: {trained['config']}")
with safe_open(sys.argv[3], "pt") as f:
    print(f"{len(list(f.keys()))} tensors; LM config as the base bundle's")
PYTHON
  fi
  if [ "$codec" = 1 ]; then
    scratch unpacked -d
    tar -xf "$from/$codec_tar" -C "$unpacked"
    # The codes the LM was trained on come from INIT's encoder: it must be untouched.
    "$PY" - "$unpacked/codec" "$INIT/codec" "$unpacked/merged.safetensors" <<'PYTHON'
import json
import sys

import torch
from safetensors.torch import load_file, save_file

from tts.codecs.model import CodecConfig
from tts.config import config_from_dict, config_to_dict

trained, base = sys.argv[1:3]
# compared as CodecConfigs: a field added since the base was saved reads as its default
config, base_config = (
    config_to_dict(config_from_dict(CodecConfig, json.load(open(f"{d}/config.json"))["config"]))
    for d in (trained, base)
)
if config != base_config:
    sys.exit(f"the device run's codec config differs from the base bundle's: {config}")
new, old = (load_file(f"{d}/model.safetensors") for d in (trained, base))
if new.keys() != old.keys():
    sys.exit("the device run's codec has other tensors than the base bundle's")
# (the trip is in float16: an encoder kept frozen comes back as the base's, rounded)
changed = [k for k in old if not k.startswith("decoder.") and
           not torch.equal(new[k], old[k].to(new[k].dtype))]  # fmt: skip
if changed:
    sys.exit(f"the device run changed the codec's encoder ({changed[0]}, ...): its codes would differ")
moved = sum(not torch.equal(new[k], old[k].to(new[k].dtype)) for k in old if k.startswith("decoder."))
print(f"codec: {moved} decoder tensors trained, the encoder as the base bundle's")
# the bundle keeps the base's encoder bit for bit, and takes the decoder that came back
save_file({k: new[k] if k.startswith("decoder.") else old[k] for k in old}, sys.argv[3])
PYTHON
  fi
  cp -r "$INIT" "$to"  # (only once what came back is known good: no half-made bundle is left)
  if [ "$lm" = 1 ]; then mv "$joined" "$to/model.safetensors"; fi
  if [ "$codec" = 1 ]; then mv "$unpacked/merged.safetensors" "$to/codec/model.safetensors"; fi
  "$PY" -c "from tts.synthesizer import Synthesizer; Synthesizer.from_pretrained('$to', device='cpu'); print('loads: $to')"
}

case "${1:-}" in
  pack) pack "${2:-}" ;;
  train) train ;;
  unpack) unpack "${2:-}" "${3:-}" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
esac
