"""Training conditions each item on another utterance of its speaker (tts.data.references)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from test_train import _resume_config

from tts.data.references import OtherUtterance
from tts.data.shards import ShardDataset
from tts.errors import ConfigError
from tts.trainer import TrainConfig, train


@dataclass
class _Item:
    speaker: torch.Tensor


class _Items:
    """A stand-in dataset: item i's embedding is [i, i] so a draw names its source."""

    def __init__(self, speakers: list[str], neutral: list[bool]) -> None:
        self._speakers, self._neutral = speakers, neutral

    def __len__(self) -> int:
        return len(self._speakers)

    def __getitem__(self, i: int) -> _Item:
        return _Item(torch.full((2,), float(i)))

    def speaker_embeddings(self) -> torch.Tensor:
        return torch.arange(len(self)).float()[:, None].repeat(1, 2)

    def speaker_ids(self) -> list[str]:
        return list(self._speakers)

    def neutral_flags(self) -> list[bool]:
        return list(self._neutral)


def test_references_are_other_neutral_utterances_of_the_same_speaker() -> None:
    speakers = ["a", "a", "a", "a", "b", "b", "c", "d", "d"]
    neutral = [True, False, True, False, False, False, True, True, False]
    items = OtherUtterance(_Items(speakers, neutral), seed=3)  # type: ignore[arg-type]
    drawn: dict[int, set[int]] = {i: set() for i in range(len(items))}
    for epoch in range(40):
        items.set_epoch(epoch)
        for i in range(len(items)):
            ref = items.reference_index(i)
            assert int(items[i].speaker[0]) == ref  # the item carries the drawn embedding
            drawn[i].add(ref)
    # a: the neutral items 0 and 2 draw each other; its emotional items draw both neutral ones
    assert drawn[0] == {2} and drawn[2] == {0}
    assert drawn[1] == {0, 2} and drawn[3] == {0, 2}
    # b has no neutral utterance: any other one; c has a single one: its own
    assert drawn[4] == {5} and drawn[5] == {4} and drawn[6] == {6}
    # d's only neutral item has no other neutral one: it falls back to the other utterance
    assert drawn[7] == {8} and drawn[8] == {7}
    # a pure function of (seed, epoch, item): the same draws again, others with another seed
    items.set_epoch(5)
    again = OtherUtterance(_Items(speakers, neutral), seed=3)  # type: ignore[arg-type]
    again.set_epoch(5)
    assert [items.reference_index(i) for i in range(9)] == [
        again.reference_index(i) for i in range(9)
    ]
    firsts = []
    for seed in range(8):
        other = OtherUtterance(_Items(speakers, neutral), seed=seed)  # type: ignore[arg-type]
        firsts.append(other.reference_index(1))
    assert set(firsts) == {0, 2}


def test_shard_references_stay_within_the_speaker(tokens: Path) -> None:
    dataset = ShardDataset(tokens, ["train"])
    items = OtherUtterance(dataset, seed=0)
    speakers = dataset.speaker_ids()
    assert len(set(speakers)) == 2 and all(dataset.neutral_flags())  # the fixture's corpus
    own = dataset.speaker_embeddings()
    for i in range(len(items)):
        ref = items.reference_index(i)
        assert ref != i and speakers[ref] == speakers[i]
        assert torch.equal(items[i].speaker.float(), own[ref])
        assert torch.equal(items[i].codes, dataset[i].codes)  # only the embedding changes


def test_training_with_other_references_resumes_exactly(tokens: Path, tmp_path: Path) -> None:
    def config() -> TrainConfig:
        cfg = _resume_config(tokens)
        cfg.speaker_reference = "other"
        return cfg

    straight = train(config(), tmp_path / "a", progress=False)
    train(config(), tmp_path / "b", stop_after=4, progress=False)
    resumed = train(config(), tmp_path / "b", progress=False)
    a, b = straight["model"].state_dict(), resumed["model"].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    own = train(_resume_config(tokens), tmp_path / "c", progress=False)["model"].state_dict()
    assert not all(torch.equal(a[k], own[k]) for k in a)  # the references did change the run
    with pytest.raises(ConfigError, match="speaker_reference"):
        TrainConfig(speaker_reference="mean")
