"""Which frames of a tracklet form a clip, for training and for dense testing.

Frame indices are computed here, apart from decoding, so the protocols (consecutive training
clips, the released code's random frames, dense test clips) can be read and tested on their own.
A run shorter than ``seq_len`` is padded by cycling through its own frames (0, 1, 2 -> 0, 1, 2, 0),
as in the temporal-modelling baseline code the released implementation builds on.
"""
from __future__ import annotations

from typing import Callable, Dict

import numpy as np

ClipSampler = Callable[[int, int, np.random.Generator], np.ndarray]


def _check_sizes(num_frames: int, seq_len: int) -> None:
    if num_frames < 1:
        raise ValueError(f"a tracklet needs at least one frame, got {num_frames}")
    if seq_len < 1:
        raise ValueError(f"video.seq_len must be at least 1, got {seq_len}")


def train_clip_indices(num_frames: int, seq_len: int, rng: np.random.Generator) -> np.ndarray:
    """``seq_len`` consecutive frame indices from a uniformly random start (cycled when too short)."""
    _check_sizes(num_frames, seq_len)
    if num_frames >= seq_len:
        start = int(rng.integers(0, num_frames - seq_len + 1))
        return np.arange(start, start + seq_len)
    return np.arange(seq_len) % num_frames


def random_clip_indices(num_frames: int, seq_len: int, rng: np.random.Generator) -> np.ndarray:
    """``seq_len`` distinct frames in random order (cycled when too short).

    This is what the released code's clips amount to: it shuffles each tracklet's frames once when
    the dataset is built and then takes a consecutive run, so clips carry no temporal order. Here the
    shuffle is drawn per clip.
    """
    _check_sizes(num_frames, seq_len)
    order = rng.permutation(num_frames)
    return order[np.arange(seq_len) % num_frames]


def dense_clip_indices(num_frames: int, seq_len: int, max_clips: int) -> np.ndarray:
    """Every consecutive, non-overlapping clip of a tracklet: ``[n_clips, seq_len]`` frame indices.

    The last clip is padded by cycling through its own frames. Above ``max_clips`` clips, ``max_clips``
    clips spread evenly over the tracklet are kept (first and last included), so a long tracklet's
    feature still describes all of it rather than only its beginning.
    """
    _check_sizes(num_frames, seq_len)
    if max_clips < 1:
        raise ValueError(f"test.max_clips must be at least 1, got {max_clips}")
    starts = np.arange(0, num_frames, seq_len)
    if len(starts) > max_clips:
        spread = np.floor(np.linspace(0, len(starts) - 1, max_clips) + 0.5).astype(np.int64)
        starts = starts[spread]
    lengths = np.minimum(seq_len, num_frames - starts)
    return starts[:, None] + np.arange(seq_len)[None, :] % lengths[:, None]


CLIP_SAMPLERS: Dict[str, ClipSampler] = {
    "consecutive": train_clip_indices,
    "random": random_clip_indices,
}


def clip_sampler(method: str) -> ClipSampler:
    """The training clip sampler named by ``video.sample_method``."""
    if method not in CLIP_SAMPLERS:
        raise ValueError(
            f"video.sample_method: unknown method {method!r}; choose one of {sorted(CLIP_SAMPLERS)}"
        )
    return CLIP_SAMPLERS[method]
