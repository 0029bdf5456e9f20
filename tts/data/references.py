"""Condition each training item on another utterance of its speaker.

Synthesis conditions the LM on the speaker embedding of a reference clip, which is never the
utterance being spoken, and usually a neutral one while the label asks for an emotion. An LM
trained on each utterance's own embedding learns to read that utterance's particulars from it
(its emotion's pitch and voice quality, its sentence, its recording), which no reference clip
gives it at inference. `OtherUtterance` wraps a `ShardDataset` and swaps every item's embedding
for that of another utterance of the same speaker in the same dataset (a neutral one when the
speaker has any), so the embedding can carry only what all of the voice's clips share.

The draw for item i in epoch e is a pure function of (seed, e, i): a resumed run sees the
same references, and DataLoader workers agree with the main process.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace

from torch.utils.data import Dataset

from tts.data.shards import ShardDataset, ShardItem
from tts.errors import ConfigError

REFERENCE_MODES = ("self", "other")  # TrainConfig.speaker_reference


class OtherUtterance(Dataset):
    """`dataset`'s items, each with the speaker embedding of another of its speaker's
    utterances: a neutral one (intensity 0 or the neutral label) when the speaker has a
    neutral utterance other than the item itself, else any other one; its own only when the
    speaker has a single utterance."""

    def __init__(self, dataset: ShardDataset, seed: int = 0) -> None:
        if len(dataset) == 0:
            raise ConfigError("no items to draw references from")
        self.dataset = dataset
        self.seed = seed
        self.epoch = 0
        self.embeddings = dataset.speaker_embeddings()  # [N, D], read once
        self._speaker = dataset.speaker_ids()
        is_neutral = dataset.neutral_flags()
        # per speaker: its items, and its neutral items, with each item's place in the list
        self._pools: dict[str, list[tuple[list[int], dict[int, int]]]] = {}
        by_speaker: dict[str, list[int]] = defaultdict(list)
        for index, speaker in enumerate(self._speaker):
            by_speaker[speaker].append(index)
        for speaker, items in by_speaker.items():
            neutral = [i for i in items if is_neutral[i]]
            self._pools[speaker] = [
                (pool, {item: place for place, item in enumerate(pool)})
                for pool in (neutral, items)
            ]

    def __len__(self) -> int:
        return len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        """References change from epoch to epoch (set before the epoch's loader is made)."""
        self.epoch = epoch

    def reference_index(self, index: int) -> int:
        """The item whose embedding item `index` is conditioned on in the current epoch."""
        rng = random.Random(f"{self.seed}:{self.epoch}:{index}")  # str seeds hash stably
        for pool, places in self._pools[self._speaker[index]]:  # neutral ones first
            own = places.get(index)  # the item's place in the pool (None: not in it)
            n = len(pool) - (own is not None)
            if n > 0:
                r = rng.randrange(n)
                return pool[r + 1 if own is not None and r >= own else r]
        return index

    def __getitem__(self, index: int) -> ShardItem:
        item = self.dataset[index]
        speaker = self.embeddings[self.reference_index(index)].to(item.speaker.dtype)
        return replace(item, speaker=speaker)
