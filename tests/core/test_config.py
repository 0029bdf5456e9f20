from dataclasses import dataclass, field

import pytest

from tts.config import apply_overrides, config_from_dict, config_to_dict, load_config, save_config
from tts.errors import ConfigError


@dataclass
class Inner:
    n_layer: int = 2
    dims: tuple[int, ...] = (4, 8)


@dataclass
class Outer:
    name: str = "tiny"
    lr: float = 1e-3
    inner: Inner = field(default_factory=Inner)
    maybe: Inner | None = None


def test_round_trip_through_json(tmp_path):
    cfg = Outer(name="x", lr=3e-4, inner=Inner(n_layer=5, dims=(1, 2, 3)), maybe=Inner(n_layer=9))
    save_config(cfg, tmp_path / "c.json")
    back = load_config(Outer, tmp_path / "c.json")
    assert back == cfg
    assert isinstance(back.inner, Inner) and isinstance(back.maybe, Inner)
    assert back.inner.dims == (1, 2, 3)


def test_unknown_key_is_rejected_and_named():
    with pytest.raises(ConfigError, match="n_layers"):
        config_from_dict(Outer, {"inner": {"n_layers": 3}})


def test_bad_json_and_missing_file(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(Outer, tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="not found"):
        load_config(Outer, tmp_path / "nope.json")


def test_overrides_parse_json_values_and_nested_keys():
    cfg = apply_overrides(Outer(), ["lr=0.5", "inner.n_layer=7", "name=big"])
    assert cfg.lr == 0.5 and cfg.inner.n_layer == 7 and cfg.name == "big"
    assert config_to_dict(cfg)["inner"]["n_layer"] == 7
    with pytest.raises(ConfigError, match="unknown key"):
        apply_overrides(Outer(), ["inner.depth=3"])
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides(Outer(), ["lr"])
