"""Tracklet frames as pictures (uint8 RGB at the model's input size) and heat-map overlays on them."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
import torch
from matplotlib import colormaps

from ..data.image_io import read_frames
from ..data.transforms import resize_clip

OVERLAY_ALPHA = 0.5  # weight of the heat map over the frame


def to_display(frames: Sequence[torch.Tensor], height: int, width: int) -> np.ndarray:
    """Decoded frames (uint8 ``[3, H, W]`` each) resized to ``height x width``: uint8 ``[N, height, width, 3]``."""
    return resize_clip(frames, height, width).permute(0, 2, 3, 1).numpy()


def display_frames(img_paths: Sequence[str], indices: Sequence[int], height: int, width: int) -> np.ndarray:
    """Frames ``indices`` of a tracklet resized to ``height x width``: uint8 ``[N, height, width, 3]``."""
    return to_display(read_frames(img_paths, np.asarray(indices)), height, width)


def middle_frame(img_paths: Sequence[str], height: int, width: int) -> np.ndarray:
    """The tracklet's middle frame, uint8 ``[height, width, 3]``: one picture that stands for it."""
    return display_frames(img_paths, [len(img_paths) // 2], height, width)[0]


def overlay_heatmap(frame: np.ndarray, heat: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """``heat`` (any size, values in [0, 1]) upsampled bilinearly onto ``frame`` in ``colormap``, blended."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be [H, W, 3], got shape {frame.shape}")
    if heat.ndim != 2:
        raise ValueError(f"heat map must be 2-D [h, w], got shape {heat.shape}")
    upsampled = cv2.resize(heat.astype(np.float32), (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)
    colours = colormaps[colormap](np.clip(upsampled, 0.0, 1.0))[..., :3] * 255.0
    blended = (1.0 - OVERLAY_ALPHA) * frame.astype(np.float32) + OVERLAY_ALPHA * colours
    return blended.round().astype(np.uint8)
