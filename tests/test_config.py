"""Config loading: defaults documented, _BASE_ inheritance, unknown keys rejected with a suggestion."""
import re
from pathlib import Path

import pytest
import yaml

from aitl_reid.config import ConfigError, flat_keys, get_default_config, merge_from_file, merge_from_list

DEFAULTS_FILE = Path(__file__).resolve().parents[1] / "plugin" / "aitl_reid" / "config" / "defaults.py"
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def test_default_config_has_upstream_torchreid_sections():
    cfg = get_default_config()
    for section in ("model", "data", "sampler", "video", "train", "sgd", "adam", "rmsprop", "loss", "test"):
        assert section in cfg
    for key in ("model.name", "data.sources", "video.seq_len", "train.lr", "test.eval_freq", "sampler.num_instances"):
        assert key in flat_keys(cfg)


def test_every_default_key_has_a_one_line_comment():
    assignments = [line for line in DEFAULTS_FILE.read_text().splitlines() if re.match(r"\s+cfg\.[\w.]+ = (?!CN\(\))", line)]
    assert assignments
    uncommented = [line.strip() for line in assignments if "  # " not in line]
    assert uncommented == []


def test_unknown_command_line_key_names_closest_valid_key():
    cfg = get_default_config()
    with pytest.raises(ConfigError, match=r"unknown config key 'train\.lrr'.*did you mean 'train\.lr'"):
        merge_from_list(cfg, ["train.lrr", "0.1"])


def test_unknown_yaml_key_names_file_and_closest_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("video:\n  seq_lenn: 8\n")
    with pytest.raises(ConfigError) as err:
        merge_from_file(get_default_config(), str(path))
    assert str(path) in str(err.value) and "video.seq_len" in str(err.value)


def test_base_inheritance_applies_base_then_child(tmp_path):
    (tmp_path / "base.yaml").write_text("train:\n  lr: 0.01\n  max_epoch: 7\n")
    (tmp_path / "child.yaml").write_text("_BASE_: base.yaml\ntrain:\n  lr: 0.5\n")
    cfg = get_default_config()
    merge_from_file(cfg, str(tmp_path / "child.yaml"))
    assert cfg.train.lr == 0.5 and cfg.train.max_epoch == 7


def test_circular_base_chain_is_an_error(tmp_path):
    (tmp_path / "a.yaml").write_text("_BASE_: b.yaml\n")
    (tmp_path / "b.yaml").write_text("_BASE_: a.yaml\n")
    with pytest.raises(ConfigError, match="circular"):
        merge_from_file(get_default_config(), str(tmp_path / "a.yaml"))


def test_odd_override_list_is_an_error():
    with pytest.raises(ConfigError, match="KEY VALUE pairs"):
        merge_from_list(get_default_config(), ["train.lr"])


def _leaves(mapping, prefix=""):
    """(dotted key, value) of every leaf of a YAML mapping, ``_BASE_`` left out."""
    for name, value in mapping.items():
        if name == "_BASE_":
            continue
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def _value(cfg, key):
    for part in key.split("."):
        cfg = cfg[part]
    return list(cfg) if isinstance(cfg, tuple) else cfg


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads_with_its_own_values_winning(path):
    cfg = get_default_config()
    merge_from_file(cfg, str(path))
    own = list(_leaves(yaml.safe_load(path.read_text()) or {}))
    assert own, "a config file states at least one setting"
    differing = [(key, value, _value(cfg, key)) for key, value in own if _value(cfg, key) != value]
    assert differing == []
