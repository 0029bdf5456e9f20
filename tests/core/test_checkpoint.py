import json

import pytest
import torch

from tts.checkpoint import (
    load_checkpoint,
    load_state_into,
    read_checkpoint_config,
    safe_torch_load,
    save_checkpoint,
)
from tts.errors import CheckpointError


def test_save_and_load_round_trip(tmp_path):
    model = torch.nn.Linear(3, 2)
    save_checkpoint(tmp_path / "ck", model.state_dict(), "linear", {"in": 3, "out": 2}, note="hi")
    assert (tmp_path / "ck" / "model.safetensors").is_file()
    state, payload = load_checkpoint(tmp_path / "ck", kind="linear")
    assert payload["config"] == {"in": 3, "out": 2} and payload["note"] == "hi"
    fresh = torch.nn.Linear(3, 2)
    load_state_into(fresh, state, "ck")
    assert torch.equal(fresh.weight, model.weight)


def test_tied_weights_can_be_saved(tmp_path):
    emb = torch.nn.Embedding(5, 4)
    head = torch.nn.Linear(4, 5, bias=False)
    head.weight = emb.weight  # shared storage, which plain safetensors refuses
    state = {"emb.weight": emb.weight, "head.weight": head.weight}
    save_checkpoint(tmp_path, state, "tied", {})
    loaded, _ = load_checkpoint(tmp_path)
    assert torch.equal(loaded["emb.weight"], loaded["head.weight"])


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint_config(tmp_path / "missing")
    (tmp_path / "a").mkdir()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        read_checkpoint_config(tmp_path / "a")
    (tmp_path / "a" / "config.json").write_text("{oops")
    with pytest.raises(CheckpointError, match="corrupt"):
        read_checkpoint_config(tmp_path / "a")
    (tmp_path / "a" / "config.json").write_text(json.dumps({"kind": "codec", "config": {}}))
    with pytest.raises(CheckpointError, match="'codec' checkpoint"):
        read_checkpoint_config(tmp_path / "a", kind="lm")
    with pytest.raises(CheckpointError, match="model.safetensors is missing"):
        load_checkpoint(tmp_path / "a")
    (tmp_path / "a" / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(tmp_path / "a")


def test_mismatched_state_is_reported(tmp_path):
    save_checkpoint(tmp_path, torch.nn.Linear(3, 2).state_dict(), "x", {})
    state, _ = load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="does not match"):
        load_state_into(torch.nn.Linear(3, 2, bias=False), state, "x")


class _Evil:
    def __reduce__(self):
        return (print, ("pickle code ran",))


def test_safe_torch_load_refuses_pickled_objects(tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "plain.pt")
    assert torch.equal(safe_torch_load(tmp_path / "plain.pt")["w"], torch.ones(2))
    torch.save({"obj": _Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="allow_unsafe_pickle"):
        safe_torch_load(tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        safe_torch_load(tmp_path / "none.pt")


def test_shape_mismatch_is_a_checkpoint_error(tmp_path):
    save_checkpoint(tmp_path, torch.nn.Linear(3, 2).state_dict(), "x", {})
    state, _ = load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="does not match"):
        load_state_into(torch.nn.Linear(4, 2), state, "x")
