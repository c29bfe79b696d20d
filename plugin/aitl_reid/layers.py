"""The package's layers, lowest first: a module imports only from its own layer or the ones below.

Written down here so that a test (``tests/test_package_structure.py``) can walk every import of every
module, function-level imports included, and fail on one that points up. Each entry is a top-level
module or subpackage of ``aitl_reid``; ``""`` is the package itself (``aitl_reid/__init__.py``, which
imports the subpackages to register them with torchreid).
"""
from __future__ import annotations

from typing import Tuple

LAYERS: Tuple[Tuple[str, ...], ...] = (
    # schema and config, and the plumbing every layer may use
    ("schema", "config", "layers", "_torchreid", "registry", "serialization", "pickle_scan", "progress", "console_log",
     "distributed", "launch", "folder_lock", "environment", "process_exit"),
    # data, models, losses, metrics (evaluation: the dense-clip evaluation both the engine and inference use)
    ("data", "models", "losses", "metrics", "evaluation", "synthetic"),
    # engine (run_folder: a run's folder and checkpoints, which the engine writes and inference reads)
    ("engine", "run_folder"),
    # inference, experiments, viz
    ("inference", "experiments", "viz", "footage"),
    # the commands
    ("train", "infer", "export", "convert", "demo", "track", "search", ""),
)


def layer_of(module: str) -> int:
    """The layer index of ``aitl_reid[.<part>[...]]``, from its top-level part; raises for a part in no layer."""
    if module != "aitl_reid" and not module.startswith("aitl_reid."):
        raise ValueError(f"{module} is not a module of aitl_reid")
    part = module.split(".")[1] if "." in module else ""
    for index, parts in enumerate(LAYERS):
        if part in parts:
            return index
    raise ValueError(f"aitl_reid.{part} is in no layer of aitl_reid.layers.LAYERS: add it to the layer it belongs to")
