import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tts.delay import SpecialCodes, apply_delay, check_codes, delayed_targets, undo_delay
from tts.errors import AudioInputError

SPECIAL = SpecialCodes(16)


def test_special_ids_follow_the_real_codes():
    assert (SPECIAL.eos, SPECIAL.pad, SPECIAL.bos) == (16, 17, 18)
    assert SPECIAL.input_vocab == 19 and SPECIAL.output_vocab == 17


def test_delay_layout_matches_the_documented_example():
    codes = torch.tensor([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
    delayed = apply_delay(codes, torch.tensor([3]), SPECIAL)[0]
    e, p, b = SPECIAL.eos, SPECIAL.pad, SPECIAL.bos
    expected = torch.tensor(
        [
            [1, 2, 3, e, p, p],
            [b, 4, 5, 6, e, p],
            [b, b, 7, 8, 9, e],
        ]
    )
    assert torch.equal(delayed, expected)
    targets = delayed_targets(delayed, SPECIAL)
    assert (targets == -100).sum() == (delayed == p).sum() + (delayed == b).sum()
    assert (targets == e).sum() == 3


@settings(max_examples=60, deadline=None)
@given(
    n_codebooks=st.integers(1, 8),
    lengths=st.lists(st.integers(0, 12), min_size=1, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_apply_then_undo_is_identity(n_codebooks, lengths, seed):
    g = torch.Generator().manual_seed(seed)
    n_frames = max(lengths)
    codes = torch.randint(
        0, SPECIAL.codebook_size, (len(lengths), n_codebooks, n_frames), generator=g
    )
    delayed = apply_delay(codes, torch.tensor(lengths), SPECIAL)
    assert delayed.shape == (len(lengths), n_codebooks, n_frames + n_codebooks)
    for b, n in enumerate(lengths):
        assert torch.equal(undo_delay(delayed[b], n), codes[b, :, :n])
        for k in range(n_codebooks):
            row = delayed[b, k]
            assert (row[:k] == SPECIAL.bos).all()
            assert row[k + n] == SPECIAL.eos
            assert (row[k + n + 1 :] == SPECIAL.pad).all()


def test_undo_rejects_too_few_steps_and_bad_codes_are_named():
    with pytest.raises(AudioInputError, match="cannot hold"):
        undo_delay(torch.zeros(4, 5, dtype=torch.long), 3)
    with pytest.raises(AudioInputError, match=r"\[0, 16\)"):
        check_codes(torch.full((1, 2, 3), 16), 16)
    with pytest.raises(AudioInputError, match="codebooks"):
        check_codes(torch.zeros(1, 2, 3, dtype=torch.long), 16, n_codebooks=4)
    with pytest.raises(AudioInputError, match="integer tensor"):
        check_codes(torch.zeros(2, 3), 16)
