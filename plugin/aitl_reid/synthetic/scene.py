"""Per-tracklet conditions (the nine identity-irrelevant labels) and the per-frame plan that shows them.

The labels are sampled first and written to the CSV; the plan then makes each one visible:
limb motion for the action, the viewing yaw for the angle, an occluder sliding over the body in a
block of frames, the body partly out of the crop, a second person overlapping, a small person on
a large background, and frames that show someone else or nobody. Distractor (pid 0) and junk
(pid -1) tracklets reuse the same machinery as false or poor detections.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..schema import ID_IRRELEVANT, MARS_V2
from .body import RIDING, RUNNING, STANDING, WALKING, Box, Pose
from .camera import NOISE_BANK
from .identity import Look, sample_identity
from .palette import ACTION_PRIOR, ANGLE_NAMES, ANGLE_PRIOR, BGR, FLAG_PRIOR

ID_IRRELEVANT_NAMES: Tuple[str, ...] = tuple(MARS_V2.names[i] for i in MARS_V2.indices(ID_IRRELEVANT))
TEMPORAL_FLAGS = ("target-change", "target-miss", "wrong-target")
MIN_FRAMES_FOR_TEMPORAL = 3  # a flag that changes the content of some frames needs a few frames
ROLES = ("identity", "distractor", "junk")

_VARIOUS_ACTION = 4
_VARIOUS_ANGLE = len(ANGLE_NAMES) - 1
_ANGLE_DEGREES = (0.0, 45.0, 90.0, 135.0, 180.0)
_ACTION_CHANGES = ((WALKING, STANDING), (STANDING, WALKING), (WALKING, RUNNING), (RUNNING, WALKING))  # 'various'
_PHASE_STEP = {WALKING: 0.75, RUNNING: 1.15, RIDING: 0.8, STANDING: 0.12}
_PAN_SPEED = {WALKING: 0.9, RUNNING: 2.0, RIDING: 2.6, STANDING: 0.0}  # px/frame at width 64
POLE, LOW_OBSTACLE, WALL_EDGE = 0, 1, 2  # occluder kinds


@dataclass(frozen=True)
class Figure:
    """A person drawn in one frame."""

    look: Look
    pose: Pose
    box: Box


@dataclass(frozen=True)
class Occluder:
    """An object in front of everyone: a pole, a low obstacle (car, bench, bush) or a wall edge."""

    kind: int
    x0: float
    y0: float
    x1: float
    y1: float
    color: BGR
    accent: BGR


@dataclass(frozen=True)
class FramePlan:
    """Everything one frame shows, back to front."""

    bg_offset: int
    figures: Tuple[Figure, ...]
    occluder: Optional[Occluder]
    noise_index: int


def sample_conditions(rng: np.random.Generator, num_frames: int) -> Dict[str, int]:
    """The nine identity-irrelevant labels of a tracklet, in schema order.

    At most one of target-change / target-miss / wrong-target is set, so the target stays the
    main content; tracklets shorter than ``MIN_FRAMES_FOR_TEMPORAL`` get none of them.
    """
    labels = {
        "action": int(rng.choice(len(ACTION_PRIOR), p=ACTION_PRIOR)),
        "angle": int(rng.choice(len(ANGLE_PRIOR), p=ANGLE_PRIOR)),
    }
    for name, prob in FLAG_PRIOR.items():
        labels[name] = int(rng.random() < prob)
    temporal = [name for name in TEMPORAL_FLAGS if labels[name]]
    keep = temporal[int(rng.integers(len(temporal)))] if temporal else None
    for name in TEMPORAL_FLAGS:
        labels[name] = int(name == keep and num_frames >= MIN_FRAMES_FOR_TEMPORAL)
    if num_frames < 2:  # one frame cannot show a change of action or angle
        if labels["action"] == _VARIOUS_ACTION:
            labels["action"] = WALKING
        if labels["angle"] == _VARIOUS_ANGLE:
            labels["angle"] = 0
    return {name: labels[name] for name in ID_IRRELEVANT_NAMES}


def conditions_for_role(role: str, rng: np.random.Generator, num_frames: int) -> Dict[str, int]:
    """Conditions of a tracklet; distractors and junk are poor detections (cut or tiny persons)."""
    if role not in ROLES:
        raise ValueError(f"unknown tracklet role '{role}'; expected one of {ROLES}")
    labels = sample_conditions(rng, num_frames)
    if role == "junk":
        labels["cut"] = 1
    elif role == "distractor":
        key = ("cut", "back-dominant")[int(rng.integers(2))]
        labels[key] = 1
    return labels


def target_for_role(role: str, identity_look: Optional[Look], rng: np.random.Generator) -> Optional[Look]:
    """The main person of a tracklet: the identity, or for a distractor a stranger or nobody
    (a false detection on background), or for junk a stranger."""
    if role == "identity":
        if identity_look is None:
            raise ValueError("an identity tracklet needs the identity's look")
        return identity_look
    if role == "distractor" and rng.random() < 0.5:
        return None
    return sample_identity(rng).look


def _action_track(action: int, n: int, rng: np.random.Generator) -> List[int]:
    if action != _VARIOUS_ACTION:
        return [action] * n
    first, second = _ACTION_CHANGES[int(rng.integers(len(_ACTION_CHANGES)))]
    switch = int(rng.integers(1, n)) if n > 1 else 1
    return [first if t < switch else second for t in range(n)]


def _yaw_track(angle: int, n: int, rng: np.random.Generator) -> List[float]:
    direction = 1.0 if rng.random() < 0.5 else -1.0
    jitter = math.radians(rng.normal(0.0, 6.0))
    if angle != _VARIOUS_ANGLE:
        yaw = direction * math.radians(_ANGLE_DEGREES[angle]) + jitter
        return [yaw] * n
    start = int(rng.integers(len(_ANGLE_DEGREES)))
    end = (start + int(rng.integers(2, len(_ANGLE_DEGREES)))) % len(_ANGLE_DEGREES)
    a, b = (direction * math.radians(_ANGLE_DEGREES[i]) + jitter for i in (start, end))
    return [a + (b - a) * t / max(1, n - 1) for t in range(n)]


def _base_box(conditions: Dict[str, int], stature: float, height: int, width: int,
              rng: np.random.Generator) -> Box:
    """The person's box at the first frame; back-dominant and cut change scale and placement."""
    if conditions["back-dominant"]:
        size = rng.uniform(0.4, 0.55) * stature * height
        box = Box(rng.uniform(0.3, 0.7) * width, rng.uniform(0.62, 0.92) * height, size)
    else:
        size = rng.uniform(0.86, 0.94) * stature * height
        box = Box((0.5 + rng.normal(0.0, 0.04)) * width, rng.uniform(0.95, 0.99) * height, size)
    if not conditions["cut"]:
        return box
    mode = int(rng.integers(3))
    if mode == 0:  # legs below the crop
        size = box.height * rng.uniform(1.3, 1.5)
        return Box(box.cx, size + height * rng.uniform(-0.02, 0.06), size)
    if mode == 1:  # half outside a side
        edge = rng.uniform(0.0, 0.12) if rng.random() < 0.5 else rng.uniform(0.88, 1.0)
        return Box(edge * width, box.feet, box.height)
    size = box.height * rng.uniform(1.2, 1.35)  # head above the crop
    return Box(box.cx, height * rng.uniform(0.98, 1.03), size)


def _block(n: int, rng: np.random.Generator, min_len: int, max_len: int, interior: bool) -> range:
    """A run of consecutive frames; ``interior`` keeps the first and last frame outside it."""
    lo, hi = (1, n - 1) if interior else (0, n)
    length = int(rng.integers(min_len, max(min_len, min(max_len, hi - lo)) + 1))
    start = int(rng.integers(lo, max(lo, hi - length) + 1))
    return range(start, min(hi, start + length))


def _who_is_shown(conditions: Dict[str, int], target: Optional[Look], n: int,
                  rng: np.random.Generator) -> List[Optional[Look]]:
    """Per frame, the look in the target's box: the target, someone else, or nobody."""
    shown: List[Optional[Look]] = [target] * n
    if target is None:
        return shown
    third = max(1, n // 3)
    if conditions["target-change"]:
        other = sample_identity(rng).look
        switch = int(rng.integers((n + 1) // 2, n))
        shown[switch:] = [other] * (n - switch)
    elif conditions["wrong-target"]:
        other = sample_identity(rng).look
        for t in _block(n, rng, 1, third, interior=True):
            shown[t] = other
    elif conditions["target-miss"]:
        for t in _block(n, rng, 1, third, interior=False):
            shown[t] = None
    return shown


def _occluders(n: int, box: Box, height: int, width: int, rng: np.random.Generator) -> List[Optional[Occluder]]:
    """An occluder over part of the body in a block of at least a third of the frames."""
    frames = _block(n, rng, max(1, math.ceil(n / 3)), max(1, (2 * n) // 3), interior=False)
    kind = int(rng.integers(3))
    red, green, blue = (int(c) for c in rng.integers(40, 200, 3))
    color = (blue, green, red)
    accent = (int(0.6 * blue), int(0.6 * green), int(0.6 * red))
    side = 1.0 if rng.random() < 0.5 else -1.0
    plans: List[Optional[Occluder]] = [None] * n
    for k, t in enumerate(frames):
        progress = k / max(1, len(frames) - 1)
        if kind == POLE:
            half = rng.uniform(0.09, 0.15) * width
            x = box.cx + side * width * (0.45 - 0.65 * progress)
            plans[t] = Occluder(kind, x - half, -1.0, x + half, height + 1.0, color, accent)
        elif kind == LOW_OBSTACLE:
            top = box.feet - box.height * (0.3 + 0.25 * progress)
            plans[t] = Occluder(kind, -1.0, top, width + 1.0, height + 1.0, color, accent)
        else:
            reach = box.cx + side * box.height * 0.05 * (1.0 - progress)
            x0, x1 = (reach, width + 1.0) if side > 0 else (-1.0, reach)
            plans[t] = Occluder(kind, x0, -1.0, x1, height + 1.0, color, accent)
    return plans


def _companion(conditions: Dict[str, int], box: Box, n: int, width: int,
               rng: np.random.Generator) -> Tuple[Optional[Look], List[Box], List[Pose], bool]:
    """A second person overlapping the target, in front or behind, drifting across."""
    if not conditions["multi-person"]:
        return None, [], [], False
    look = sample_identity(rng).look
    side = 1.0 if rng.random() < 0.5 else -1.0
    size = box.height * rng.uniform(0.85, 1.1)
    cx = box.cx + side * width * rng.uniform(0.3, 0.55)
    drift = -side * width * rng.uniform(0.0, 0.03)
    feet = box.feet + box.height * rng.uniform(-0.05, 0.04)
    action = WALKING if rng.random() < 0.7 else STANDING
    yaw = side * math.radians(float(rng.choice(_ANGLE_DEGREES)))
    phase = rng.uniform(0, 2 * math.pi)
    boxes = [Box(cx + drift * t, feet, size) for t in range(n)]
    poses = [Pose(action, phase + _PHASE_STEP[action] * t, yaw) for t in range(n)]
    return look, boxes, poses, bool(rng.random() < 0.5)


def plan_tracklet(target: Optional[Look], conditions: Dict[str, int], num_frames: int, height: int,
                  width: int, strip_width: int, rng: np.random.Generator) -> List[FramePlan]:
    """Frame-by-frame content of a tracklet whose main person is ``target`` (None: nobody)."""
    n = num_frames
    actions = _action_track(conditions["action"], n, rng)
    yaws = _yaw_track(conditions["angle"], n, rng)
    stature = target.stature if target is not None else 1.0
    box = _base_box(conditions, stature, height, width, rng)
    shown = _who_is_shown(conditions, target, n, rng)
    occluders = _occluders(n, box, height, width, rng) if conditions["occlusion"] else [None] * n
    mate, mate_boxes, mate_poses, mate_in_front = _companion(conditions, box, n, width, rng)
    offset = float(rng.integers(0, strip_width - width + 1))
    phase = rng.uniform(0, 2 * math.pi)
    drift = 0.0
    plans = []
    for t in range(n):
        drift = float(np.clip(drift + rng.normal(0.0, 0.012 * width), -0.08 * width, 0.08 * width))
        scale = 1.0 + rng.normal(0.0, 0.015)
        frame_box = Box(box.cx + drift, box.feet + rng.normal(0.0, 0.008 * height), box.height * scale)
        figures: List[Figure] = []
        if mate is not None and not mate_in_front:
            figures.append(Figure(mate, mate_poses[t], mate_boxes[t]))
        person = shown[t]
        if person is not None:
            figures.append(Figure(person, Pose(actions[t], phase, yaws[t]), frame_box))
        if mate is not None and mate_in_front:
            figures.append(Figure(mate, mate_poses[t], mate_boxes[t]))
        plans.append(FramePlan(int(offset), tuple(figures), occluders[t], int(rng.integers(NOISE_BANK))))
        phase += _PHASE_STEP[actions[t]] * rng.uniform(0.9, 1.1)
        offset -= _PAN_SPEED[actions[t]] * (width / 64.0) * math.sin(yaws[t])
        last = strip_width - width
        if not 0 <= offset <= last:  # reflect at the ends of the strip
            offset = float(np.clip(-offset if offset < 0 else 2 * last - offset, 0, last))
    return plans
