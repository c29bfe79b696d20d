"""A trained run as the figure tools need it: its config, data manager and model with its weights.

The attention and ranked-results tools both start from "this config, this checkpoint"; the checkpoint
rules (latest by default, strict shape match) are :mod:`aitl_reid.run_folder`'s, shared with the
trainer and inference.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Sequence

import torch
from yacs.config import CfgNode

from ..data import VideoAttributeDataManager, build_datamanager
from ..models import build_model_from_config
from ..run_folder import RunError, find_checkpoint, load_checkpoint, load_weights_into, metrics_path, model_weights


@dataclass
class LoadedRun:
    """What a figure tool works on; ``model`` is in eval mode on ``device``."""

    cfg: CfgNode
    datamanager: VideoAttributeDataManager
    model: torch.nn.Module
    device: torch.device
    weights: str  # the checkpoint path, or "random" for random weights


def default_checkpoint(save_dir: str) -> str:
    """The run's latest checkpoint, or an error saying how to get one."""
    try:
        return find_checkpoint(save_dir, "latest")
    except RunError as err:
        raise RunError(f"{err} Train the config first (aitl-reid-train), pass --checkpoint, or use --random-weights") from None


def load_run(cfg: CfgNode, checkpoint: str = "", random_weights: bool = False) -> LoadedRun:
    """Build the data manager and model of ``cfg`` and load ``checkpoint`` (default: the run's latest)."""
    if checkpoint and random_weights:
        raise ValueError("give either a checkpoint or random weights, not both")
    weights = "random" if random_weights else (checkpoint or default_checkpoint(cfg.data.save_dir))
    datamanager = build_datamanager(cfg, use_gpu=cfg.use_gpu)
    model = build_model_from_config(cfg, datamanager.num_train_pids, datamanager.attribute_schema,
                                    pretrained=cfg.model.pretrained and random_weights)  # a checkpoint has every weight
    if not random_weights:
        load_weights_into(model, model_weights(load_checkpoint(weights)), f"{weights} ({cfg.model.name} of this config)")
    device = torch.device("cuda" if cfg.use_gpu and torch.cuda.is_available() else "cpu")
    return LoadedRun(cfg, datamanager, model.to(device).eval(), device, weights)


def metrics_csv(cfg: CfgNode) -> str:
    """Where the config's training run writes its per-epoch record (the engine's ``metrics.csv``)."""
    return metrics_path(cfg.data.save_dir)


def target_name(run: LoadedRun, target: str = "") -> str:
    """``target`` if the run tests on it, else (when empty) the run's first target."""
    targets = list(run.datamanager.test_dataset)
    if not target:
        return targets[0]
    if target not in targets:
        raise ValueError(f"target '{target}' is not a test dataset of this config; choose from {targets}")
    return target


def default_output(run: LoadedRun, out: str, file_name: str) -> str:
    """``out`` if given, else ``<data.save_dir>/<file_name>``."""
    return out or os.path.join(run.cfg.data.save_dir, file_name)


def split_tracklets(run: LoadedRun, target: str, split: str) -> list:
    """The query or gallery tracklets ``(img_paths, pid, camid, dsetid, attrs)`` of a test dataset."""
    if split not in ("query", "gallery"):
        raise ValueError(f"split must be 'query' or 'gallery', got '{split}'")
    return run.datamanager.test_dataset[target_name(run, target)][split]


def select_tracklets(tracklets: Sequence[tuple], indices: Sequence[int] = (), pids: Sequence[int] = (),
                     count: int = 3) -> List[int]:
    """Positions of the chosen tracklets: ``indices`` as given, else the first tracklet of each of
    ``pids``, else the first ``count``."""
    if indices and pids:
        raise ValueError("choose tracklets by index or by person id, not both")
    for index in indices:
        if not 0 <= index < len(tracklets):
            raise ValueError(f"tracklet index {index} is out of range: the split has {len(tracklets)} tracklets")
    if indices:
        return list(indices)
    if pids:
        first: Dict[int, int] = {}
        for position, items in enumerate(tracklets):
            first.setdefault(int(items[1]), position)
        absent = [pid for pid in pids if pid not in first]
        if absent:
            raise ValueError(f"person id(s) {absent} have no tracklet in this split")
        return [first[pid] for pid in pids]
    return list(range(min(count, len(tracklets))))
