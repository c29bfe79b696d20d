"""Inputs for the inference tests: a run folder (untrained tiny model), easy tracklet folders, a video.

*Easy* data: each identity is a figure with its own top and bottom colour on a grey background;
its tracklets differ only by a small shift and pixel noise, so any model whose feature depends on
colour (a randomly initialised ResNet does) ranks a query's own identity first.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
import pytest
import torch

from aitl_reid.config import get_default_config
from aitl_reid.engine.checkpoint import save_checkpoint
from aitl_reid.run_folder import run_config_text, save_run_config
from aitl_reid.models import build_model_from_config
from aitl_reid.schema import get_schema

HEIGHT, WIDTH = 64, 32  # model input


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One intra-op thread: on the shared 2-core machine, two threads wait on each other and run ~10x slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
COLOURS: List[Tuple[int, int, int]] = [  # BGR, far apart
    (0, 0, 220), (0, 200, 0), (220, 0, 0), (0, 220, 220), (220, 0, 220), (220, 220, 0), (30, 30, 30), (240, 240, 240),
]


def make_run(root: Path, model: str = "asta_resnet18", schema: str = "mars_v2", num_classes: int = 5,
             config_yaml: bool = True, config_in_checkpoint: bool = True, epochs: Sequence[int] = (1,), **overrides) -> Path:
    """A run folder as training leaves it (config.yaml, model/model.pth.tar-<epoch>) with random weights."""
    cfg = get_default_config()
    cfg.model.name, cfg.model.pretrained = model, False
    cfg.data.height, cfg.data.width, cfg.data.save_dir = HEIGHT, WIDTH, str(root)
    cfg.attributes.schema = "auto"
    for key, value in overrides.items():
        section, name = key.split("__")
        cfg[section][name] = value
    torch.manual_seed(0)
    resolved = get_schema(schema)
    net = build_model_from_config(cfg, num_classes, resolved)
    _randomise_batch_norm(net)
    if config_yaml:
        save_run_config(cfg, resolved)
    for epoch in epochs:
        state = {"state_dict": net.state_dict(), "epoch": epoch, "rank1": 0.0}
        if config_in_checkpoint:
            state["config"] = run_config_text(cfg, resolved)
        save_checkpoint(state, str(root), epoch)
    return root


def _randomise_batch_norm(net: torch.nn.Module) -> None:
    """Running statistics away from (0, 1), as after training, so folding batch norm is really tested."""
    generator = torch.Generator().manual_seed(1)
    for module in net.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.copy_(torch.empty_like(module.running_mean).uniform_(-0.2, 0.2, generator=generator))
            module.running_var.copy_(torch.empty_like(module.running_var).uniform_(0.5, 1.5, generator=generator))


def person(identity: int, height: int, width: int, rng: np.random.Generator, shift: int = 2) -> np.ndarray:
    """A BGR crop of identity ``identity``: top and bottom colours, slightly shifted, with pixel noise."""
    image = np.full((height, width, 3), 128, dtype=np.uint8)
    top, bottom = COLOURS[identity % len(COLOURS)], COLOURS[(identity * 3 + 1) % len(COLOURS)]
    dy, dx = (int(v) for v in rng.integers(-shift, shift + 1, 2))
    x0, x1 = width // 4 + dx, 3 * width // 4 + dx
    image[height // 10 + dy:height // 2 + dy, x0:x1] = top
    image[height // 2 + dy:9 * height // 10 + dy, x0:x1] = bottom
    noise = rng.integers(-8, 9, image.shape)
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def write_tracklets(root: Path, identities: Sequence[int], frames: int = 6, seed: int = 0,
                    names: Dict[int, str] = None) -> List[str]:
    """One folder ``id<k>`` per identity with ``frames`` JPEG frames named ``<n>.jpg`` (n from 1: 1, 2, ..., 10, ...)."""
    rng = np.random.default_rng(seed)
    written = []
    for identity in identities:
        name = (names or {}).get(identity, f"id{identity}")
        folder = root / name
        folder.mkdir(parents=True)
        for n in range(1, frames + 1):
            cv2.imwrite(str(folder / f"{n}.jpg"), person(identity, 2 * HEIGHT, 2 * WIDTH, rng))
        written.append(name)
    return written


def write_video(video: Path, tracks: Path, identities: Sequence[int], frames: int = 8, size=(240, 160), seed: int = 0) -> None:
    """An MJPG video with one walking figure per identity and its MOTChallenge track file (track id = identity + 1)."""
    width, height = size
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (width, height))
    lines = []
    box_w, box_h = 32, 64
    for f in range(1, frames + 1):
        image = np.full((height, width, 3), 100, dtype=np.uint8)
        for slot, identity in enumerate(identities):
            x, y = 10 + slot * (box_w + 12) + f, 40 + (slot % 2) * 10
            image[y:y + box_h, x:x + box_w] = person(identity, box_h, box_w, rng, shift=0)
            lines.append(f"{f},{identity + 1},{x},{y},{box_w},{box_h},1,-1,-1,-1")
        writer.write(image)
    writer.release()
    tracks.write_text("\n".join(lines) + "\n")
    assert os.path.getsize(video) > 0
