"""Frame reading that fails fast with the file's name.

torchreid's ``read_image`` retries forever on an IOError, so one truncated JPEG hangs a data loader
worker silently. Here a missing, empty, truncated or undecodable frame raises at once, naming the file.
Decoding uses OpenCV (torchvision's decoders are deprecated); a JPEG without its end marker counts as
truncated, because some OpenCV versions decode such a file with a grey lower part instead of failing.
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import cv2
import numpy as np
import torch

JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"


class FrameReadError(OSError):
    """A frame file is missing, unreadable, empty or not a decodable image; ``path`` names it."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


def frame_error_message(err: FrameReadError) -> str:
    """The file-naming message of a frame error. One raised in a DataLoader worker reaches the main process as
    torch's account of the worker with its traceback; the original message is that traceback's last line."""
    lines = [line for line in str(err).splitlines() if line.strip()]
    return lines[-1].split("FrameReadError: ", 1)[-1] if lines else str(err)


def read_frame(path: str) -> torch.Tensor:
    """Decode one frame file into an RGB uint8 tensor ``[3, H, W]``."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise FrameReadError(f"cannot read frame {path}: {e.strerror or e}", path) from e
    if not data:
        raise FrameReadError(f"frame {path} is empty (0 bytes); replace it with the original file", path)
    if data.startswith(JPEG_START) and not data.rstrip(b"\0").endswith(JPEG_END):
        raise FrameReadError(f"frame {path} is a truncated JPEG (no end marker); replace it with the original file", path)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise FrameReadError(f"frame {path} is corrupt or not an image; replace it with the original file", path)
    return torch.from_numpy(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)).permute(2, 0, 1)


def read_frames(img_paths: Sequence[str], indices: np.ndarray) -> List[torch.Tensor]:
    """The frames at ``indices`` of a tracklet, in that order; a repeated index is decoded once."""
    cache: Dict[int, torch.Tensor] = {}
    frames = []
    for index in indices.tolist():
        if index not in cache:
            cache[index] = read_frame(img_paths[index])
        frames.append(cache[index])
    return frames
