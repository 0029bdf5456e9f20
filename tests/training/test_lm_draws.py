"""recipes/lm_draws.py: a copy of token shards with some items' codes drawn by the LM, frame by
frame, given the true frames before (for a decoder that learns what the LM's codes mean)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tts.errors import ConfigError


def test_lm_draws_replace_the_chosen_items_codes_with_the_lms(
    base_run: dict, unit_shards: Path, tmp_path: Path
) -> None:
    from trainkit import load_script, unit_lm

    from tts.data.shards import ShardDataset

    unit_lm(base_run, unit_shards, tmp_path)  # a units LM bundle in tmp_path/lm/bundle
    bundle = tmp_path / "lm" / "bundle"
    recipe = load_script("recipes/lm_draws.py")
    common = ["--shards", str(unit_shards), "--model", str(bundle), "--threads", "1"]
    with pytest.raises(ConfigError, match="share"):
        recipe.main([*common, "--out", str(tmp_path / "x"), "--share", "1.5"])
    with pytest.raises(ConfigError, match="another folder"):
        recipe.main([*common, "--out", str(unit_shards)])
    result = recipe.main([*common, "--out", str(tmp_path / "a"), "--share", "0.5", "--seed", "1"])
    again = recipe.main([*common, "--out", str(tmp_path / "b"), "--share", "0.5", "--seed", "1"])
    other = recipe.main([*common, "--out", str(tmp_path / "c"), "--share", "0.5", "--seed", "2"])
    true = ShardDataset(unit_shards, semantic=True)
    drawn, same, different = (
        ShardDataset(tmp_path / name, semantic=True) for name in ("a", "b", "c")
    )
    n_train = sum(true[k].split == "train" for k in range(len(true)))
    n_valid = sum(true[k].split == "valid" for k in range(len(true)))
    assert result["drawn"] == round(0.5 * n_train) + n_valid
    n_units = 8  # the fixture's tokenizer
    replaced = 0
    for k in range(len(true)):
        a, b = true[k], drawn[k]
        assert b.codes.shape == a.codes.shape and torch.equal(b.phonemes, a.phonemes)
        assert b.split == a.split and b.line == a.line
        assert int(b.codes[0].max()) <= n_units and int(b.codes[1:].max()) < 16  # no specials
        assert torch.equal(same[k].codes, b.codes)  # reproducible by seed
        if torch.equal(a.codes, b.codes):
            assert a.split == "train"  # every valid item is drawn (and surely differs)
        else:
            replaced += 1
    assert replaced == result["drawn"]
    assert any(not torch.equal(different[k].codes, drawn[k].codes) for k in range(len(true)))
    assert len(result["agreement"]) == 3 and all(0 <= x <= 1 for x in result["agreement"])
    assert other["drawn"] == result["drawn"] and again == result
    # the copy keeps the index, codes_id included: it reads beside the true codes
    assert drawn.index["codec"] == true.index["codec"] and true.index["codec"]["codes_id"]
    assert len(ShardDataset([tmp_path / "a", unit_shards])) == 2 * len(true)
