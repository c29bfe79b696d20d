"""The inputs users have: folders of person crops per tracklet, or a video with MOTChallenge tracks.

A *tracklet folder* holds one sub-folder per tracklet with its frames; frame order comes from the
numbers in the file names, compared as numbers (``f2.jpg`` before ``f10.jpg``). A *video with
tracks* is cropped with OpenCV into such folders (one per track id), so both kinds of input reach
the model through the same dense-clip reader as evaluation. Every bad input raises
:class:`InputError` naming the file (and the line of a tracks file).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Dict, Iterator, List, Sequence, Tuple

import cv2
import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v")
MOT_FIELDS = "frame, id, x, y, w, h, ..."
CROP_QUALITY = 95  # JPEG quality of crops cut from a video
_NUMBER = re.compile(r"(\d+)")


class InputError(ValueError):
    """A user input (folder, frame, video or tracks file) cannot be used; the message names it."""


@dataclass(frozen=True)
class Tracklet:
    """One person's frames in temporal order; ``name`` identifies it in every output."""

    name: str
    frames: Tuple[str, ...]

    def as_dataset_entry(self) -> tuple:
        """The ``(img_paths, pid, camid, dsetid, attrs)`` tuple the dataset classes take (labels unknown)."""
        return (self.frames, -1, -1, 0, ())


def natural_key(name: str) -> Tuple:
    """Sort key comparing the digit runs of a file name as numbers: ``f2.jpg`` < ``f10.jpg``."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in _NUMBER.split(name))


def _visible(names: Sequence[str]) -> List[str]:
    return [n for n in names if not n.startswith(".") and n not in ("Thumbs.db", "desktop.ini")]


def read_tracklet(folder: str, name: str = "") -> Tracklet:
    """The frames of one tracklet folder, in numeric file-name order."""
    if not os.path.isdir(folder):
        raise InputError(f"{folder}: not a folder of frames")
    files = []
    for entry in _visible(os.listdir(folder)):
        path = os.path.join(folder, entry)
        if os.path.isdir(path):
            raise InputError(f"{path}: a tracklet folder holds frames only, found a sub-folder")
        if not entry.lower().endswith(IMAGE_EXTENSIONS):
            raise InputError(f"{path}: unknown frame format '{os.path.splitext(entry)[1] or entry}' "
                             f"(frames must be one of {', '.join(IMAGE_EXTENSIONS)})")
        files.append(entry)
    if not files:
        raise InputError(f"{folder}: empty tracklet folder (no frames)")
    files.sort(key=natural_key)
    return Tracklet(name or os.path.basename(os.path.normpath(folder)), tuple(os.path.join(folder, f) for f in files))


def read_tracklet_folders(root: str) -> List[Tracklet]:
    """Every tracklet under ``root`` (one sub-folder each), sorted by folder name (numbers as numbers).

    A ``root`` that itself holds frames is one tracklet.
    """
    if not os.path.isdir(root):
        raise InputError(f"{root}: no such folder")
    entries = sorted(_visible(os.listdir(root)), key=natural_key)
    if not entries:
        raise InputError(f"{root}: empty folder (expected one sub-folder of frames per tracklet)")
    if all(os.path.isfile(os.path.join(root, e)) for e in entries):
        return [read_tracklet(root)]
    stray = [e for e in entries if not os.path.isdir(os.path.join(root, e))]
    if stray:
        raise InputError(f"{os.path.join(root, stray[0])}: expected only tracklet sub-folders in {root}")
    return [read_tracklet(os.path.join(root, e)) for e in entries]


# ---------------------------------------------------------------------------------- video + tracks
@dataclass(frozen=True)
class TrackBox:
    """One line of a MOTChallenge file: a track's box in a frame (1-based frame number, pixels), and its
    seventh column (a detection's score, ground truth's 0/1 'consider' flag; 1 when absent)."""

    frame: int
    track: int
    x: float
    y: float
    w: float
    h: float
    line: int = 0  # 0: not read from a file
    score: float = 1.0


def _numbers(fields: Sequence[str]) -> List[float]:
    """``fields`` as numbers, or ``[]`` when one of them is not a number."""
    try:
        return [float(f) for f in fields]
    except ValueError:
        return []


def read_mot_tracks(path: str) -> List[TrackBox]:
    """The boxes of a MOTChallenge text file (``frame, id, x, y, w, h[, score], ...``; later columns ignored)."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: tracks file not found")
    boxes = []
    with open(path, "r", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            fields = [f for f in re.split(r"[,\s]+", text) if f]
            values = _numbers(fields[:6])
            if len(values) < 6:
                raise InputError(f"{path}:{number}: unknown format, expected MOTChallenge '{MOT_FIELDS}' "
                                 f"(at least 6 numbers), got {text[:80]!r}")
            if not all(np.isfinite(values)):
                raise InputError(f"{path}:{number}: numbers must be finite, got {text[:80]!r}")
            frame, track = values[0], values[1]
            if frame != int(frame) or frame < 1 or track != int(track):
                raise InputError(f"{path}:{number}: frame must be a whole number >= 1 and id a whole number, got {text[:80]!r}")
            if values[4] <= 0 or values[5] <= 0:
                raise InputError(f"{path}:{number}: box width and height must be positive, got {text[:80]!r}")
            score = (_numbers(fields[6:7]) or [1.0])[0]
            if not np.isfinite(score):
                raise InputError(f"{path}:{number}: the score (7th column) must be finite, got {text[:80]!r}")
            boxes.append(TrackBox(int(frame), int(track), *values[2:6], line=number, score=score))
    if not boxes:
        raise InputError(f"{path}: no tracks (empty file)")
    return boxes


def clip_box(box: TrackBox, width: int, height: int, tracks_path: str) -> Tuple[int, int, int, int]:
    """Pixel bounds ``(x0, y0, x1, y1)`` of ``box`` inside the frame; a box wholly outside is an error."""
    x0, y0 = max(0, int(round(box.x))), max(0, int(round(box.y)))
    x1, y1 = min(width, int(round(box.x + box.w))), min(height, int(round(box.y + box.h)))
    if x1 - x0 < 1 or y1 - y0 < 1:
        raise InputError(
            f"{tracks_path}:{box.line}: track {box.track} in frame {box.frame} is outside the image "
            f"(box x={box.x:g} y={box.y:g} w={box.w:g} h={box.h:g}, frame {width}x{height})"
        )
    return x0, y0, x1, y1


def video_frames(video_path: str) -> Iterator[Tuple[int, np.ndarray]]:
    """``(1-based frame number, BGR frame)`` read sequentially (bounded memory)."""
    capture = cv2.VideoCapture(video_path)
    if not capture.isOpened():
        raise InputError(f"{video_path}: cannot open the video (unknown format or codec; "
                         f"OpenCV reads e.g. {', '.join(VIDEO_EXTENSIONS[:4])})")
    try:
        number = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            number += 1
            yield number, frame
    finally:
        capture.release()


def crop_video_tracks(video_path: str, tracks_path: str, out_dir: str, min_frames: int = 1) -> List[Tracklet]:
    """Cut every track of ``tracks_path`` out of ``video_path`` into ``out_dir/<video>_<id>/<frame>.jpg``.

    Boxes reaching past the frame border are clipped to it; a box wholly outside the frame or a frame
    number past the end of the video is an error naming the tracks file and line. Tracks with fewer
    than ``min_frames`` boxes are left out. Returns the tracklets sorted by track id.
    """
    if not os.path.isfile(video_path):
        raise InputError(f"{video_path}: video file not found")
    boxes = read_mot_tracks(tracks_path)
    by_frame: Dict[int, List[TrackBox]] = {}
    for box in boxes:
        by_frame.setdefault(box.frame, []).append(box)
    stem = os.path.splitext(os.path.basename(video_path))[0]
    folders: Dict[int, str] = {}
    frames: Dict[int, List[str]] = {}
    last = 0
    for number, image in video_frames(video_path):
        last = number
        for box in by_frame.get(number, ()):
            x0, y0, x1, y1 = clip_box(box, image.shape[1], image.shape[0], tracks_path)
            folder = folders.setdefault(box.track, os.path.join(out_dir, f"{stem}_{box.track:04d}"))
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, f"{number:06d}.jpg")
            if not cv2.imwrite(path, image[y0:y1, x0:x1], [cv2.IMWRITE_JPEG_QUALITY, CROP_QUALITY]):
                raise InputError(f"{path}: cannot write the crop (disk full or no permission?)")
            frames.setdefault(box.track, []).append(path)
    if last == 0:
        raise InputError(f"{video_path}: the video has no readable frame")
    beyond = [b for b in boxes if b.frame > last]
    if beyond:
        first = min(beyond, key=lambda b: b.line)
        raise InputError(f"{tracks_path}:{first.line}: frame {first.frame} is past the end of {video_path} ({last} frames)")
    return [Tracklet(os.path.basename(folders[t]), tuple(frames[t])) for t in sorted(frames) if len(frames[t]) >= min_frames]


def read_input(path: str, crops_dir: str, tracks_path: str = "") -> List[Tracklet]:
    """Tracklets from a folder of tracklet folders, or from a video (tracks: ``tracks_path`` or
    ``<video without extension>.txt``), cropped into ``crops_dir``."""
    if os.path.isdir(path):
        return read_tracklet_folders(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file or folder")
    if not path.lower().endswith(VIDEO_EXTENSIONS):
        raise InputError(f"{path}: unknown input format: give a folder of tracklet folders or a video "
                         f"({', '.join(VIDEO_EXTENSIONS)}) with MOTChallenge tracks")
    tracks = tracks_path or os.path.splitext(path)[0] + ".txt"
    if not os.path.isfile(tracks):
        raise InputError(f"{path}: its tracks file {tracks} was not found (give it with --query-tracks / --gallery-tracks)")
    return crop_video_tracks(path, tracks, crops_dir)
