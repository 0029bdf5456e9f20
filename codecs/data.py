"""Training data for the codec: random fixed-length crops from a folder or a JSONL manifest,
or (`ShardCrops`) from a token shard folder with its codes and semantic units.

Each crop is a pure function of (seed, global sample index): the file and the offset are
drawn from a generator seeded with both. A resumed run that restarts at step s therefore sees
exactly the crops an uninterrupted run would have seen, with any number of loader workers
and without saving loader state.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset, Sampler

from tts.audio import load_audio, resample, to_mono
from tts.codecs.audio_pack import AudioPack
from tts.data.importers import AUDIO_SUFFIXES, audio_files
from tts.data.manifest import read_manifest
from tts.errors import AudioInputError, ConfigError, ManifestError


def list_audio_files(source: str | Path) -> list[Path]:
    """Audio files from a folder (recursive), a JSONL manifest, or a single audio file.

    A manifest is read with the canonical reader (`tts.data.manifest`), which checks every
    line and that its audio file exists; only the audio paths are used here.
    """
    source = Path(source).expanduser()
    if source.is_dir():
        files = audio_files(source)
    elif source.suffix in (".jsonl", ".json"):
        files = [entry.audio for entry in read_manifest(source, check_audio=True)]
    elif source.suffix.lower() in AUDIO_SUFFIXES and source.is_file():
        files = [source]
    else:
        raise ManifestError(
            f"training data {source} is not a folder, a .jsonl manifest or an audio file"
        )
    if not files:
        raise ManifestError(f"no audio files ({', '.join(AUDIO_SUFFIXES)}) found in {source}")
    return files


class RandomCrops(Dataset):
    """`dataset[i]` = a mono float32 crop [crop_samples] at `sample_rate`, drawn from seed and i."""

    def __init__(
        self, files: list[Path], sample_rate: int, crop_samples: int, seed: int = 0
    ) -> None:
        self.files = list(files)
        self.sample_rate = sample_rate
        self.crop_samples = crop_samples
        self.seed = seed
        self._info: dict[int, tuple[int, int]] = {}  # file index -> (frames, sample rate)

    def __len__(self) -> int:  # indices are unbounded; the sampler decides which are used
        return 2**62

    def _file_info(self, k: int) -> tuple[int, int]:
        if k not in self._info:
            try:
                info = sf.info(str(self.files[k]))
            except Exception as exc:
                raise AudioInputError(f"cannot read training file {self.files[k]}: {exc}") from exc
            self._info[k] = (info.frames, info.samplerate)
        return self._info[k]

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, index])
        k = int(rng.integers(len(self.files)))
        frames, sr = self._file_info(k)
        # Read a little more than the crop at the file's own rate, then resample and trim.
        need = int(np.ceil(self.crop_samples * sr / self.sample_rate)) + 16
        start = int(rng.integers(0, max(1, frames - need + 1)))
        data, sr = sf.read(
            str(self.files[k]), start=start, frames=need, dtype="float32", always_2d=True
        )
        wav = resample(to_mono(data.T), sr, self.sample_rate)[: self.crop_samples]
        wav = np.pad(wav, (0, self.crop_samples - len(wav)))  # short files: zero padding
        return torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))


class ShardCrops(Dataset):
    """`dataset[i]` = (wav [crop_frames * hop], codes [K, crop_frames], units [crop_frames]):
    a crop of a tokenised utterance, its codes as the shards hold them and its semantic units;
    with `speakers`, also a speaker embedding [D]: that of another utterance of the same voice
    (drawn from the same splits), as synthesis gives the decoder a reference clip's embedding,
    not the embedding of the words it is decoding; with `languages`, last, the utterance's
    language id (a 0-d long tensor; `tts.labels.LANGUAGES`); with `phonemes` (per audio
    path as the shards recorded it, the [2, F] phoneme frames of the whole utterance:
    `tts.forced_align`, recipes/align_phonemes.py), after all that the crop's
    [2, crop_frames]; only items it holds are drawn.

    With `audio` (a `tts.codecs.audio_pack.AudioPack`), the audio comes from the pack, keyed
    by the path each shard recorded, instead of from that path (a machine without the corpus);
    only the items it holds are drawn, and `pitch(i)` gives crop i's pitch targets from it.

    For training a decoder that reads units (`CodecConfig.n_units`): the codes come from the
    shards (the codec that made them encoded whole utterances, as the LM's codes are made)
    instead of being encoded again per crop. Crops start on a frame boundary of the audio
    resampled to `sample_rate`, the framing the shards were encoded with. Only items of
    `splits` at least `crop_frames` long are drawn; like `RandomCrops`, item i is a pure
    function of (seed, i).
    """

    def __init__(
        self,
        root: str | Path,
        sample_rate: int,
        hop: int,
        crop_frames: int,
        splits: tuple[str, ...] | None = ("train",),
        seed: int = 0,
        speakers: bool = False,
        audio: AudioPack | None = None,
        languages: bool = False,
        phonemes: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        from tts.data.shards import ShardDataset  # tts.data imports tts.codecs

        self.items = ShardDataset(root, splits=splits, semantic=True)
        self.embeddings = self.items.speaker_embeddings() if speakers else None
        self.voices = self.items.speaker_ids()
        self.same_voice: dict[str, list[int]] = {}
        for k, voice in enumerate(self.voices):
            self.same_voice.setdefault(voice, []).append(k)
        rate = float(self.items.codec_info["frame_rate"])
        if abs(rate * hop - sample_rate) > 1e-6 * sample_rate:
            raise ConfigError(
                f"{root} holds codes at {rate:g} frames/s but this codec makes "
                f"{sample_rate / hop:g}"
            )
        self.sample_rate, self.hop = sample_rate, hop
        self.crop_frames, self.seed = crop_frames, seed
        self.languages = languages
        self.usable = [i for i, n in enumerate(self.items.frames) if n >= crop_frames]
        self.audio = audio
        if audio is not None:
            if audio.sample_rate != sample_rate:
                raise ConfigError(
                    f"the audio pack {audio.root} holds {audio.sample_rate} Hz audio; this "
                    f"codec runs at {sample_rate}"
                )
            self.usable = [i for i in self.usable if self.items.audio_path(i) in audio]
        self.phonemes = phonemes
        if phonemes is not None:
            self.usable = [i for i in self.usable if self.items.audio_path(i) in phonemes]
        if not self.usable:
            held = "" if audio is None else f" and in the audio pack {audio.root}"
            held += "" if phonemes is None else " with phoneme frames"
            raise ManifestError(f"no utterance in {root} ({splits}){held} has {crop_frames} frames")

    def __len__(self) -> int:
        return 2**62

    def locate(self, index: int) -> tuple[int, int]:
        """(item of `items`, first frame) that crop `index` cuts."""
        rng = np.random.default_rng([self.seed, index])
        k = self.usable[int(rng.integers(len(self.usable)))]
        return k, int(rng.integers(0, self.items.frames[k] - self.crop_frames + 1))

    def other_utterance(self, index: int) -> int:
        """An item by crop `index`'s voice other than its own (its own if it has no other)."""
        k, _ = self.locate(index)
        others = [j for j in self.same_voice[self.voices[k]] if j != k] or [k]
        rng = np.random.default_rng([self.seed, index, 1])
        return others[int(rng.integers(len(others)))]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        k, start = self.locate(index)
        frames = slice(start, start + self.crop_frames)
        if self.audio is not None:
            wav = self.audio.audio(self.items.audio_path(k))
        else:
            wav, sr = load_audio(self.items.audio_path(k))
            wav = resample(wav, sr, self.sample_rate)
        crop = wav[frames.start * self.hop : frames.stop * self.hop]
        crop = np.pad(crop, (0, self.crop_frames * self.hop - len(crop)))  # the last frame's pad
        item = self.items[k]
        codes = item.codes[:, frames]
        out: tuple[torch.Tensor, ...] = (
            torch.from_numpy(np.ascontiguousarray(crop, np.float32)),
            codes[1:],
            codes[0],
        )
        if self.embeddings is not None:
            out += (self.embeddings[self.other_utterance(index)],)
        if self.languages:
            out += (torch.tensor(item.language),)
        if self.phonemes is not None:
            key = self.items.audio_path(k)
            frames_of = np.asarray(self.phonemes[key])
            if frames_of.shape != (2, self.items.frames[k]):
                raise ManifestError(
                    f"phoneme frames of {key} are shaped {frames_of.shape}, its codes have "
                    f"{self.items.frames[k]} frames: align the same shards again"
                )
            out += (torch.from_numpy(frames_of[:, frames].astype(np.int64)),)
        return out

    def pitch(self, index: int, hop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(F0 Hz, voiced 0/1) per `hop` samples of crop `index`, from the audio pack (computed
        there on the whole clean utterance); frames past the utterance's end are unvoiced."""
        if self.audio is None or self.audio.hop != hop or self.hop % hop:
            raise ConfigError(
                f"crop pitch needs an audio pack with a hop of {hop} samples dividing {self.hop}"
            )
        k, start = self.locate(index)
        f0, voiced = self.audio.pitch(self.items.audio_path(k))
        per_frame = self.hop // hop
        first, n = start * per_frame, self.crop_frames * per_frame
        f0, voiced = f0[first : first + n], voiced[first : first + n]
        pad = n - len(f0)
        edge = f0[-1] if len(f0) else 0.0  # the contour continues; voicing stops
        f0 = np.pad(f0, (0, pad), constant_values=edge)
        voiced = np.pad(voiced, (0, pad))
        return torch.from_numpy(f0.astype(np.float32)), torch.from_numpy(voiced.astype(np.float32))


class StepSampler(Sampler[int]):
    """Endless global sample indices for one rank, starting at a given optimisation step.

    Step s on rank r uses indices (s * world + r) * batch ... + batch - 1, so ranks never
    share a crop and every step's batch is fixed no matter when the run was resumed.
    """

    def __init__(
        self, batch_size: int, start_step: int = 0, rank: int = 0, world_size: int = 1
    ) -> None:
        self.batch_size, self.start_step, self.rank, self.world_size = (
            batch_size,
            start_step,
            rank,
            world_size,
        )

    def __iter__(self) -> Iterator[int]:
        step = self.start_step
        while True:
            first = (step * self.world_size + self.rank) * self.batch_size
            yield from range(first, first + self.batch_size)
            step += 1
