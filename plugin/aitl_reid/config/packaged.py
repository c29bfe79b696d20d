"""The experiment configs shipped inside the package, found by name (detectron2's ``model_zoo.get_config_file``).

An installed wheel has no checkout to point ``--config-file`` at, so every config of the paper lives in
``aitl_reid/configs/`` (a checkout's top-level ``configs`` links to that folder) and a command accepts its name:
``asta_aitl_mars``, ``table1/itl_mars`` or ``configs/table1/itl_mars.yaml``. A file on disk wins when it exists.

    aitl-reid-configs          # one line per packaged config: its name and the first comment line of the file
"""
from __future__ import annotations

import argparse
import difflib
import os
from typing import List, Optional, Sequence, Tuple

from ..process_exit import as_command

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")
"""The packaged configs' folder."""
_SUFFIXES = (".yaml", ".yml")
_CHECKOUT_PREFIX = "configs/"  # a checkout's path, as the docs write it, run from another folder


def config_names() -> List[str]:
    """Names of every packaged config (``table1/itl_mars``), sorted, without the ``.yaml``."""
    names = []
    for folder, _, files in os.walk(CONFIG_DIR):
        for file_name in files:
            stem, suffix = os.path.splitext(file_name)
            if suffix in _SUFFIXES:
                relative = os.path.relpath(os.path.join(folder, stem), CONFIG_DIR)
                names.append(relative.replace(os.sep, "/"))
    return sorted(names)


def packaged_config(name: str) -> Optional[str]:
    """The packaged file a config name stands for (with or without ``.yaml``, ``configs/`` prefix allowed), or None."""
    name = name.strip().replace("\\", "/")
    if name.startswith(_CHECKOUT_PREFIX):
        name = name[len(_CHECKOUT_PREFIX):]
    relative = os.path.normpath(name)
    if not name or os.path.isabs(name) or relative.startswith(".."):
        return None
    candidates = [relative] if relative.endswith(_SUFFIXES) else [relative + suffix for suffix in _SUFFIXES]
    for candidate in candidates:
        path = os.path.join(CONFIG_DIR, candidate)
        if os.path.isfile(path):
            return path
    return None


def closest_names(name: str, count: int = 3) -> List[str]:
    """Packaged config names close to ``name`` (for "did you mean")."""
    stem = os.path.splitext(name.strip().replace("\\", "/"))[0]
    return difflib.get_close_matches(stem.removeprefix(_CHECKOUT_PREFIX), config_names(), n=count, cutoff=0.5)


def describe(path: str) -> str:
    """The first comment line of a config file (its one-line description), '' when it starts otherwise."""
    with open(path, "r", encoding="utf-8") as handle:
        first = handle.readline().strip()
    return first.lstrip("#").strip() if first.startswith("#") else ""


def config_table() -> List[Tuple[str, str]]:
    """``(name, description)`` of every packaged config."""
    return [(name, describe(packaged_config(name) or "")) for name in config_names()]


def build_parser() -> argparse.ArgumentParser:
    """``aitl-reid-configs`` (no arguments)."""
    return argparse.ArgumentParser(prog="aitl-reid-configs", description=__doc__.split("\n\n")[0])


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``aitl-reid-configs``: list the packaged configs, one line each."""
    build_parser().parse_args(argv)
    table = config_table()
    width = max(len(name) for name, _ in table)
    for name, description in table:
        print(f"{name:<{width}}  {description}")
    print(f"\n{len(table)} configs in {CONFIG_DIR}; pass a name to --config-file (e.g. --config-file {table[0][0]}). "
          "A config of your own may extend one by name: _BASE_: asta_aitl_mars.yaml")
    return 0


command = as_command(main)
"""``aitl-reid-configs``, the installed command (setup.py's console scripts)."""
