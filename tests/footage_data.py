"""Inputs for the footage tests: tiny videos written with cv2.VideoWriter, and a shared run of the whole command.

The shared run (``footage_run``, session scope) is aitl-reid-track on a tiny synthetic two-camera scene with
ground truth, with the untrained tiny model of :mod:`inference_data` (tracked with the histogram embedder, the
fast one; the model embeds the tracklets); every test that only reads its outputs uses it, so the model is
loaded and the scene tracked once per session.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Sequence

import cv2
import numpy as np
import pytest
import torch

from aitl_reid import track
from aitl_reid.synthetic.footage import render_footage
from inference_data import make_run

SCENE = dict(people=4, cameras=2, frames=80, size=(128, 96), crossing=22, seed=0)


def write_video(path: Path, frames: int = 20, size=(64, 48), boxes: Sequence = ()) -> Path:
    """An MJPG video on a grey background; ``boxes`` ``(x, y, w, h)`` drawn as a dark block moving 1 px a frame."""
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (width, height))
    for f in range(frames):
        image = np.full((height, width, 3), 150, dtype=np.uint8)
        for x, y, w, h in boxes:
            image[y:y + h, x + f:x + f + w] = (30, 60, 200)
        writer.write(image)
    writer.release()
    return path


def track_args(run: Path, out: Path, *extra: str) -> List[str]:
    return ["--run", str(run), "--out", str(out), "--workers", "0", "--backend", "exact", *extra]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("footage_model") / "run")


@pytest.fixture(scope="session")
def footage_run(tiny_run, tmp_path_factory):
    """aitl-reid-track on the tiny scene with ground truth: (scene folder, out folder, exit status, stdout)."""
    root = tmp_path_factory.mktemp("footage")
    videos = render_footage(str(root / "scene"), **SCENE)
    args = track_args(tiny_run, root / "out", "--embedder", "histogram", *videos)
    for video in videos:
        args += ["--gt", video[:-4] + ".gt.txt"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        status = track.main(args)
    finally:
        torch.set_num_threads(threads)
    return root / "scene", root / "out", status
