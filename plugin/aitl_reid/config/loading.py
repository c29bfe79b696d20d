"""Load YAML configs with ``_BASE_`` inheritance and reject unknown keys with a suggestion.

yacs alone neither inherits nor tells the user which key they probably meant; both matter when
an ablation config states only what differs from a shared base file.
"""
from __future__ import annotations

import difflib
import os
from typing import Any, Dict, Iterable, List, Sequence

import yaml
from yacs.config import CfgNode as CN

BASE_KEY = "_BASE_"


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the file and key."""


def flat_keys(node: CN, prefix: str = "") -> List[str]:
    """All leaf keys of a config as dotted paths (``train.lr``)."""
    keys = []
    for name, value in node.items():
        path = f"{prefix}{name}"
        if isinstance(value, CN):
            keys.extend(flat_keys(value, path + "."))
        else:
            keys.append(path)
    return keys


def _unknown_key_message(key: str, valid: Sequence[str], source: str) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.0)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"{source}: unknown config key '{key}'{hint} (valid keys are listed by get_default_config())"


def _check_mapping(cfg: CN, mapping: Dict[str, Any], source: str, prefix: str = "") -> None:
    valid = flat_keys(cfg)
    for name, value in mapping.items():
        path = f"{prefix}{name}"
        target = _lookup(cfg, path)
        if target is _MISSING:
            section_keys = [k for k in valid if k.startswith(prefix)] or valid
            raise ConfigError(_unknown_key_message(path, section_keys, source))
        if isinstance(target, CN):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: key '{path}' is a section; give it a mapping of keys")
            _check_mapping(cfg, value, source, path + ".")


_MISSING = object()


def _lookup(cfg: CN, path: str) -> Any:
    node: Any = cfg
    for part in path.split("."):
        if not isinstance(node, CN) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _read_yaml_with_bases(path: str, seen: Iterable[str] = ()) -> List[Dict[str, Any]]:
    """Return the chain of mappings, base first, that a YAML file resolves to."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    if path in seen:
        raise ConfigError(f"{path}: circular {BASE_KEY} chain")
    with open(path, "r", encoding="utf-8") as handle:
        try:
            mapping = yaml.safe_load(handle) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: invalid YAML: {err}") from err
    if not isinstance(mapping, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    chain: List[Dict[str, Any]] = []
    base = mapping.pop(BASE_KEY, None)
    if base:
        base_path = os.path.join(os.path.dirname(path), base)
        chain.extend(_read_yaml_with_bases(base_path, tuple(seen) + (path,)))
    chain.append({"__file__": path, **mapping})
    return chain


def merge_from_file(cfg: CN, path: str) -> None:
    """Merge a YAML file (and the ``_BASE_`` files it extends) into ``cfg`` in place."""
    for mapping in _read_yaml_with_bases(path):
        source = mapping.pop("__file__")
        _check_mapping(cfg, mapping, source)
        cfg.merge_from_other_cfg(CN(mapping))


def merge_from_list(cfg: CN, opts: Sequence[str]) -> None:
    """Merge ``KEY VALUE`` pairs from the command line into ``cfg`` in place."""
    if len(opts) % 2:
        raise ConfigError(f"command-line overrides must be KEY VALUE pairs; got an odd list: {list(opts)}")
    valid = flat_keys(cfg)
    for key in opts[0::2]:
        if key not in valid:
            raise ConfigError(_unknown_key_message(key, valid, "command line"))
    cfg.merge_from_list(list(opts))
