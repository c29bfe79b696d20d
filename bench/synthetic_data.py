"""Synthetic MARS-layout trees for the data benchmarks, and the config that loads them.

Trees are generated once per size inside the run's scratch folder (a few seconds each), so the
benchmarks read real JPEG files through the real dataset adapter.
"""
from __future__ import annotations

import os
from typing import Dict, Tuple

from yacs.config import CfgNode

from aitl_reid.config import get_default_config
from aitl_reid.synthetic import generate_synthetic_mars

_TREES: Dict[Tuple[str, int, int, int], str] = {}


def synthetic_root(workdir: str, num_ids: int, height: int, width: int) -> str:
    """Data root of a synthetic MARS tree with these sizes under ``workdir`` (generated on first use)."""
    key = (workdir, num_ids, height, width)
    if key not in _TREES:
        root = os.path.join(workdir, f"synthetic_{num_ids}ids_{height}x{width}")
        generate_synthetic_mars(root, num_ids=num_ids, height=height, width=width)
        _TREES[key] = root
    return _TREES[key]


def synthetic_config(root: str, height: int, width: int, workers: int, model: str = "asta_resnet18") -> CfgNode:
    """The default config pointed at a synthetic tree: mars_attr, ``height x width`` clips, ``workers`` loaders."""
    cfg = get_default_config()
    cfg.data.root = root
    cfg.data.sources = ["mars_attr"]
    cfg.data.targets = ["mars_attr"]
    cfg.data.height, cfg.data.width = height, width
    cfg.data.workers = workers
    cfg.model.name = model
    cfg.train.batch_size = 16  # P = 4 identities x K = 4 tracklets
    cfg.test.batch_size = 64
    return cfg
