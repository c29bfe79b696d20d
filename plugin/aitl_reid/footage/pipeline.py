"""Video in, people out: every stage in order, for each camera, with what each produced written to ``OUT``.

``OUT/tracks/<camera>.txt`` (MOTChallenge tracks) with its crops in ``OUT/crops/<camera>/<track>/``, then
``identities.csv`` (a row per tracklet with its person), ``attributes.csv`` (per tracklet), ``people.json``
(what search reads: each person's tracklets and per-class attribute probabilities), ``metrics.json`` with
ground truth, and ``report.html``. Every file is written whole or not at all; a camera's tracks are followed
by ``<camera>.json`` recording the inputs and settings that made them, so running the same command after an
interruption reuses the cameras already tracked and finishes the rest.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..inference.encoder import TrackletEncoder, class_probabilities, predict_attributes
from ..inference.inputs import InputError, TrackBox, Tracklet, read_mot_tracks
from ..inference.report import attribute_columns, write_attributes
from ..serialization import atomic_write, write_csv
from . import score
from .cameras import CameraInput
from .detect import Box, MotionDetector, MotionSettings, check_length, checked_boxes, read_detections
from .link import DEFAULT_THRESHOLD, TrackletSpan, link
from .torchvision_detect import TorchvisionDetector, TorchvisionSettings
from .track import (CameraTracker, CropWriter, TrackerSettings, kept_tracks, make_embedder, track_lines,
                    tracklets_of)

PEOPLE_FILE = "people.json"


@dataclass
class FootageSettings:
    """Every setting of a run; the ones that shape a camera's tracks are recorded beside them."""

    detector: str = "motion"  # "file" (detections from MOTChallenge files) or a torchvision detection model
    embedder: str = "aitl"
    motion: MotionSettings = field(default_factory=MotionSettings)
    torchvision: TorchvisionSettings = field(default_factory=TorchvisionSettings)
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    link_threshold: float = DEFAULT_THRESHOLD


@dataclass
class CameraTracks:
    """One camera's tracks as written, and the video facts scoring needs."""

    camera: CameraInput
    rows: List[TrackBox]
    frames: int
    width: int
    height: int
    fps: float
    tracklets: List[Tracklet]


@dataclass
class Timings:
    """Seconds spent per stage and the frames processed (cameras read back from an earlier run add nothing)."""

    seconds: Dict[str, float] = field(default_factory=lambda: {"detect": 0.0, "track": 0.0, "identities": 0.0})
    frames: int = 0

    def frames_per_second(self) -> Dict[str, float]:
        out = {k: self.frames / v for k, v in self.seconds.items() if v > 0 and k != "identities"}
        total = sum(self.seconds.values())
        if total > 0 and self.frames:
            out["end_to_end"] = self.frames / total
        return out


Detector = Callable[[np.ndarray], List[Box]]


def detectors(settings: FootageSettings, device: str = "cpu") -> Callable[[], Detector]:
    """A new detector per camera: a motion detector (its background is the camera's own), or the one torchvision
    model, loaded (and its weights fetched) here, before any camera is read."""
    if settings.detector in ("motion", "file"):
        return lambda: MotionDetector(settings.motion)
    model = TorchvisionDetector(settings.detector, settings.torchvision, device=device)
    return lambda: model


def _stamp(camera: CameraInput, settings: FootageSettings, detections: str, model: str) -> dict:
    stat = os.stat(camera.path)
    return {"input": os.path.abspath(camera.path), "size": stat.st_size, "mtime": stat.st_mtime,
            "detections": os.path.abspath(detections) if detections else "", "model": model,
            "settings": dataclasses.asdict(settings) | {"link_threshold": None}}


def _read_back(camera: CameraInput, out: str, stamp: dict) -> Optional[CameraTracks]:
    """The camera's tracks from an earlier run with the same inputs and settings, if complete."""
    base = os.path.join(out, "tracks", camera.name)
    try:
        with open(base + ".json", encoding="utf-8") as handle:
            saved = json.load(handle)
    except (OSError, ValueError):
        return None
    if saved.get("stamp") != json.loads(json.dumps(stamp)) or not os.path.isfile(base + ".txt"):
        return None
    rows = _read_tracks(base + ".txt")
    crops = os.path.join(out, "crops", camera.name)
    tracklets = tracklets_of(camera.name, rows, crops)
    if not all(os.path.isfile(f) for t in tracklets for f in t.frames):
        return None
    return CameraTracks(camera, rows, saved["frames"], saved["width"], saved["height"], saved["fps"], tracklets)


def _read_tracks(path: str) -> List[TrackBox]:
    with open(path, encoding="utf-8") as handle:
        empty = not handle.read().strip()
    return [] if empty else read_mot_tracks(path)


def track_camera(camera: CameraInput, out: str, settings: FootageSettings, encoder: Optional[TrackletEncoder],
                 detections: str = "", timings: Optional[Timings] = None, model: str = "",
                 new_detector: Optional[Callable[[], Detector]] = None) -> CameraTracks:
    """Detect and track one camera (or read its finished tracks back), writing its track file and crops.

    ``new_detector``: gives the camera's detector when no ``detections`` file is given (default: ``settings``')."""
    stamp = _stamp(camera, settings, detections, model)
    done = _read_back(camera, out, stamp)
    if done is not None:
        print(f"{camera.name}: tracks of an earlier run with the same inputs and settings reused")
        return done
    timings = timings or Timings()
    given = read_detections(detections) if detections else None
    detector = (new_detector or detectors(settings))() if given is None else None
    tracker = CameraTracker(settings.tracker, make_embedder(settings.embedder, encoder))
    crop_root = os.path.join(out, "crops", camera.name)
    shutil.rmtree(crop_root, ignore_errors=True)
    writer = CropWriter(crop_root)
    rows: List[TrackBox] = []
    frames, width, height = 0, 0, 0
    for frames, image in camera.frames():
        height, width = image.shape[:2]
        start = time.perf_counter()
        if detector is not None:
            boxes = detector(image)
        else:
            boxes = checked_boxes(given.get(frames, []), width, height, detections)  # type: ignore[union-attr]
        middle = time.perf_counter()
        matched = tracker.update(frames, image, boxes)
        writer.write(image, matched)
        rows += [row for row, _ in matched]
        timings.seconds["detect"] += middle - start
        timings.seconds["track"] += time.perf_counter() - middle
    timings.frames += frames
    if given is not None:
        check_length(given, frames, detections, camera.path)
    kept = kept_tracks(rows, settings.tracker.min_frames)
    for track in set(writer.paths) - {r.track for r in kept}:
        shutil.rmtree(os.path.join(crop_root, f"{track:04d}"), ignore_errors=True)
    base = os.path.join(out, "tracks", camera.name)
    with atomic_write(base + ".txt", "w", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in track_lines(kept)))
    result = CameraTracks(camera, kept, frames, width, height, camera.fps(), tracklets_of(camera.name, kept, crop_root))
    with atomic_write(base + ".json", "w", encoding="utf-8") as handle:
        json.dump({"stamp": stamp, "frames": frames, "width": width, "height": height, "fps": result.fps}, handle, indent=1)
    print(f"{camera.name}: {frames} frames, {len(result.tracklets)} tracks -> {base}.txt")
    return result


def spans_of(tracks: Sequence[CameraTracks]) -> List[TrackletSpan]:
    """Camera, track id, first and last frame and length of every tracklet, in tracklet order."""
    spans = []
    for camera in tracks:
        by_track: Dict[int, List[int]] = {}
        for row in camera.rows:
            by_track.setdefault(row.track, []).append(row.frame)
        spans += [TrackletSpan(camera.camera.name, t, min(f), max(f), len(f)) for t, f in sorted(by_track.items())]
    return spans


@dataclass
class People:
    """Linked identities: a person per tracklet, and each person's attribute probabilities."""

    spans: List[TrackletSpan]
    tracklets: List[Tracklet]
    person: List[int]  # per tracklet, from 0
    names: List[str]  # attribute names (schema order)
    probabilities: Dict[str, np.ndarray]  # per attribute, [persons, classes]

    @property
    def count(self) -> int:
        return max(self.person) + 1 if self.person else 0

    def classes(self) -> Tuple[np.ndarray, np.ndarray]:
        """Per person and attribute, the most probable class and its probability (``[P, A]`` each)."""
        if not self.names:
            return np.zeros((self.count, 0), dtype=int), np.zeros((self.count, 0))
        classes = np.stack([self.probabilities[n].argmax(1) for n in self.names], 1)
        probs = np.stack([self.probabilities[n].max(1) for n in self.names], 1)
        return classes, probs


def identify(tracks: Sequence[CameraTracks], encoder: TrackletEncoder, out: str, threshold: float) -> People:
    """Tracklet features and attributes through the inference path, linked into people; writes
    ``attributes.csv`` (per tracklet)."""
    tracklets = [t for camera in tracks for t in camera.tracklets]
    spans = spans_of(tracks)
    if not tracklets:
        raise InputError("no person was tracked in any camera: nothing to identify (check the detector settings, "
                         "e.g. --motion min_height=0.03, or the detections files)")
    encoded = encoder.encode(tracklets, desc="tracklets")
    trained = encoder.trained
    predictions = predict_attributes(encoded.attr_logits, trained.schema, trained.attribute_form)
    if predictions.names:
        write_attributes(os.path.join(out, "attributes.csv"), [("tracklet", encoded, predictions)])
    person = link(encoded.features.numpy(), spans, threshold)
    per_class = class_probabilities(encoded.attr_logits, trained.schema, trained.attribute_form)
    weights = np.array([s.frames for s in spans], dtype=np.float64)
    count = max(person) + 1
    probabilities = {}
    for name, probs in per_class.items():
        total = np.zeros((count, probs.shape[1]))
        np.add.at(total, np.array(person), probs.numpy() * weights[:, None])
        probabilities[name] = total / total.sum(1, keepdims=True)
    return People(spans, tracklets, person, list(per_class), probabilities)


def write_identities(out: str, people: People) -> str:
    """``identities.csv``: person (from 1), camera, track, first and last frame, frames, then the person's attributes."""
    classes, probs = people.classes()
    header = ["person", "camera", "track", "first_frame", "last_frame", "frames"] + attribute_columns(people.names)
    order = sorted(range(len(people.spans)), key=lambda i: (people.person[i], people.spans[i].first))
    rows = []
    for i in order:
        s, p = people.spans[i], people.person[i]
        cells = [v for c, q in zip(classes[p].tolist(), probs[p].tolist()) for v in (c, f"{q:.4f}")]
        rows.append([p + 1, s.camera, s.track, s.first, s.last, s.frames] + cells)
    return write_csv(os.path.join(out, "identities.csv"), header, rows)


def write_people(out: str, people: People, schema) -> str:
    """``people.json``: the schema's names and classes, and per person its tracklets and class probabilities."""
    persons = []
    for p in range(people.count):
        members = [dataclasses.asdict(s) for s, q in zip(people.spans, people.person) if q == p]
        persons.append({"person": p + 1, "tracklets": members,
                        "attributes": {n: [round(float(v), 6) for v in people.probabilities[n][p]] for n in people.names}})
    payload = {"schema": {"name": schema.name, "names": list(schema.names), "columns": list(schema.columns),
                          "num_classes": list(schema.num_classes)}, "people": persons}
    path = os.path.join(out, PEOPLE_FILE)
    with atomic_write(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=1)
    return path


def scores(tracks: Sequence[CameraTracks], people: People, ground_truth: Dict[str, str]) -> dict:
    """Per camera HOTA/MOTA/IDF1/..., and the multi-camera IDF1 with linked persons against tracks alone."""
    person_of = {(s.camera, s.track): p + 1 for s, p in zip(people.spans, people.person)}
    per_camera, joint, alone = {}, [], []
    for index, camera in enumerate(tracks):
        path = ground_truth.get(camera.camera.name)
        if not path:
            continue
        gt_boxes = score.read_ground_truth(path)
        score.check_ground_truth(gt_boxes, camera.frames, camera.width, camera.height, path, camera.camera.path)
        per_camera[camera.camera.name] = score.evaluate(score.sequence_data(gt_boxes, camera.rows, camera.frames))
        linked = [dataclasses.replace(r, track=person_of[(camera.camera.name, r.track)]) for r in camera.rows]
        unlinked = [dataclasses.replace(r, track=(index + 1) * 1_000_000 + r.track) for r in camera.rows]
        joint.append((gt_boxes, linked, camera.frames))
        alone.append((gt_boxes, unlinked, camera.frames))
    if not per_camera:
        return {}
    return {"cameras": per_camera, "multi_camera": score.multi_camera(joint),
            "multi_camera_tracks_alone": score.multi_camera(alone)}


def read_inputs_first(detections: Dict[str, str], ground_truth: Dict[str, str]) -> None:
    """Parse every detection and ground-truth file before any video is read (a bad line fails fast)."""
    for path in detections.values():
        read_detections(path)
    for path in ground_truth.values():
        score.read_ground_truth(path)


def write_metrics(out: str, metrics: dict) -> str:
    path = os.path.join(out, "metrics.json")
    with atomic_write(path, "w", encoding="utf-8") as handle:
        json.dump(metrics, handle, indent=1)
    return path


@dataclass
class FootageResult:
    """What a run produced: the cameras' tracks, the people, the scores (empty without ground truth), the timings."""

    tracks: List[CameraTracks]
    people: People
    metrics: dict
    timings: Timings
    written: List[str]


def run_footage(cameras: Sequence[CameraInput], out: str, encoder: TrackletEncoder, settings: FootageSettings,
                detections: Optional[Dict[str, str]] = None, ground_truth: Optional[Dict[str, str]] = None,
                model: str = "", device: str = "cpu") -> FootageResult:
    """Every stage for ``cameras`` into ``out`` (detections / ground truth: MOTChallenge files by camera name;
    ``device``: where a torchvision detector runs)."""
    from .report import write_report

    detections, ground_truth = detections or {}, ground_truth or {}
    read_inputs_first(detections, ground_truth)
    new_detector = detectors(settings, device) if any(c.name not in detections for c in cameras) else None
    os.makedirs(out, exist_ok=True)
    timings = Timings()
    tracks = [track_camera(c, out, settings, encoder, detections.get(c.name, ""), timings, model, new_detector)
              for c in cameras]
    start = time.perf_counter()
    people = identify(tracks, encoder, out, settings.link_threshold)
    timings.seconds["identities"] += time.perf_counter() - start
    written = [os.path.join(out, "tracks"), write_identities(out, people),
               write_people(out, people, encoder.trained.schema)]
    if people.names:
        written.append(os.path.join(out, "attributes.csv"))
    metrics = scores(tracks, people, ground_truth)
    if metrics:
        written.append(write_metrics(out, metrics))
    classes, probabilities = people.classes()
    written.append(write_report(out, people.spans, people.person, [t.frames for t in people.tracklets],
                                {t.camera.name: t.fps for t in tracks}, people.names, classes, probabilities, metrics))
    return FootageResult(tracks, people, metrics, timings, written)
