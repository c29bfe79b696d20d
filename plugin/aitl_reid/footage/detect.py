"""Detection: person boxes per frame, from background subtraction (static cameras) or a MOTChallenge file.

``motion`` is OpenCV's MOG2 background subtractor: the foreground mask (shadows dropped) is opened to
remove speckle, closed to join a person's parts, and each connected blob whose size and height/width
ratio fit a standing person becomes a box scored by the share of foreground pixels in it. It needs no
weights; it suits static cameras only. After ``warmup`` frames that build the background, the background
learns at ``1 / history`` per frame. ``--detections FILE`` reads the MOTChallenge public-detection
convention, ``frame,-1,x,y,w,h,score,...`` (1-based frames), checked against its video.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Dict, List, Tuple

import cv2
import numpy as np

from ..inference.inputs import InputError, TrackBox, clip_box, read_mot_tracks

Box = Tuple[float, float, float, float, float]  # x, y, w, h (pixels), score


@dataclass
class MotionSettings:
    """Background-subtraction detector settings (``--motion KEY=VALUE``); defaults measured on vtest.avi
    (768x576) and the synthetic scenes (BENCHMARKS.md)."""

    history: int = 200  # frames the background model remembers
    var_threshold: float = 16.0  # MOG2's squared Mahalanobis distance for foreground
    open_size: int = 3  # opening kernel (pixels): drops speckle
    close_size: int = 9  # closing kernel (pixels): joins a person's parts
    min_height: float = 0.06  # blob height, fraction of the frame height
    max_height: float = 0.9
    min_aspect: float = 1.1  # blob height / width
    max_aspect: float = 5.0
    min_fill: float = 0.25  # foreground share inside the box
    warmup: int = 10  # first frames only learn the background (no detection)

    @classmethod
    def keys(cls) -> List[str]:
        return [f.name for f in fields(cls)]


class MotionDetector:
    """MOG2 background subtraction -> morphology -> person-shaped boxes, one camera at a time."""

    def __init__(self, settings: MotionSettings) -> None:
        self.settings = settings
        self.subtractor = cv2.createBackgroundSubtractorMOG2(history=settings.history, varThreshold=settings.var_threshold,
                                                             detectShadows=True)
        self.open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (settings.open_size,) * 2)
        self.close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (settings.close_size,) * 2)
        self.seen = 0

    def __call__(self, frame: np.ndarray) -> List[Box]:
        s = self.settings
        self.seen += 1
        if self.seen <= s.warmup:
            self.subtractor.apply(frame)  # OpenCV's rate, 1/frames seen: the first frames build the background
            return []
        # then 1/history: at OpenCV's own rate (1/frames seen until `history`), someone standing or a block of
        # uniform colour would melt into the background within a few frames of the start
        mask = self.subtractor.apply(frame, learningRate=1.0 / s.history)
        mask = np.where(mask > 200, 255, 0).astype(np.uint8)  # MOG2 marks shadows 127
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self.open)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self.close)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        height = frame.shape[0]
        boxes = []
        for x, y, w, h, area in stats[1:count].tolist():
            fill = area / float(w * h)
            if not (s.min_height <= h / height <= s.max_height and s.min_aspect <= h / w <= s.max_aspect and fill >= s.min_fill):
                continue
            boxes.append((float(x), float(y), float(w), float(h), float(fill)))
        return boxes


def read_detections(path: str) -> Dict[int, List[TrackBox]]:
    """A MOTChallenge detection file's boxes by frame (``frame,-1,x,y,w,h,score,...``)."""
    by_frame: Dict[int, List[TrackBox]] = {}
    for box in read_mot_tracks(path):
        by_frame.setdefault(box.frame, []).append(box)
    return by_frame


def checked_boxes(boxes: List[TrackBox], width: int, height: int, path: str) -> List[Box]:
    """``boxes`` clipped to the frame; a box wholly outside it is an error naming the file and line."""
    out = []
    for box in boxes:
        x0, y0, x1, y1 = clip_box(box, width, height, path)
        out.append((float(x0), float(y0), float(x1 - x0), float(y1 - y0), float(box.score)))
    return out


def check_length(by_frame: Dict[int, List[TrackBox]], frames: int, path: str, video: str) -> None:
    """A detection past the video's last frame is an error naming the file and line."""
    beyond = [b for f, boxes in by_frame.items() if f > frames for b in boxes]
    if beyond:
        first = min(beyond, key=lambda b: b.line)
        raise InputError(f"{path}:{first.line}: frame {first.frame} is past the end of {video} ({frames} frames); "
                         "is this the detection file of another video?")
