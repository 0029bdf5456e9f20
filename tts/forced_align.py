"""Forced alignment: which of a text's phonemes each audio frame is saying, from a CTC reader.

Why: the codec's decoder hears only the LM's codes and units, and where the LM mumbles a
sound the decoder renders the mumble. The text is known at synthesis, so the decoder can
also be told which phoneme each frame should be (GPT-SoVITS's decoder likewise reads the
text beside the GPT's tokens). The mel reader (`tts.reader`) already hears every take to
score it; the best path of the text's phonemes through its CTC posteriors (Viterbi over the
usual CTC states, blanks between the phonemes) places each phoneme in time. Training data
gets the same treatment from the same reader, so the decoder learns from labels made the way
synthesis makes them.

A CTC reader fires on a phoneme in one or two frames and says "blank" around it; a frame is
given the phoneme that fired last at or before it (frames before the first: none), and the
one after it, so the decoder sees where it is between two sounds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from tts.errors import ConfigError


def ctc_align(
    log_probs: torch.Tensor | np.ndarray, targets: Sequence[int], blank: int = 0
) -> np.ndarray:
    """The best CTC path of `targets` through `log_probs` [T, V] -> for each frame the index
    (0 .. N - 1) of the target it belongs to: the one emitted at or before it; -1 before the
    first. Raises ConfigError when the targets cannot fit T frames (a repeat needs a blank
    between)."""
    lp = np.asarray(log_probs.detach().float().cpu() if torch.is_tensor(log_probs) else log_probs)
    lp = lp.astype(np.float64)
    tgt = np.asarray(list(targets), dtype=np.int64)
    n_frames, n = lp.shape[0], len(tgt)
    if n == 0:
        return np.full(n_frames, -1, dtype=np.int64)
    if np.any(tgt == blank):
        raise ConfigError("targets must not contain the blank id")
    need = n + int(np.sum(tgt[1:] == tgt[:-1]))
    if n_frames < need:
        raise ConfigError(f"{n} phonemes cannot fit {n_frames} frames (CTC needs {need})")
    labels = np.full(2 * n + 1, blank, dtype=np.int64)
    labels[1::2] = tgt
    n_states = len(labels)
    # a skip from state s - 2 to s: s a phoneme and not the same as the one before it
    skip = np.zeros(n_states, dtype=bool)
    skip[3::2] = tgt[1:] != tgt[:-1]
    neg = -np.inf
    score = np.full(n_states, neg)
    score[0] = lp[0, labels[0]]
    score[1] = lp[0, labels[1]]
    back = np.zeros((n_frames, n_states), dtype=np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    for t in range(1, n_frames):
        stay = score
        step = np.concatenate(([neg], score[:-1]))
        jump = np.where(skip, np.concatenate(([neg, neg], score[:-2])), neg)
        best = np.stack([stay, step, jump])
        choice = best.argmax(0)
        score = best[choice, np.arange(n_states)] + lp[t, labels]
        back[t] = choice
    # the path ends in the last phoneme or the blank after it
    state = n_states - 1 if score[-1] >= score[-2] else n_states - 2
    path = np.empty(n_frames, dtype=np.int64)
    for t in range(n_frames - 1, -1, -1):
        path[t] = state
        state -= int(back[t, state])
    # state s covers phoneme (s - 1) // 2 when odd; a blank state s belongs to phoneme s//2 - 1
    return np.where(path % 2 == 1, (path - 1) // 2, path // 2 - 1)


def frame_phonemes(
    index: np.ndarray,
    targets: Sequence[int],
    n_frames: int,
    per_frame: float,
    none_id: int,
) -> np.ndarray:
    """`ctc_align`'s per-reader-frame indices -> [2, n_frames] ids for frames `per_frame`
    reader frames long (e.g. 2: a 50 Hz reader, 25 Hz codec frames; not a whole number when
    the decoder's tempo stretched the audio): row 0 the phoneme each frame is in, row 1 the
    one after it; `none_id` where there is none. A frame reads the reader frame at its middle
    (past the reader's last frame: the last)."""
    if not per_frame > 0 or n_frames < 0:
        raise ConfigError("frame_phonemes needs per_frame > 0 and n_frames >= 0")
    tgt = np.append(np.asarray(list(targets), dtype=np.int64), none_id)  # index N -> none
    out = np.full((2, n_frames), none_id, dtype=np.int64)
    if len(index) == 0 or n_frames == 0:
        return out
    middle = np.floor((np.arange(n_frames) + 0.5) * per_frame).astype(np.int64)
    k = np.minimum(middle, len(index) - 1)
    current = index[k]
    out[0] = np.where(current >= 0, tgt[np.maximum(current, 0)], none_id)
    out[1] = tgt[np.minimum(current + 1, len(tgt) - 1)]
    return out


def save_phoneme_frames(
    path: str | Path, frames: Mapping[str, np.ndarray], **metadata: str
) -> Path:
    """{utterance key: [2, F] ids} -> one safetensors file (the arrays end to end, their keys
    and lengths in its metadata)."""
    from safetensors.numpy import save_file

    keys = list(frames)
    arrays = [np.asarray(frames[k], dtype=np.int32).reshape(2, -1) for k in keys]
    flat = np.concatenate(arrays, axis=1) if arrays else np.zeros((2, 0), np.int32)
    meta = {"keys": json.dumps(keys), "lengths": json.dumps([a.shape[1] for a in arrays])}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"frames": np.ascontiguousarray(flat)}, str(path), metadata={**meta, **metadata})
    return path


def load_phoneme_frames(path: str | Path) -> dict[str, np.ndarray]:
    """`save_phoneme_frames`' file -> {utterance key: [2, F] int64 ids}."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            flat = f.get_tensor("frames")
        keys, lengths = json.loads(meta["keys"]), json.loads(meta["lengths"])
    except (OSError, KeyError, ValueError, SafetensorError) as exc:
        raise ConfigError(f"{path} is not a phoneme frames file: {exc}") from exc
    if len(keys) != len(lengths) or sum(lengths) != flat.shape[-1]:
        raise ConfigError(f"{path}: its keys and lengths do not match its frames")
    ends = np.cumsum([0, *lengths])
    return {
        k: flat[:, a:b].astype(np.int64) for k, a, b in zip(keys, ends[:-1], ends[1:], strict=True)
    }


def read_phoneme_frames(paths: str) -> dict[str, np.ndarray]:
    """Frames of one or several `save_phoneme_frames` files ("a.safetensors,b.safetensors"), as
    one mapping: a corpus aligned in parts (a new shard folder aligned on its own, beside the
    file of the older ones) trains as one. An utterance in two files keeps the first file's
    frames; the two must then agree on its length (a different length means different codes:
    the files belong to different shards)."""
    merged: dict[str, np.ndarray] = {}
    names = [p.strip() for p in paths.split(",") if p.strip()]
    if not names:
        raise ConfigError("no phoneme frames file named")
    for name in names:
        for key, row in load_phoneme_frames(name).items():
            if key not in merged:
                merged[key] = row
            elif merged[key].shape != row.shape:
                raise ConfigError(
                    f"{key} has {merged[key].shape[-1]} phoneme frames in an earlier file and "
                    f"{row.shape[-1]} in {name}: these files were aligned from different codes"
                )
    return merged
