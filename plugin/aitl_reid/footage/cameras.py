"""Cameras: each input is one camera, a video file or a folder of frames, named by its file name or by the user.

Frames are read sequentially (bounded memory). An input that cannot be read, or holds no frame, is an
:class:`~aitl_reid.inference.InputError` naming it; so are two cameras with one name (their track files
and crops would overwrite each other).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..inference.inputs import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, InputError, natural_key, video_frames

DEFAULT_FPS = 25.0  # a folder of frames has no frame rate of its own


@dataclass(frozen=True)
class CameraInput:
    """One camera: its name (file names of its outputs) and where its frames are."""

    name: str
    path: str

    def frames(self) -> Iterator[Tuple[int, np.ndarray]]:
        """``(1-based frame number, BGR frame)`` in order; an input without any frame is an error."""
        source = _folder_frames(self.path) if os.path.isdir(self.path) else video_frames(self.path)
        count = 0
        for count, frame in source:
            yield count, frame
        if count == 0:
            raise InputError(f"{self.path}: no readable frame (empty or damaged video?)")

    def fps(self) -> float:
        """The video's frame rate (:data:`DEFAULT_FPS` for a folder of frames or a video that does not say)."""
        if os.path.isdir(self.path):
            return DEFAULT_FPS
        capture = cv2.VideoCapture(self.path)
        rate = capture.get(cv2.CAP_PROP_FPS) if capture.isOpened() else 0.0
        capture.release()
        return float(rate) if rate and np.isfinite(rate) and rate > 0 else DEFAULT_FPS


def _folder_frames(folder: str) -> Iterator[Tuple[int, np.ndarray]]:
    names = sorted((n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS)), key=natural_key)
    for number, name in enumerate(names, start=1):
        frame = cv2.imread(os.path.join(folder, name), cv2.IMREAD_COLOR)
        if frame is None:
            raise InputError(f"{os.path.join(folder, name)}: cannot read the frame (damaged or not an image)")
        yield number, frame


def camera_inputs(paths: Sequence[str], names: Optional[Sequence[str]] = None) -> List[CameraInput]:
    """One camera per path, named by ``names`` or else by the file (folder) name without extension."""
    if names and len(names) != len(paths):
        raise InputError(f"--cameras gives {len(names)} names for {len(paths)} inputs")
    cameras = []
    for index, path in enumerate(paths):
        if os.path.isdir(path):
            if not any(n.lower().endswith(IMAGE_EXTENSIONS) for n in os.listdir(path)):
                raise InputError(f"{path}: a folder of frames holds no image ({', '.join(IMAGE_EXTENSIONS)})")
        elif not os.path.isfile(path):
            raise InputError(f"{path}: no such video or folder of frames")
        elif not path.lower().endswith(VIDEO_EXTENSIONS):
            raise InputError(f"{path}: unknown video format (OpenCV reads {', '.join(VIDEO_EXTENSIONS)}) "
                             "; give a video or a folder of frames")
        name = names[index] if names else os.path.splitext(os.path.basename(os.path.normpath(path)))[0]
        if not name or name in (".", "..") or os.sep in name or (os.altsep and os.altsep in name):
            raise InputError(f"{path}: camera name {name!r} cannot name a file; give names with --cameras")
        cameras.append(CameraInput(name, path))
    seen = {}
    for camera in cameras:
        if camera.name in seen:
            raise InputError(f"{seen[camera.name]} and {camera.path}: two cameras named '{camera.name}' "
                             "(rename a file or give distinct names with --cameras)")
        seen[camera.name] = camera.path
    return cameras
