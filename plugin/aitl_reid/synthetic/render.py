"""Compose frames from a plan: background crop, people back to front, occluder, then the camera's look."""
from __future__ import annotations

from typing import List

import cv2
import numpy as np

from .body import draw_person
from .camera import Camera, encode_jpeg, finish_frame
from .scene import LOW_OBSTACLE, POLE, FramePlan, Occluder


def draw_occluder(img: np.ndarray, occ: Occluder) -> None:
    """Paint a pole, a low obstacle (car-like, with wheels and windows) or a wall edge."""
    x0, y0, x1, y1 = (int(round(v)) for v in (occ.x0, occ.y0, occ.x1, occ.y1))
    cv2.rectangle(img, (x0, y0), (x1, y1), occ.color, -1)
    h, w = img.shape[:2]
    if occ.kind == POLE:
        cv2.line(img, (x0 + max(1, (x1 - x0) // 4), 0), (x0 + max(1, (x1 - x0) // 4), h), occ.accent, max(1, w // 32))
    elif occ.kind == LOW_OBSTACLE:
        band = max(2, (y1 - y0) // 3)
        cv2.rectangle(img, (x0, y0), (x1, y0 + band), occ.accent, -1)
        radius = max(2, h // 14)
        for cx in (w // 4, 3 * w // 4):
            cv2.circle(img, (cx, h - radius // 2), radius, (25, 25, 25), -1)
    else:
        edge = x0 if x1 >= w else x1
        cv2.line(img, (edge, 0), (edge, h), occ.accent, max(1, w // 24))


def render_frame(camera: Camera, plan: FramePlan, width: int) -> np.ndarray:
    """The finished BGR frame for one plan."""
    img = camera.background[:, plan.bg_offset:plan.bg_offset + width].copy()
    for figure in plan.figures:
        draw_person(img, figure.look, figure.pose, figure.box)
    if plan.occluder is not None:
        draw_occluder(img, plan.occluder)
    return finish_frame(camera, img, plan.noise_index)


def render_tracklet_jpegs(camera: Camera, plans: List[FramePlan], width: int) -> List[bytes]:
    """JPEG bytes of every frame of a tracklet, in order."""
    return [encode_jpeg(camera, render_frame(camera, plan, width)) for plan in plans]
