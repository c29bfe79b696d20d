"""Test-time view of a query or gallery split as a flat list of dense clips.

Feeding one clip per item lets a loader batch clips across tracklets (a full forward pass every
time) instead of one tracklet per pass; each item says which tracklet it belongs to, so the
engine averages clip features per tracklet afterwards.
"""
from __future__ import annotations

from typing import Callable, List, Sequence

import numpy as np
import torch

from .dataset import Tracklet
from .image_io import read_frames
from .sampling import dense_clip_indices
from .transforms import ERASE_KEY


class DenseClipView(torch.utils.data.Dataset):
    """Every dense clip of every tracklet; an item is ``{'img': [T, C, H, W] uint8, 'erase': [4], 'tracklet': index}``
    (``img`` as ``transform.prepare`` leaves it; see :class:`~aitl_reid.data.transforms.ClipTransform`)."""

    def __init__(self, tracklets: Sequence[Tracklet], transform: Callable, seq_len: int, max_clips: int) -> None:
        if not tracklets:
            raise ValueError("DenseClipView needs at least one tracklet")
        self.img_paths: List[tuple] = [items[0] for items in tracklets]
        self.pids = np.array([items[1] for items in tracklets], dtype=np.int64)
        self.camids = np.array([items[2] for items in tracklets], dtype=np.int64)
        self.attrs = torch.tensor([items[4] for items in tracklets], dtype=torch.long)
        self.transform = transform
        clips = [dense_clip_indices(len(paths), seq_len, max_clips) for paths in self.img_paths]
        self.clip_tracklet = np.repeat(np.arange(len(clips)), [len(c) for c in clips])
        self.clip_frames = np.concatenate(clips)

    @property
    def num_tracklets(self) -> int:
        """Tracklets in the split (clip features are averaged into this many tracklet features)."""
        return len(self.img_paths)

    def __len__(self) -> int:
        return len(self.clip_tracklet)

    def __getitem__(self, index: int) -> dict:
        tracklet = int(self.clip_tracklet[index])
        frames = read_frames(self.img_paths[tracklet], self.clip_frames[index])
        img, erase = self.transform.prepare(frames)
        return {"img": img, ERASE_KEY: erase, "tracklet": tracklet}
