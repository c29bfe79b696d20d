"""Load YAML configs with ``_BASE_`` inheritance and reject unknown keys with a suggestion.

yacs alone neither inherits nor tells the user which key they probably meant; both matter when
an ablation config states only what differs from a shared base file. Every problem with a file or
an override, including those yacs finds (a value of the wrong type), is a :class:`ConfigError`
naming the file (or the command line) and the key. A config is a file or the name of a packaged one
(:mod:`aitl_reid.config.packaged`), and so is a ``_BASE_`` that is not beside the file extending it.
"""
from __future__ import annotations

import ast
import difflib
import os
from typing import Any, Dict, Iterable, List, Sequence

import yaml
from yacs.config import CfgNode as CN

from ..serialization import read_text
from .packaged import closest_names, packaged_config

BASE_KEY = "_BASE_"
# what yacs raises for a value it cannot take: a type mismatch (ValueError), a type it never holds
# (AssertionError from its checks), an override literal Python cannot hash or nest that deep
_YACS_VALUE_ERRORS = (ValueError, TypeError, KeyError, AssertionError, RecursionError)


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the file and key."""


RELEASED_CONFIG = "released_code"  # packaged config: the authors' released implementation's choices


def _override_text(value: Any) -> str:
    """How a YAML value is written as a ``KEY VALUE`` override: strings as they are unless yacs would read them as
    another type (quoted then), lists and numbers as Python literals."""
    if isinstance(value, str):
        try:
            ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    return repr(value)


def own_sections(path: str, sections: Sequence[str]) -> List[str]:
    """``KEY VALUE`` pairs of what the file itself states under the dotted ``sections`` (its ``_BASE_`` left out):
    how another config takes over one file's switches, with that file as their one source."""
    text = read_text(resolve_config(path), "utf-8", ConfigError, "save the file as UTF-8")
    mapping = yaml.safe_load(text) or {}
    pairs: List[str] = []

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for name, value in node.items():
                walk(value, f"{prefix}.{name}")
        else:
            pairs.extend([prefix, _override_text(node)])

    for section in sections:
        node: Any = mapping
        for part in section.split("."):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        walk(node, section)
    return pairs


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


def _check_mapping(node: CN, mapping: Dict[Any, Any], source: str, valid: Sequence[str], prefix: str = "") -> None:
    """Every key of ``mapping`` (nested sections included) names a key of ``node``; a section gets a mapping."""
    for name, value in mapping.items():
        path = f"{prefix}{name}"
        if not isinstance(name, str) or name not in node:
            section_keys = [k for k in valid if k.startswith(prefix)] or list(valid)
            raise ConfigError(_unknown_key_message(path, section_keys, source))
        target = node[name]
        if isinstance(target, CN):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: key '{path}' is a section; give it a mapping of keys")
            _check_mapping(target, value, source, valid, path + ".")


def resolve_config(name_or_path: str) -> str:
    """``name_or_path`` when it is a file, else the packaged config of that name (``asta_aitl_mars``,
    ``table1/itl_mars.yaml``); a :class:`ConfigError` naming both places and the closest names otherwise."""
    if os.path.isfile(name_or_path):
        return name_or_path
    packaged = packaged_config(name_or_path)
    if packaged is not None:
        return packaged
    close = closest_names(name_or_path)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(f"config file not found: {os.path.abspath(name_or_path)}, and no packaged config is named "
                      f"'{name_or_path}'{hint} (aitl-reid-configs lists them)")


def _read_yaml_with_bases(path: str, seen: Iterable[str] = ()) -> List[Dict[str, Any]]:
    """Return the chain of mappings, base first, that a YAML file (or packaged config name) resolves to."""
    path = os.path.abspath(resolve_config(path))
    if path in seen:
        raise ConfigError(f"{path}: circular {BASE_KEY} chain")
    text = read_text(path, "utf-8", ConfigError, "save the file as UTF-8")
    try:
        mapping = yaml.safe_load(text) or {}
    except (yaml.YAMLError, ValueError, RecursionError) as err:  # a ValueError: a date like 2024-02-30
        raise ConfigError(f"{path}: invalid YAML: {err}") from None
    if not isinstance(mapping, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    chain: List[Dict[str, Any]] = []
    base = mapping.pop(BASE_KEY, None)
    if base is not None and not isinstance(base, str):
        raise ConfigError(f"{path}: {BASE_KEY} must be the path of one YAML file, got {base!r}")
    if base:
        base_path = os.path.join(os.path.dirname(path), base)
        if not os.path.isfile(base_path):  # a config of one's own may extend a packaged one by name
            packaged = packaged_config(base)
            if packaged is None:
                raise ConfigError(f"{path}: {BASE_KEY} {base!r} is neither a file beside it ({base_path}) nor a "
                                  "packaged config (aitl-reid-configs lists them)")
            base_path = packaged
        chain.extend(_read_yaml_with_bases(base_path, tuple(seen) + (path,)))
    chain.append({"__file__": path, **mapping})
    return chain


def merge_from_file(cfg: CN, path: str) -> None:
    """Merge a YAML file (and the ``_BASE_`` files it extends) into ``cfg`` in place."""
    valid = flat_keys(cfg)
    for mapping in _read_yaml_with_bases(path):
        source = mapping.pop("__file__")
        _check_mapping(cfg, mapping, source, valid)
        try:
            cfg.merge_from_other_cfg(CN(mapping))
        except _YACS_VALUE_ERRORS as err:
            raise ConfigError(f"{source}: {_yacs_message(err)}") from None


def merge_from_list(cfg: CN, opts: Sequence[str]) -> None:
    """Merge ``KEY VALUE`` pairs from the command line into ``cfg`` in place."""
    if len(opts) % 2:
        raise ConfigError(f"command line: overrides must be KEY VALUE pairs; got an odd list: {list(opts)}")
    valid = flat_keys(cfg)
    for key in opts[0::2]:
        if key not in valid:
            raise ConfigError(_unknown_key_message(str(key), valid, "command line"))
    try:
        cfg.merge_from_list(list(opts))
    except _YACS_VALUE_ERRORS as err:
        raise ConfigError(f"command line: {_yacs_message(err)}") from None


def _yacs_message(err: Exception) -> str:
    """yacs's text (e.g. "Type mismatch ... for config key: train.lr"), with what to do for a type mismatch."""
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    if text.startswith("Type mismatch"):
        text += " (give a value of the default's type, e.g. 1.0 rather than 1 for a float key)"
    return text or type(err).__name__
