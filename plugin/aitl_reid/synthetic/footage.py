"""A synthetic multi-camera scene with ground truth: walkers crossing static cameras, some seen by more than one.

Each camera is a static view of one of the renderer's scenes (its background, colour cast, blur and per-frame
sensor noise); walkers drawn by the renderer's body model cross it left to right or right to left at their
own depth, so that people walking opposite ways pass in front of each other. Every second walker, after
leaving its first camera, crosses the next one. Writes per camera an MJPG video ``cam<k>.avi`` and its
MOTChallenge ground truth ``cam<k>.gt.txt`` (``frame,id,x,y,w,h,1,1,1``; ids global across cameras, boxes
the person's drawn pixels, clipped to the frame), what ``aitl-reid-track --gt`` scores against.

    python -m aitl_reid.synthetic.footage OUT [--people 6] [--cameras 3] [--frames 200] [--seed 0]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass
from typing import List, Optional, Tuple

import cv2
import numpy as np

from ..process_exit import finish
from ..serialization import atomic_write
from .body import WALKING, Box, Pose, draw_person
from .camera import finish_frame, make_camera
from .identity import Look, sample_identity
from .scene import _PHASE_STEP

MIN_VISIBLE = 0.5  # share of a box inside the frame for it to count as ground truth
ENTER_AFTER = 15  # first frames are empty: the background subtractor learns the scene


@dataclass(frozen=True)
class Visit:
    """One walker crossing one camera."""

    person: int  # ground-truth id, from 1
    camera: int
    enter: int  # frame the walk starts (1-based)
    direction: int  # +1: to the right
    depth: float  # feet line as a fraction of the frame height (larger: nearer, taller)


def plan_visits(people: int, cameras: int, crossing: int, rng: np.random.Generator) -> List[Visit]:
    """Who crosses which camera when: walker p starts in camera p mod C, a few frames after the one before it in
    that camera; every second walker goes on to the next camera after leaving."""
    visits = []
    for p in range(people):
        camera, direction = p % cameras, 1 if (p // cameras) % 2 == 0 else -1
        enter = ENTER_AFTER + (p // cameras) * crossing // 2 + int(rng.integers(0, max(1, crossing // 4)))
        visits.append(Visit(p + 1, camera, enter, direction, float(rng.uniform(0.72, 0.95))))
        if cameras > 1 and p % 2 == 0:
            visits.append(Visit(p + 1, (camera + 1) % cameras, enter + crossing + int(rng.integers(3, 10)), direction,
                                float(rng.uniform(0.72, 0.95))))
    return visits


def person_box(look: Look, pose: Pose, box: Box, width: int, height: int) -> Optional[Tuple[int, int, int, int]]:
    """The pixels the person covers (drawn on black and on white, kept where both agree), as ``x, y, w, h``."""
    size = int(box.height * 1.3) + 4
    x0, y0 = int(box.cx) - size // 2, int(box.feet) - size + 4
    local = Box(box.cx - x0, box.feet - y0, box.height)
    dark, light = np.zeros((size, size, 3), np.uint8), np.full((size, size, 3), 255, np.uint8)
    draw_person(dark, look, pose, local)
    draw_person(light, look, pose, local)
    ys, xs = np.nonzero((np.abs(dark.astype(int) - light.astype(int)) < 60).all(2))
    if len(xs) == 0:
        return None
    left, top, right, bottom = x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1
    area = (right - left) * (bottom - top)
    cl, ct, cr, cb = max(0, left), max(0, top), min(width, right), min(height, bottom)
    if cr <= cl or cb <= ct or (cr - cl) * (cb - ct) < MIN_VISIBLE * area:
        return None
    return int(cl), int(ct), int(cr - cl), int(cb - ct)


def render_footage(out: str, people: int = 6, cameras: int = 3, frames: int = 200, size: Tuple[int, int] = (320, 240),
                   crossing: int = 80, seed: int = 0) -> List[str]:
    """Write ``cam<k>.avi`` and ``cam<k>.gt.txt`` for ``cameras`` cameras into ``out``; returns the video paths.

    ``size`` is (width, height); a walk across a camera takes ``crossing`` frames.
    """
    width, height = size
    rng = np.random.default_rng(seed)
    looks = {p + 1: sample_identity(rng).look for p in range(people)}
    visits = plan_visits(people, cameras, crossing, rng)
    os.makedirs(out, exist_ok=True)
    videos = []
    for cam in range(cameras):
        camera = make_camera(rng, height, width)
        background = camera.background[:, :width].copy()
        mine = [v for v in visits if v.camera == cam]
        video = os.path.join(out, f"cam{cam + 1}.avi")
        partial = os.path.join(out, f".partial-cam{cam + 1}.avi")
        writer = cv2.VideoWriter(partial, cv2.VideoWriter_fourcc(*"MJPG"), 10, (width, height))
        lines = []
        for frame in range(1, frames + 1):
            image = background.copy()
            for visit in sorted(mine, key=lambda v: v.depth):  # far first
                t = frame - visit.enter
                if t < 0:
                    continue
                stature = height * 0.55 * visit.depth
                start = -0.2 * stature if visit.direction > 0 else width + 0.2 * stature
                cx = start + visit.direction * t * (width + 0.4 * stature) / crossing
                if not -0.3 * stature < cx < width + 0.3 * stature:
                    continue
                pose = Pose(WALKING, t * _PHASE_STEP[WALKING], math.pi / 2 * visit.direction)
                box = Box(cx, visit.depth * height, stature)
                draw_person(image, looks[visit.person], pose, box)
                drawn = person_box(looks[visit.person], pose, box, width, height)
                if drawn:
                    lines.append(f"{frame},{visit.person},{drawn[0]},{drawn[1]},{drawn[2]},{drawn[3]},1,1,1")
            writer.write(finish_frame(camera, image, frame % len(camera.noise)))
        writer.release()
        os.replace(partial, video)
        with atomic_write(os.path.splitext(video)[0] + ".gt.txt", "w", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
        videos.append(video)
    return videos


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="output folder")
    parser.add_argument("--people", type=int, default=6)
    parser.add_argument("--cameras", type=int, default=3)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--crossing", type=int, default=80, help="frames a walk across a camera takes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for video in render_footage(args.out, args.people, args.cameras, args.frames, (args.width, args.height),
                                args.crossing, args.seed):
        print(f"wrote {video} and {os.path.splitext(video)[0]}.gt.txt")
    return 0


if __name__ == "__main__":
    sys.exit(finish(main()))
