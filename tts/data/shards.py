"""Token shards: a manifest encoded once into codec codes, phoneme ids and conditioning.

Training never touches audio. `tokenize_manifest` reads a canonical JSONL manifest and writes,
per utterance, codec codes [K, F], phoneme ids, a GE2E speaker embedding [256], an optional
style vector [128] and the labels, into shards of `shard_size` utterances:

    OUT/tokenize.json             the settings of the run (checked when it resumes)
    OUT/shard-00000.safetensors   flat tensors + offsets, per-utterance strings in its metadata
    OUT/index.json                codec, frame rate, inventory, counts (written last)

A shard holds `codes` [K, total_frames] (int16 when the codebook fits, else int32),
`code_offsets` [n + 1], `phonemes` [total_symbols], `phoneme_offsets` [n + 1], `speaker`
[n, 256], `style` [n, 128] (only with a style encoder), `emotion`, `language` [n] (ids into
tts.labels), `intensity`, `duration` [n]. Utterance i of a shard owns columns
code_offsets[i]:code_offsets[i+1]. Files are written atomically (temporary name, then rename),
so an interrupted run resumes by skipping the shards that exist.

Each utterance is encoded on its own, not padded into a batch: non-causal codecs change the
last frames of a padded item, and shards must hold exactly what `codec.encode` gives.

Semantic units (tts.semantic) are added afterwards by `add_semantic_units`, as one sidecar
per shard, `semantic-00000.safetensors` with `units` [total_frames] (the same offsets as the
codes), and `semantic.json` naming the tokenizer. `ShardDataset(..., semantic=True)` then puts
the units in front of the codes as codebook 0.

`ShardDataset` reads shards lazily (safetensors memory-maps them), `FrameBucketSampler` packs
length-sorted batches under a padded-frame budget in an order that is a function of
(seed, epoch), and `collate_lm` pads items into a `tts.training.LMBatch`.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch.utils.data import Dataset
from tqdm import tqdm

from tts.audio import load_audio
from tts.codecs.base import Codec
from tts.conditioning import Conditioning
from tts.config import config_to_dict
from tts.data.manifest import ManifestEntry, read_manifest
from tts.errors import AudioInputError, ConfigError, ManifestError, TextError
from tts.labels import EMOTIONS, LANGUAGES
from tts.semantic import SemanticTokenizer
from tts.speakers.speaker_encoder import SpeakerEncoder
from tts.speakers.style_encoder import StyleEncoder
from tts.text import SymbolInventory, TextFrontend
from tts.training import LMBatch

SHARD_FORMAT = 1
INDEX_NAME = "index.json"
SEMANTIC_NAME = "semantic.json"
SETTINGS_NAME = "tokenize.json"
MAX_SKIP_EXAMPLES = 50


def shard_name(number: int) -> str:
    return f"shard-{number:05d}.safetensors"


def int_dtype_for(size: int) -> torch.dtype:
    """The smallest signed integer type that holds ids 0..size-1 (int16, else int32)."""
    return torch.int16 if size <= torch.iinfo(torch.int16).max + 1 else torch.int32


def phoneme_ids(frontend: TextFrontend, text: str, language: str) -> list[int]:
    """All symbol ids of an utterance: the front end's chunks concatenated in order."""
    return [i for chunk in frontend.process(text, language) for i in chunk.ids]


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _manifest_lines(path: Path) -> list[int]:
    """1-based line numbers of the non-blank lines (read_manifest skips blank ones)."""
    with path.open(encoding="utf-8") as f:
        return [n for n, line in enumerate(f, start=1) if line.strip()]


@dataclass
class _Encoded:
    codes: torch.Tensor
    ids: list[int]
    speaker: torch.Tensor
    style: torch.Tensor | None
    entry: ManifestEntry
    line: int


def _encode_shard(
    items: list[tuple[ManifestEntry, int]],
    codec: Codec,
    frontend: TextFrontend,
    speaker_encoder: SpeakerEncoder,
    style_encoder: StyleEncoder | None,
    max_symbols: int,
    skipped: Counter,
    examples: list[str],
) -> list[_Encoded]:
    out = []
    for entry, line in items:
        try:
            ids = phoneme_ids(frontend, entry.text, entry.language)
            if len(ids) > max_symbols:
                skipped["too_many_symbols"] += 1
                examples.append(f"line {line}: {len(ids)} symbols > max_symbols={max_symbols}")
                continue
            wav, sr = load_audio(entry.audio)
            codes = codec.encode(torch.from_numpy(wav)[None], sr)[0].cpu()
            speaker = speaker_encoder.embed(wav, sr).float().cpu()
            style = style_encoder.embed(wav, sr).float().cpu() if style_encoder else None
        except TextError as exc:
            skipped["text"] += 1
            examples.append(f"line {line}: {exc}")
            continue
        except AudioInputError as exc:
            skipped["audio"] += 1
            examples.append(f"line {line}: {exc}")
            continue
        out.append(_Encoded(codes, ids, speaker, style, entry, line))
    return out


def _shard_tensors(
    encoded: list[_Encoded], n_codebooks: int, code_dtype: torch.dtype, id_dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    n = len(encoded)
    frames = [e.codes.shape[1] for e in encoded]
    symbols = [len(e.ids) for e in encoded]
    tensors = {
        "codes": torch.cat([e.codes for e in encoded], dim=1).to(code_dtype)
        if n
        else torch.zeros(n_codebooks, 0, dtype=code_dtype),
        "code_offsets": torch.tensor([0, *np.cumsum(frames).tolist()], dtype=torch.int64),
        "phonemes": torch.tensor([i for e in encoded for i in e.ids], dtype=id_dtype),
        "phoneme_offsets": torch.tensor([0, *np.cumsum(symbols).tolist()], dtype=torch.int64),
        "speaker": torch.stack([e.speaker for e in encoded]) if n else torch.zeros(0, 256),
        "emotion": torch.tensor([EMOTIONS.index(e.entry.emotion) for e in encoded]),
        "language": torch.tensor([LANGUAGES.index(e.entry.language) for e in encoded]),
        "intensity": torch.tensor([float(e.entry.intensity or 0.0) for e in encoded]),
        "duration": torch.tensor([e.entry.duration for e in encoded]),
    }
    tensors["emotion"] = tensors["emotion"].long()
    tensors["language"] = tensors["language"].long()
    if n and encoded[0].style is not None:
        tensors["style"] = torch.stack([e.style for e in encoded])  # type: ignore[misc]
    return {k: v.contiguous() for k, v in tensors.items()}


def tokenize_manifest(
    manifest: str | Path,
    out: str | Path,
    codec: Codec,
    codec_source: str,
    speaker_encoder: SpeakerEncoder,
    speaker_encoder_source: str = "resemblyzer",
    style_encoder: StyleEncoder | None = None,
    style_encoder_source: str | None = None,
    inventory: SymbolInventory | None = None,
    shard_size: int = 256,
    max_symbols: int = 400,
    progress: bool = True,
) -> dict[str, Any]:
    """Encode every utterance of `manifest` into shards under `out`; returns the index.

    `codec_source` is how a bundle finds the codec again (a checkpoint directory or a
    registry name such as "encodec-24k@6"). Utterances whose text the front end cannot read,
    with more than `max_symbols` symbols, or with unusable audio are skipped and counted by
    reason in the index. Existing shards are kept (resume); a folder made with different
    settings raises ConfigError.
    """
    manifest, out = Path(manifest), Path(out)
    if shard_size < 1:
        raise ConfigError(f"shard_size must be >= 1, got {shard_size}")
    if (style_encoder is None) != (style_encoder_source is None):
        raise ConfigError("give style_encoder and style_encoder_source together")
    entries = read_manifest(manifest, check_audio=True)
    if not entries:
        raise ManifestError(f"{manifest} has no utterances")
    lines = _manifest_lines(manifest)
    inventory = inventory or SymbolInventory.default()
    frontend = TextFrontend(inventory=inventory)
    code_dtype = int_dtype_for(codec.codebook_size)
    id_dtype = int_dtype_for(len(inventory))

    settings = {
        "format": SHARD_FORMAT,
        "manifest": str(manifest.resolve()),
        "utterances": len(entries),
        "codec": {
            "source": codec_source,
            "name": codec.name,
            "sample_rate": codec.sample_rate,
            "frame_rate": codec.frame_rate,
            "n_codebooks": codec.n_codebooks,
            "codebook_size": codec.codebook_size,
            "dtype": str(code_dtype).removeprefix("torch."),
            # Which encoder made the codes (Codec.codes_id): folders whose codecs differ in
            # name only (a decoder retrained over the same encoder) are read together.
            "codes_id": codec.codes_id(),
        },
        "inventory": inventory.to_dict(),
        "speaker_encoder": speaker_encoder_source,
        "style_encoder": style_encoder_source,
        "shard_size": shard_size,
        "max_symbols": max_symbols,
    }
    out.mkdir(parents=True, exist_ok=True)
    settings_path = out / SETTINGS_NAME
    if settings_path.is_file():
        before = json.loads(settings_path.read_text(encoding="utf-8"))
        if "codes_id" not in before.get("codec", {}):  # a folder begun before codes_id
            before.setdefault("codec", {})["codes_id"] = settings["codec"]["codes_id"]
        if before != json.loads(json.dumps(settings)):
            changed = sorted(k for k in settings if before.get(k) != settings[k])
            raise ConfigError(
                f"{out} holds shards made with different settings ({', '.join(changed)}); "
                "use a new output folder or the same settings"
            )
    else:
        _write_json_atomic(settings_path, settings)

    starts = list(range(0, len(entries), shard_size))
    bar = tqdm(total=len(entries), desc="tokenize", unit="utt", disable=not progress)
    for number, start in enumerate(starts):
        path = out / shard_name(number)
        items = list(
            zip(entries[start : start + shard_size], lines[start : start + shard_size], strict=True)
        )
        if path.is_file():  # finished in an earlier run
            bar.update(len(items))
            continue
        skipped: Counter = Counter()
        examples: list[str] = []
        encoded = _encode_shard(
            items, codec, frontend, speaker_encoder, style_encoder, max_symbols, skipped, examples
        )
        tensors = _shard_tensors(encoded, codec.n_codebooks, code_dtype, id_dtype)
        metadata = {
            "format": str(SHARD_FORMAT),
            "count": str(len(encoded)),
            "speakers": json.dumps([e.entry.speaker for e in encoded], ensure_ascii=False),
            "splits": json.dumps([str(e.entry.extra.get("split", "train")) for e in encoded]),
            "lines": json.dumps([e.line for e in encoded]),
            "audio": json.dumps([str(e.entry.audio) for e in encoded], ensure_ascii=False),
            "texts": json.dumps([e.entry.text for e in encoded], ensure_ascii=False),
            "skipped": json.dumps(dict(skipped)),
            "skip_examples": json.dumps(examples[:MAX_SKIP_EXAMPLES], ensure_ascii=False),
        }
        tmp = path.with_name(path.name + ".tmp")
        save_file(tensors, str(tmp), metadata=metadata)
        os.replace(tmp, path)
        bar.update(len(items))
    bar.close()
    index = _build_index(out, settings, len(starts))
    _write_json_atomic(out / INDEX_NAME, index)
    return index


def semantic_name(number: int) -> str:
    return f"semantic-{number:05d}.safetensors"


def semantic_info(root: str | Path) -> dict[str, Any] | None:
    """The finished semantic.json of a shard folder (tokenizer source and config), else None."""
    path = Path(root) / SEMANTIC_NAME
    if not path.is_file():
        return None
    info = json.loads(path.read_text(encoding="utf-8"))
    return info if info.get("done") else None


def add_semantic_units(
    root: str | Path, tokenizer: SemanticTokenizer, source: str, progress: bool = True
) -> dict[str, Any]:
    """Write each shard's semantic units (one per codec frame) next to it; resumable.

    `source` is where the tokenizer lives (recorded in semantic.json). The audio is read again
    from the paths the shards recorded. A folder whose units came from another tokenizer
    raises ConfigError.
    """
    root = Path(root)
    index = read_index(root)
    if abs(index["codec"]["frame_rate"] - tokenizer.config.frame_rate) > 1e-6:
        raise ConfigError(
            f"the semantic tokenizer makes {tokenizer.config.frame_rate:g} frames/s but the "
            f"shards' codec makes {index['codec']['frame_rate']:g}"
        )
    if tokenizer.config.n_clusters > index["codec"]["codebook_size"]:
        raise ConfigError(
            f"{tokenizer.config.n_clusters} semantic units do not fit the LM's codebooks of "
            f"{index['codec']['codebook_size']}"
        )
    settings = {"source": str(source), **config_to_dict(tokenizer.config)}
    path = root / SEMANTIC_NAME
    if path.is_file():
        before = json.loads(path.read_text(encoding="utf-8"))
        if {k: v for k, v in before.items() if k != "done"} != settings:
            raise ConfigError(f"{root} holds semantic units of another tokenizer ({before})")
    total = sum(shard["count"] for shard in index["shards"])
    bar = tqdm(total=total, desc="semantic units", unit="utt", disable=not progress)
    for number, shard in enumerate(index["shards"]):
        target = root / semantic_name(number)
        if target.is_file():
            bar.update(shard["count"])
            continue
        with safe_open(str(root / shard["file"]), framework="pt") as f:
            offsets = f.get_tensor("code_offsets").tolist()
            audio_paths = json.loads(f.metadata()["audio"])
        units = []
        for i, audio_path in enumerate(audio_paths):
            wav, sr = load_audio(audio_path)
            units.append(tokenizer.units(wav, sr, offsets[i + 1] - offsets[i]))
            bar.update(1)
        flat = torch.cat(units) if units else torch.zeros(0, dtype=torch.long)
        tmp = target.with_name(target.name + ".tmp")
        save_file({"units": flat.to(torch.int16).contiguous()}, str(tmp))
        os.replace(tmp, target)
    bar.close()
    settings["done"] = True
    _write_json_atomic(path, settings)
    return settings


def _build_index(out: Path, settings: dict[str, Any], n_shards: int) -> dict[str, Any]:
    shards, skipped, examples = [], Counter(), []
    speakers: Counter = Counter()
    splits: Counter = Counter()
    total_frames = total_seconds = 0.0
    for number in range(n_shards):
        with safe_open(str(out / shard_name(number)), framework="pt") as f:
            meta = f.metadata()
            offsets = f.get_tensor("code_offsets")
            seconds = float(f.get_tensor("duration").sum())
        frames = int(offsets[-1])
        shards.append({"file": shard_name(number), "count": int(meta["count"]), "frames": frames})
        skipped.update(json.loads(meta["skipped"]))
        examples += json.loads(meta["skip_examples"])
        speakers.update(json.loads(meta["speakers"]))
        splits.update(json.loads(meta["splits"]))
        total_frames += frames
        total_seconds += seconds
    return {
        **settings,
        "shards": shards,
        "count": sum(s["count"] for s in shards),
        "frames": int(total_frames),
        "hours": total_seconds / 3600,
        "skipped": dict(skipped),
        "skip_examples": examples[:MAX_SKIP_EXAMPLES],
        "speakers": dict(speakers.most_common()),
        "splits": dict(splits),
    }


def read_index(root: str | Path) -> dict[str, Any]:
    path = Path(root) / INDEX_NAME
    if not path.is_file():
        raise ConfigError(
            f"{path} is missing: {root} is not a finished shard folder (run "
            "recipes/tokenize_corpus.py first, or rerun it to finish)"
        )
    index = json.loads(path.read_text(encoding="utf-8"))
    if index.get("format", 0) > SHARD_FORMAT:
        raise ConfigError(f"{root} uses shard format {index['format']}; upgrade koe-tts")
    return index


def _record_codes_id(root: Path, codes_id: str) -> None:
    for name in (INDEX_NAME, SETTINGS_NAME):  # the index, and the settings a resume checks
        if (path := root / name).is_file():
            settings = json.loads(path.read_text(encoding="utf-8"))
            settings["codec"]["codes_id"] = codes_id
            _write_json_atomic(path, settings)


def stamp_codes_id(root: str | Path, codec: Codec, check: int = 16) -> str:
    """Record `codec.codes_id()` in a shard folder that has none (made before codes_id, or by
    a codec of another name over the same encoder), once `check` of its utterances, spread
    over the folder, encode again to exactly their stored codes. Returns the id; raises
    ConfigError where the codec's shape differs, a checked utterance's codes differ, or the
    folder already names another id. Copies made from the folder later (recipes/lm_draws.py)
    keep the id."""
    root = Path(root)
    codes_id = codec.codes_id()
    if codes_id is None:
        raise ConfigError(f"{codec.name} cannot say which encoder makes its codes (no codes_id)")
    info = read_index(root)["codec"]
    if info.get("codes_id") not in (None, codes_id):
        raise ConfigError(f"{root} was made by another encoder (codes_id {info['codes_id']})")
    for key in _SAME_CODEC[1:]:
        if info.get(key) != getattr(codec, key):
            raise ConfigError(
                f"{root}'s codes have {key} {info.get(key)}, {codec.name} makes {getattr(codec, key)}"
            )
    if check < 1:
        raise ConfigError(f"check must be >= 1 utterance, got {check}")
    data = ShardDataset(root)
    picks = sorted({round(k * (len(data) - 1) / max(check - 1, 1)) for k in range(check)})
    for k in picks:
        wav, sr = load_audio(data.audio_path(k))
        codes = codec.encode(torch.from_numpy(wav)[None], sr)[0].cpu()
        stored = data[k].codes
        if codes.shape != stored.shape or not torch.equal(codes, stored):
            agree = (codes == stored).float().mean().item() if codes.shape == stored.shape else 0.0
            raise ConfigError(
                f"{codec.name} does not make the codes {root} holds for {data.audio_path(k)} "
                f"({agree:.1%} of them agree)"
            )
    _record_codes_id(root, codes_id)
    return codes_id


def inherit_codes_id(root: str | Path, source: str | Path) -> str:
    """Give a copy of a stamped folder (recipes/lm_draws.py made before `source` was stamped)
    `source`'s codes_id, once both list the same utterances (audio paths, in order) with the
    same frame counts. Returns the id; raises ConfigError where they differ or `source` has
    none."""
    root, source = Path(root), Path(source)
    codes_id = read_index(source)["codec"].get("codes_id")
    if not codes_id:
        raise ConfigError(f"{source} has no codes_id: stamp it first (stamp_codes_id)")
    if read_index(root)["codec"].get("codes_id") not in (None, codes_id):
        raise ConfigError(f"{root} was made by another encoder than {source}")
    copy, original = ShardDataset(root), ShardDataset(source)
    if [copy.audio_path(k) for k in range(len(copy))] != [
        original.audio_path(k) for k in range(len(original))
    ] or list(copy.frames) != list(original.frames):
        raise ConfigError(f"{root} is not a copy of {source}: their utterances differ")
    _record_codes_id(root, codes_id)
    return codes_id


def shard_roots(data: str | Path | Sequence[str | Path]) -> list[Path]:
    """`data` as a list of shard folders: one folder, a sequence of them, or a comma-separated
    string ("a,b"). A folder listed twice is read twice: its items are drawn twice as often."""
    if isinstance(data, str):
        parts: Sequence[str | Path] = data.split(",")
    elif isinstance(data, Path):
        parts = [data]
    else:
        parts = data
    roots = [Path(str(part).strip()).expanduser() for part in parts if str(part).strip()]
    if not roots:
        raise ConfigError(f"no shard folder in {data!r}")
    return roots


def speaker_embeddings(
    data: str | Path | Sequence[str | Path], splits: Sequence[str] = ("train",)
) -> torch.Tensor:
    """[N, D] speaker embeddings of the items of `splits` in shard folders (`shard_roots`),
    one row per utterance: each voice as often as a model trained on them heard it."""
    rows = []
    for root in shard_roots(data):
        for shard in read_index(root)["shards"]:
            with safe_open(str(root / shard["file"]), framework="pt") as f:
                item_splits = json.loads(f.metadata()["splits"])
                speaker = f.get_tensor("speaker")
            keep = torch.tensor([split in splits for split in item_splits], dtype=torch.bool)
            rows.append(speaker[keep])
    embeddings = torch.cat(rows) if rows else torch.empty(0)
    if embeddings.shape[0] == 0:
        raise ConfigError(f"no items of splits {list(splits)} in {data}")
    return embeddings


# What must agree for shard folders to be read as one corpus: the codes, phoneme ids and
# conditioning vectors mean the same thing. The codec's source path may differ (a copy of the
# same checkpoint); its name, rates and codebook shape may not.
_SAME_CODEC = ("name", "sample_rate", "frame_rate", "n_codebooks", "codebook_size")
_SAME_SEMANTIC = ("n_clusters", "frame_rate", "encoder", "feature_dim")


def read_indexes(data: str | Path | Sequence[str | Path]) -> dict[str, Any]:
    """The index of one shard folder, or of several read together (`shard_roots`).

    For several, the first folder's settings stand for all (its codec source is what a bundle
    loads); counts, frames, hours, speakers and splits are summed over the folders as listed.
    Folders that disagree on the codec, inventory or encoders raise ConfigError naming both.
    """
    roots = shard_roots(data)
    return combine_indexes(roots, [read_index(root) for root in roots])


def combine_indexes(roots: Sequence[Path], indexes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`read_indexes` for indexes already read, one per folder of `roots`."""
    first = indexes[0]
    for root, index in zip(roots[1:], indexes[1:], strict=True):
        same = _SAME_CODEC
        if first["codec"].get("codes_id") and index["codec"].get("codes_id"):
            same = ("codes_id", *same[1:])  # the same codes whatever the codec's name
        differing = [
            f"codec {key}" for key in same if index["codec"].get(key) != first["codec"].get(key)
        ] + [
            key
            for key in ("inventory", "speaker_encoder", "style_encoder")
            if index.get(key) != first.get(key)
        ]
        if differing:
            raise ConfigError(
                f"shard folders {roots[0]} and {root} cannot be read together: their "
                f"{', '.join(differing)} differ"
            )
    if len(roots) == 1:
        return first
    speakers: Counter = Counter()
    splits: Counter = Counter()
    for index in indexes:
        speakers.update(index["speakers"])
        splits.update(index["splits"])
    return {
        **first,
        "folders": [str(root) for root in roots],
        "max_symbols": max(index["max_symbols"] for index in indexes),
        "count": sum(index["count"] for index in indexes),
        "frames": sum(index["frames"] for index in indexes),
        "hours": sum(index["hours"] for index in indexes),
        "speakers": dict(speakers.most_common()),
        "splits": dict(splits),
    }


# ----- reading ---------------------------------------------------------------------------------


@dataclass
class ShardItem:
    """One tokenised utterance."""

    codes: torch.Tensor  # [K, F] long
    phonemes: torch.Tensor  # [N] long
    speaker: torch.Tensor  # [256] float
    style: torch.Tensor | None  # [128] float or None
    emotion: int
    intensity: float
    language: int
    speaker_id: str
    split: str
    duration: float
    line: int  # line of the source manifest


class ShardDataset(Dataset):
    """Map-style dataset over a shard folder (or several read as one, `shard_roots`),
    optionally restricted to manifest splits.

    Only the small offset tables and labels are read up front; codes are sliced out of the
    memory-mapped shard when an item is asked for.
    """

    def __init__(
        self,
        root: str | Path | Sequence[str | Path],
        splits: Sequence[str] | None = None,
        semantic: bool = False,
    ) -> None:
        self.roots = shard_roots(root)
        self.root = self.roots[0]
        indexes = [read_index(folder) for folder in self.roots]
        self.index = combine_indexes(self.roots, indexes)
        self.semantic = semantic  # put the semantic units in front of the codes (codebook 0)
        self.semantic_source: str | None = None  # where their tokenizer lives
        if semantic:
            self.semantic_source = self._semantic_source()
        self.inventory = SymbolInventory.from_dict(self.index["inventory"])
        self.codec_info: dict[str, Any] = self.index["codec"]
        self.has_style = self.index["style_encoder"] is not None
        self._handles: dict[tuple[int, bool], Any] = {}
        self._files: list[tuple[Path, Path]] = []  # (shard, semantic sidecar) of every shard
        self._code_offsets: list[torch.Tensor] = []
        self._phoneme_offsets: list[torch.Tensor] = []
        self._labels: list[dict[str, Any]] = []
        locations, frames, symbols = [], [], []
        shards = [
            (folder, number, shard)
            for folder, index in zip(self.roots, indexes, strict=True)
            for number, shard in enumerate(index["shards"])
        ]
        for flat, (folder, number, shard) in enumerate(shards):
            self._files.append((folder / shard["file"], folder / semantic_name(number)))
            with safe_open(str(folder / shard["file"]), framework="pt") as f:
                meta = f.metadata()
                code_offsets = f.get_tensor("code_offsets")
                phoneme_offsets = f.get_tensor("phoneme_offsets")
                labels = {k: f.get_tensor(k) for k in ("emotion", "language", "intensity")}
                labels["duration"] = f.get_tensor("duration")
            labels["speakers"] = json.loads(meta["speakers"])
            labels["splits"] = json.loads(meta["splits"])
            labels["lines"] = json.loads(meta["lines"])
            labels["audio"] = json.loads(meta["audio"])
            self._code_offsets.append(code_offsets)
            self._phoneme_offsets.append(phoneme_offsets)
            self._labels.append(labels)
            lengths = (code_offsets[1:] - code_offsets[:-1]).tolist()
            n_symbols = (phoneme_offsets[1:] - phoneme_offsets[:-1]).tolist()
            for i, split in enumerate(labels["splits"]):
                if splits is None or split in splits:
                    locations.append((flat, i))
                    frames.append(lengths[i])
                    symbols.append(n_symbols[i])
        self._locations = locations
        self.frames = frames  # codec frames of each item, for length bucketing
        self.n_symbols = symbols

    def _semantic_source(self) -> str:
        """The tokenizer every folder's units come from; they must be the same units."""
        infos = []
        for folder in self.roots:
            info = semantic_info(folder)
            if info is None:
                raise ConfigError(
                    f"{folder} has no semantic units; the model predicts them first. Add "
                    "them with recipes/semantic_units.py (tts.data.shards.add_semantic_units)"
                )
            infos.append(info)
        for folder, info in zip(self.roots[1:], infos[1:], strict=True):
            same_source = Path(info["source"]).resolve() == Path(infos[0]["source"]).resolve()
            if not same_source or any(info.get(k) != infos[0].get(k) for k in _SAME_SEMANTIC):
                raise ConfigError(
                    f"the semantic units of {self.roots[0]} ({infos[0]['source']}) and "
                    f"{folder} ({info['source']}) come from different tokenizers"
                )
        return infos[0]["source"]

    def __len__(self) -> int:
        return len(self._locations)

    def __getstate__(self) -> dict[str, Any]:  # open file handles do not cross processes
        return {**self.__dict__, "_handles": {}}

    def _handle(self, number: int, semantic: bool = False) -> Any:
        key = (number, semantic)
        if key not in self._handles:
            shard, sidecar = self._files[number]
            self._handles[key] = safe_open(str(sidecar if semantic else shard), framework="pt")
        return self._handles[key]

    def __getitem__(self, index: int) -> ShardItem:
        number, i = self._locations[index]
        f = self._handle(number)
        a, b = self._code_offsets[number][i : i + 2].tolist()
        p, q = self._phoneme_offsets[number][i : i + 2].tolist()
        labels = self._labels[number]
        codes = f.get_slice("codes")[:, a:b].long()
        if self.semantic:
            units = self._handle(number, semantic=True).get_slice("units")[a:b].long()
            codes = torch.cat([units[None], codes])
        return ShardItem(
            codes=codes,
            phonemes=f.get_slice("phonemes")[p:q].long(),
            speaker=f.get_slice("speaker")[i],
            style=f.get_slice("style")[i] if self.has_style else None,
            emotion=int(labels["emotion"][i]),
            intensity=float(labels["intensity"][i]),
            language=int(labels["language"][i]),
            speaker_id=labels["speakers"][i],
            split=labels["splits"][i],
            duration=float(labels["duration"][i]),
            line=int(labels["lines"][i]),
        )

    def audio_path(self, index: int) -> str:
        """The audio file item `index` was tokenised from (as the shard recorded it)."""
        number, i = self._locations[index]
        return self._labels[number]["audio"][i]

    def speaker_ids(self) -> list[str]:
        """The speaker id of every item, in dataset order."""
        return [self._labels[n]["speakers"][i] for n, i in self._locations]

    def splits(self) -> list[str]:
        """The manifest split of every item, in dataset order (codes not read)."""
        return [self._labels[n]["splits"][i] for n, i in self._locations]

    def neutral_flags(self) -> list[bool]:
        """Whether each item, in dataset order, is spoken neutrally (the neutral label or
        intensity 0)."""
        neutral = EMOTIONS.index("neutral")
        return [
            int(self._labels[n]["emotion"][i]) == neutral
            or float(self._labels[n]["intensity"][i]) == 0.0
            for n, i in self._locations
        ]

    def speaker_embeddings(self) -> torch.Tensor:
        """[N, D] the speaker embedding of every item, in dataset order (codes not read)."""
        rows = [self._handle(n).get_slice("speaker")[i] for n, i in self._locations]
        if not rows:
            raise ConfigError(f"{self.root}: no items to take speaker embeddings of")
        return torch.stack(rows).float()

    def mean_speaker_embeddings(self) -> dict[str, torch.Tensor]:
        """L2-normalised mean speaker embedding per speaker id, most frequent speaker first."""
        sums: dict[str, torch.Tensor] = {}
        counts: Counter = Counter()
        for number, i in self._locations:
            speaker_id = self._labels[number]["speakers"][i]
            embedding = self._handle(number).get_slice("speaker")[i]
            sums[speaker_id] = sums.get(speaker_id, 0) + embedding
            counts[speaker_id] += 1
        return {s: torch.nn.functional.normalize(sums[s], dim=0) for s, _ in counts.most_common()}


def collate_lm(items: Sequence[ShardItem], pad_id: int) -> LMBatch:
    """Pad items into an LMBatch (phonemes with `pad_id`, codes with 0 after their length)."""
    if not items:
        raise ConfigError("cannot collate an empty batch")
    batch = len(items)
    n_codebooks = items[0].codes.shape[0]
    phoneme_lengths = torch.tensor([len(x.phonemes) for x in items])
    code_lengths = torch.tensor([x.codes.shape[1] for x in items])
    phonemes = torch.full((batch, int(phoneme_lengths.max())), pad_id, dtype=torch.long)
    codes = torch.zeros(batch, n_codebooks, int(code_lengths.max()), dtype=torch.long)
    for b, x in enumerate(items):
        phonemes[b, : len(x.phonemes)] = x.phonemes
        codes[b, :, : x.codes.shape[1]] = x.codes
    styles = [x.style for x in items]
    cond = Conditioning(
        speaker=torch.stack([x.speaker for x in items]).float(),
        emotion=torch.tensor([x.emotion for x in items]),
        intensity=torch.tensor([x.intensity for x in items], dtype=torch.float32),
        language=torch.tensor([x.language for x in items]),
        style=None if any(s is None for s in styles) else torch.stack(styles).float(),  # type: ignore[arg-type]
    )
    return LMBatch(phonemes, phoneme_lengths, codes, code_lengths, cond)


class FrameBucketSampler:
    """Batches of similar-length items whose padded size stays under `max_frames`.

    For epoch e the items are shuffled with a generator seeded by (seed, e), cut into pools,
    each pool sorted by length and packed greedily (batch size x longest item <= max_frames),
    and the batches shuffled again. The order is therefore a pure function of (seed, epoch):
    a resumed run rebuilds it and continues at its saved position. With several processes,
    batch j of the epoch goes to rank j % world_size and the remainder that cannot be split
    evenly is dropped, so every rank runs the same number of steps.
    """

    def __init__(
        self,
        frames: Sequence[int],
        max_frames: int,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        pool_size: int = 2048,
        keep: Sequence[bool] | None = None,
    ) -> None:
        if max_frames < 1:
            raise ConfigError(f"max_frames must be >= 1, got {max_frames}")
        if not 0 <= rank < world_size:
            raise ConfigError(f"rank {rank} outside world size {world_size}")
        self.frames = np.asarray(frames, dtype=np.int64)
        self.max_frames = max_frames
        self.seed, self.shuffle = seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.pool_size = pool_size
        usable = self.frames <= max_frames
        if keep is not None:
            usable &= np.asarray(keep, dtype=bool)
        self.usable = np.flatnonzero(usable)
        self.n_dropped = len(self.frames) - len(self.usable)  # longer than one batch, or unkept
        if len(self.usable) == 0:
            raise ConfigError(
                f"no item fits: all {len(self.frames)} are longer than max_frames={max_frames} "
                "or were excluded"
            )
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def all_batches(self, epoch: int) -> list[list[int]]:
        """Every batch of the epoch, for all ranks, in order."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(self.usable) if self.shuffle else self.usable
        batches: list[list[int]] = []
        for start in range(0, len(order), self.pool_size):
            pool = order[start : start + self.pool_size]
            pool = pool[np.argsort(self.frames[pool], kind="stable")]
            batch: list[int] = []
            longest = 0
            for index in pool.tolist():
                longest_if_added = max(longest, int(self.frames[index]))
                if batch and longest_if_added * (len(batch) + 1) > self.max_frames:
                    batches.append(batch)
                    batch, longest_if_added = [], int(self.frames[index])
                batch.append(index)
                longest = longest_if_added
            if batch:
                batches.append(batch)
        if self.shuffle:
            batches = [batches[j] for j in rng.permutation(len(batches))]
        return batches

    def batches(self, epoch: int | None = None) -> list[list[int]]:
        """This rank's batches of the epoch."""
        everything = self.all_batches(self.epoch if epoch is None else epoch)
        usable = len(everything) // self.world_size * self.world_size
        if usable == 0:
            raise ConfigError(
                f"only {len(everything)} batch(es) per epoch for {self.world_size} processes; "
                "lower max_frames or add data"
            )
        return everything[self.rank : usable : self.world_size]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        return len(self.batches())
