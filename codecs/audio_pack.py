"""Many utterances as one Opus stream, with their pitch targets: training audio small enough
to carry to a machine that has no copy of the corpus.

Why: a lent GPU (the `device` tool) takes at most 64 MiB with the working tree, and 24 kHz
16-bit audio is 173 MB an hour; Ogg Opus at 48 kbit/s is 22 MB, at 16 kbit/s 7 MB. One stream
for all utterances avoids a container header per clip.

The bitrate is a trade of hours against fidelity, and Opus's loss is learned: v13's decoder,
trained 600 more steps on the same 2,201 utterances packed at 16 and at 128 kbit/s, decoded the
valid split with a multi-resolution log-mel L1 of 0.699 and 0.605 against the clean audio
(before: 0.607). 16 kbit/s taught it Opus's own spectral errors (the stream itself is 0.38 from
the clean audio there; at 48 kbit/s 0.20, at 64 0.12).

The pitch targets of the source-filter decoder (WORLD's F0 and voicing,
`source_filter.pitch_targets`) are computed here from the clean audio, once per whole
utterance, so the machine that trains needs neither pyworld nor the time.

Lossless packs (kbps=0: 16-bit FLAC, about 207 kbit/s on this speech) are for validation
audio, a few minutes that a run measures its decoder against: measured against Opus audio,
a decoder that learns Opus's errors looks better while it moves away from the clean speech
(a device run: 0.611 -> 0.582 on 50 Opus-coded valid utterances, 0.683 -> 0.721 on the clean
valid and test audio).

A pack folder holds:
  audio.opus         every utterance back to back at `sample_rate` (audio.flac when lossless)
  pack.json          keys (the audio path each shard recorded), starts and lengths in samples,
                     the pitch frame hop, the bitrate asked for
  pitch.safetensors  f0 (Hz, float16) and voiced (0/1, uint8) per hop of every utterance,
                     concatenated in the same order (`pitch_starts` in pack.json)

    write_audio_pack(out, [(key, wav), ...], sample_rate=24000, hop=240, kbps=48)
    pack = AudioPack(out)          # decodes the whole stream once, into memory
    wav = pack.audio(key)          # float32 [samples]
    f0, voiced = pack.pitch(key)   # float32 [len // hop] each
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from tts.errors import AudioInputError, ConfigError

FORMAT_VERSION = 1
OPUS_FILE, LOSSLESS_FILE = "audio.opus", "audio.flac"  # (pack.json's "file"; before it: Opus)
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)  # the rates an Opus stream is coded at


def opus_level(kbps: float) -> float:
    """libsndfile's compression level (0..1) for about `kbps` kbit/s of mono Opus.

    libsndfile maps the level linearly from 256 kbit/s (0) down to 6 kbit/s (1); measured on
    speech it lands within a kbit/s or two of this (variable bitrate)."""
    if not 6.0 <= kbps <= 256.0:
        raise ConfigError(f"Opus bitrate must lie in 6..256 kbit/s (0: lossless), got {kbps}")
    return 1.0 - (kbps - 6.0) / 250.0


def write_audio_pack(
    out: str | Path,
    items: Iterable[tuple[str, np.ndarray]],
    sample_rate: int,
    hop: int,
    kbps: float = 48.0,
    progress: bool = True,
) -> dict:
    """Write `items` ((key, mono float32 wav at sample_rate), ...) as a pack folder in `out`.

    Keys must be unique. kbps=0: lossless (16-bit FLAC). Returns pack.json's content."""
    from tts.codecs.source_filter import pitch_targets  # pyworld: only packing needs it

    if kbps == 0:
        name, codec = LOSSLESS_FILE, {"format": "FLAC", "subtype": "PCM_16"}
    else:
        if sample_rate not in OPUS_RATES:
            raise ConfigError(f"Opus codes {OPUS_RATES} Hz audio, not {sample_rate}")
        codec = {"format": "OGG", "subtype": "OPUS", "compression_level": opus_level(kbps)}
        name = OPUS_FILE
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keys: list[str] = []
    seen: set[str] = set()  # (keys, for the duplicate check without a scan per utterance)
    starts, lengths, pitch_starts = [], [], []
    f0s, voiceds = [], []
    position = pitch_position = 0
    with sf.SoundFile(str(out / name), "w", samplerate=sample_rate, channels=1, **codec) as stream:
        for key, wav in tqdm(items, desc="packing audio", disable=not progress, unit="utt"):
            if key in seen:
                raise ConfigError(f"two utterances keyed {key!r}")
            seen.add(key)
            wav = np.asarray(wav, dtype=np.float32)
            if wav.ndim != 1 or not len(wav):
                raise AudioInputError(f"{key}: a pack takes non-empty mono audio")
            f0, voiced = pitch_targets(wav, sample_rate, hop)
            stream.write(np.clip(wav, -1.0, 1.0))
            keys.append(key)
            starts.append(position)
            lengths.append(len(wav))
            pitch_starts.append(pitch_position)
            f0s.append(f0)
            voiceds.append(voiced)
            position += len(wav)
            pitch_position += len(f0)
    if not keys:
        raise ConfigError("nothing to pack")
    save_file(
        {
            "f0": torch.from_numpy(np.concatenate(f0s)).half(),
            "voiced": torch.from_numpy(np.concatenate(voiceds)).to(torch.uint8),
        },
        str(out / "pitch.safetensors"),
    )
    info = {
        "format": FORMAT_VERSION,
        "sample_rate": sample_rate,
        "hop": hop,
        "kbps": kbps,
        "file": name,
        "seconds": position / sample_rate,
        "keys": keys,
        "starts": starts,
        "lengths": lengths,
        "pitch_starts": pitch_starts,
    }
    (out / "pack.json").write_text(json.dumps(info))
    return info


class AudioPack:
    """A pack folder read back: the whole stream is decoded once, at construction."""

    def __init__(self, root: str | Path) -> None:
        root = Path(root)
        try:
            info = json.loads((root / "pack.json").read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{root} is not an audio pack (pack.json: {exc})") from exc
        if info.get("format") != FORMAT_VERSION:
            raise ConfigError(f"{root}: audio pack format {info.get('format')}, expected 1")
        audio = root / info.get("file", OPUS_FILE)
        if audio.name not in (OPUS_FILE, LOSSLESS_FILE):
            raise ConfigError(f"{root}: pack.json names {audio.name}, not an audio pack's file")
        try:
            self.wav, sr = sf.read(str(audio), dtype="float32")
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioInputError(f"cannot decode {audio}: {exc}") from exc
        pitch = load_file(str(root / "pitch.safetensors"))
        self.root = root
        self.sample_rate, self.hop = int(info["sample_rate"]), int(info["hop"])
        if sr != self.sample_rate or len(self.wav) != sum(info["lengths"]):
            raise AudioInputError(
                f"{audio} decodes to {len(self.wav)} samples at {sr} Hz; "
                f"pack.json says {sum(info['lengths'])} at {self.sample_rate} Hz"
            )
        self.f0 = pitch["f0"].float().numpy()
        self.voiced = pitch["voiced"].float().numpy()
        self._where = {
            key: (start, length, pitch_start)
            for key, start, length, pitch_start in zip(
                info["keys"], info["starts"], info["lengths"], info["pitch_starts"], strict=True
            )
        }

    def __contains__(self, key: str) -> bool:
        return key in self._where

    def __len__(self) -> int:
        return len(self._where)

    def keys(self) -> list[str]:
        return list(self._where)

    def audio(self, key: str) -> np.ndarray:
        """The utterance's samples (a view into the decoded stream)."""
        start, length, _ = self._locate(key)
        return self.wav[start : start + length]

    def pitch(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(F0 in Hz, voiced 0/1) per `hop` samples of the utterance, as `pitch_targets` gives
        them for the whole clean utterance: frame m is centred at (m + 1/2) * hop."""
        _, length, first = self._locate(key)
        frames = slice(first, first + length // self.hop)
        return self.f0[frames], self.voiced[frames]

    def _locate(self, key: str) -> tuple[int, int, int]:
        try:
            return self._where[key]
        except KeyError:
            raise KeyError(f"{key} is not in the audio pack {self.root}") from None
