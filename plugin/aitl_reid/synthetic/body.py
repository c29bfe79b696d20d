"""Draw one pedestrian (and a bicycle when riding) with OpenCV primitives on a uint8 BGR frame.

The body is a stick-and-polygon figure posed in 3-D body coordinates (lateral ``l`` to the
person's left, forward ``f``, ``y`` down from the top of the head, all in units of the person's
height) and projected for a viewing yaw, so the same look reads differently from the front (face,
chest emblem, backpack straps), the side (profile, limbs swinging) and the back (hair, backpack).
Parts are painted back to front. Coordinates use OpenCV's fixed-point ``shift`` for sub-pixel
placement, which keeps small frames (32x16) legible.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, List, Tuple

import cv2
import numpy as np

from .identity import Look
from .palette import BGR

WALKING, RUNNING, RIDING, STANDING = 0, 1, 2, 3

_SHIFT = 3
_ONE = float(1 << _SHIFT)
_AA = cv2.LINE_AA
_FOOT = 0.012  # shoe height below the ankle
_CHEST_DEPTH = 0.055
_BIKE_BGR = (34, 34, 36)
_EYE_BGR = (30, 30, 40)

# Gait per action: thigh swing, knee bend, arm swing, elbow bend, forward lean (radians).
_GAIT = {
    WALKING: (0.42, 0.55, 0.35, 0.25, 0.03),
    RUNNING: (0.72, 1.35, 0.75, 1.5, 0.15),
    STANDING: (0.03, 0.05, 0.03, 0.1, 0.0),
    RIDING: (0.0, 0.0, 0.75, 0.35, 0.25),
}


@dataclass(frozen=True)
class Pose:
    """Per-frame body state: the action (never 'various'), gait phase and viewing yaw.

    ``yaw`` is 0 when the person faces the camera, pi/2 when walking towards screen right,
    pi when seen from the back.
    """

    action: int
    phase: float
    yaw: float


@dataclass(frozen=True)
class Box:
    """Where the person stands in the frame, in pixels: horizontal centre, feet line, height."""

    cx: float
    feet: float
    height: float


Point3 = Tuple[float, float, float]  # (l, f, y)


class _Painter:
    """Projects body coordinates to the frame and draws primitives there."""

    def __init__(self, img: np.ndarray, box: Box, yaw: float, squeeze: float = 1.0) -> None:
        self.img = img
        self.squeeze = squeeze  # horizontal scale, < 1 for wide subjects fitted into the crop
        self.c = math.cos(yaw)
        self.s = math.sin(yaw)
        self.h = box.height
        self.cx = box.cx
        self.top = box.feet - box.height

    def xy(self, p: Point3) -> Tuple[int, int]:
        l, f, y = p
        x = self.cx + self.h * self.squeeze * (l * self.c + f * self.s)
        return int(round(x * _ONE)), int(round((self.top + self.h * y) * _ONE))

    def depth(self, p: Point3) -> float:
        """Distance behind the body centre along the viewing axis (positive = farther)."""
        return p[0] * self.s - p[1] * self.c

    def half_width(self, lateral: float, forward: float) -> float:
        """Projected half-width of a body section with the given lateral and forward half-sizes."""
        return self.squeeze * math.hypot(lateral * self.c, forward * self.s)

    def px(self, length: float) -> int:
        return max(1, int(round(length * self.h)))

    def line(self, a: Point3, b: Point3, color: BGR, width: float) -> None:
        cv2.line(self.img, self.xy(a), self.xy(b), color, self.px(width), _AA, _SHIFT)

    def dot(self, p: Point3, radius: float, color: BGR) -> None:
        cv2.circle(self.img, self.xy(p), max(1, int(round(radius * self.h * _ONE))), color, -1, _AA, _SHIFT)

    def ellipse(self, p: Point3, axes: Tuple[float, float], arc: Tuple[int, int], color: BGR, width: int = -1) -> None:
        ax = (max(1, int(round(axes[0] * self.squeeze * self.h * _ONE))), max(1, int(round(axes[1] * self.h * _ONE))))
        cv2.ellipse(self.img, self.xy(p), ax, 0, arc[0], arc[1], color, width, _AA, _SHIFT)

    def section_poly(self, rows: List[Tuple[float, float, float, float]], color: BGR, l: float = 0.0) -> None:
        """Fill a body section given rows of (y, forward centre, lateral half, forward half)."""
        left, right = [], []
        for y, f, lat, fwd in rows:
            x, yy = self.xy((l, f, y))
            w = int(round(self.half_width(lat, fwd) * self.h * _ONE))
            left.append((x - w, yy))
            right.append((x + w, yy))
        pts = np.array(left + right[::-1], np.int32)
        cv2.fillPoly(self.img, [pts], color, _AA, _SHIFT)


def _darker(color: BGR, factor: float) -> BGR:
    return (int(color[0] * factor), int(color[1] * factor), int(color[2] * factor))


def _swing(origin: Point3, length: float, angle: float) -> Point3:
    """End of a limb hanging from ``origin``, rotated ``angle`` radians forward from vertical."""
    return (origin[0], origin[1] + length * math.sin(angle), origin[2] + length * math.cos(angle))


def _knee_ik(hip: Point3, foot: Point3, thigh: float, shin: float) -> Point3:
    """Knee position (bending forward) that joins a hip and a foot with the given limb lengths."""
    df, dy = foot[1] - hip[1], foot[2] - hip[2]
    dist = min(max(math.hypot(df, dy), abs(thigh - shin) + 1e-6), thigh + shin - 1e-6)
    bend = math.acos((thigh * thigh + dist * dist - shin * shin) / (2 * thigh * dist))
    base = math.atan2(df, dy)
    return _swing(hip, thigh, base + bend)


@dataclass
class _Skeleton:
    head: Point3
    neck: Point3
    shoulder_y: float
    hip_y: float
    lean_f: float  # forward offset of the shoulders relative to the hips
    arms: List[Tuple[Point3, Point3, Point3]]  # (shoulder, elbow, wrist), left then right
    legs: List[Tuple[Point3, Point3, Point3]]  # (hip, knee, ankle), left then right
    crank: Point3


def _skeleton(look: Look, pose: Pose) -> _Skeleton:
    leg_amp, knee_amp, arm_amp, elbow, lean = _GAIT[pose.action]
    if look.age == 3:
        leg_amp, arm_amp = 0.7 * leg_amp, 0.6 * arm_amp
    lean += look.stoop
    r = look.head_r
    shoulder_y = 2 * r + look.neck + 0.01
    hip_y = shoulder_y + look.torso
    leg_len = 1.0 - hip_y - _FOOT
    thigh = shin = 0.5 * leg_len
    leg_l = 0.55 * look.hip_hw
    legs, crank = [], (0.0, 0.03, hip_y + 0.78 * leg_len)
    for side, phase in ((1.0, pose.phase), (-1.0, pose.phase + math.pi)):
        hip = (side * leg_l, 0.0, hip_y)
        if pose.action == RIDING:
            pedal = 0.16 * leg_len
            ankle = (hip[0], crank[1] + pedal * math.sin(phase), crank[2] + pedal * math.cos(phase))
            knee = _knee_ik(hip, ankle, thigh, shin)
        else:
            swing = leg_amp * math.sin(phase)
            knee = _swing(hip, thigh, swing)
            ankle = _swing(knee, shin, swing - knee_amp * max(0.0, math.cos(phase)))
        legs.append((hip, knee, ankle))
    drop = 0.0 if pose.action == RIDING else 1.0 - _FOOT - max(leg[2][2] for leg in legs)
    lean_f = (hip_y - shoulder_y) * math.tan(lean)
    arm_l = look.shoulder_hw + 0.35 * look.limb_w
    upper, fore = 0.55 * look.torso, 0.5 * look.torso
    arms = []
    for side, phase in ((1.0, pose.phase + math.pi), (-1.0, pose.phase)):
        shoulder = (side * (look.shoulder_hw - 0.01), lean_f, shoulder_y + 0.012)
        angle = arm_amp if pose.action == RIDING else arm_amp * math.sin(phase)
        elbow_pt = _swing((side * arm_l, shoulder[1], shoulder[2]), upper, angle)
        arms.append((shoulder, elbow_pt, _swing(elbow_pt, fore, angle + elbow)))
    head_lean = (hip_y - r) * math.tan(lean)
    skel = _Skeleton(
        head=(0.0, head_lean, r), neck=(0.0, 0.5 * (head_lean + lean_f), 2 * r + 0.5 * look.neck),
        shoulder_y=shoulder_y, hip_y=hip_y, lean_f=lean_f, arms=arms, legs=legs, crank=crank,
    )
    return _dropped(skel, drop) if drop else skel


def _dropped(skel: _Skeleton, dy: float) -> _Skeleton:
    """The skeleton lowered by ``dy`` so the lowest foot touches the ground line."""
    move = lambda p: (p[0], p[1], p[2] + dy)  # noqa: E731
    return _Skeleton(
        head=move(skel.head), neck=move(skel.neck), shoulder_y=skel.shoulder_y + dy,
        hip_y=skel.hip_y + dy, lean_f=skel.lean_f,
        arms=[tuple(map(move, arm)) for arm in skel.arms],  # type: ignore[misc]
        legs=[tuple(map(move, leg)) for leg in skel.legs],  # type: ignore[misc]
        crank=move(skel.crank),
    )


def _draw_bike(p: _Painter, sk: _Skeleton, handlebar: Point3) -> None:
    wheel = 0.15
    rear, front = (0.0, -0.27, 1.0 - wheel), (0.0, 0.31, 1.0 - wheel)
    seat = (0.0, -0.04, sk.hip_y + 0.02)
    stem = (0.0, 0.24, sk.hip_y + 0.06)
    width = 0.016
    axes = (max(wheel * abs(p.s), 0.015), wheel)
    for hub in (rear, front):
        p.ellipse(hub, axes, (0, 360), _BIKE_BGR, max(1, p.px(0.02)))
    for a, b in ((seat, sk.crank), (sk.crank, rear), (seat, rear), (seat, stem), (stem, sk.crank),
                 (handlebar, stem), (stem, front)):
        p.line(a, b, _BIKE_BGR, width)


def _draw_leg(p: _Painter, look: Look, leg: Tuple[Point3, Point3, Point3], second: bool) -> None:
    hip, knee, ankle = leg
    width = 1.25 * look.limb_w
    pants = look.bottom[-1] if second else look.bottom[0]
    covered = not look.skirt and look.long_bottom
    thigh_color = pants if not look.skirt else look.skin
    shin_color = pants if covered else look.skin
    if len(look.bottom) == 2 and covered:
        thigh_color, shin_color = look.bottom
    p.line(knee, ankle, shin_color, 0.9 * width)
    p.line(hip, knee, thigh_color, width)
    if not look.skirt and not look.long_bottom:
        hem = tuple(h + 0.6 * (k - h) for h, k in zip(hip, knee))
        p.line(hip, hem, pants, 1.15 * width)  # shorts
    toe = (ankle[0], ankle[1] + 0.045, ankle[2] + 0.008)
    heel = (ankle[0], ankle[1] - 0.01, ankle[2] + 0.008)
    p.line(heel, toe, look.shoes, 0.9 * width)


def _draw_hips(p: _Painter, look: Look, sk: _Skeleton) -> None:
    hip_y, leg_len = sk.hip_y, 1.0 - sk.hip_y - _FOOT
    if not look.skirt:
        p.section_poly([(hip_y - 0.015, 0.0, look.hip_hw, 0.06),
                        (hip_y + 0.07, 0.0, 0.55 * look.hip_hw + 0.6 * look.limb_w, 0.06)], look.bottom[0])
        return
    hem_y = hip_y + (0.85 if look.long_bottom else 0.42) * leg_len
    flare = 1.5 * look.hip_hw
    rows = [(hip_y - 0.015, 0.0, look.hip_hw, 0.065), (hem_y, 0.0, flare, 0.09)]
    p.section_poly(rows, look.bottom[0])
    if len(look.bottom) == 2:  # complex: a contrasting band around the skirt
        y0, y1 = hip_y + 0.45 * (hem_y - hip_y), hip_y + 0.7 * (hem_y - hip_y)
        lerp = lambda y: look.hip_hw + (flare - look.hip_hw) * (y - hip_y) / (hem_y - hip_y)  # noqa: E731
        p.section_poly([(y0, 0.0, lerp(y0), 0.08), (y1, 0.0, lerp(y1), 0.08)], look.bottom[1])


def _draw_torso(p: _Painter, look: Look, sk: _Skeleton) -> None:
    top, hip_y, f = sk.shoulder_y, sk.hip_y, sk.lean_f
    waist_y = top + 0.62 * (hip_y - top)
    waist = 0.8 * min(look.shoulder_hw, look.hip_hw) if look.female else 0.97 * look.hip_hw + 0.01
    edge = lambda y, w: (y, f * (hip_y - y) / (hip_y - top), w, _CHEST_DEPTH)  # noqa: E731
    p.line(sk.head, sk.neck, look.skin, 0.9 * look.head_r)
    p.section_poly([edge(top, look.shoulder_hw), edge(waist_y, waist), edge(hip_y + 0.01, look.hip_hw)],
                   look.top[0])
    if len(look.top) == 2:  # complex: horizontal stripes
        step = (hip_y - top) / 7.0
        for k in range(1, 7, 2):
            y0, y1 = top + k * step, top + (k + 1) * step
            w0 = _lerp_width(y0, top, waist_y, hip_y, look.shoulder_hw, waist, look.hip_hw)
            w1 = _lerp_width(y1, top, waist_y, hip_y, look.shoulder_hw, waist, look.hip_hw)
            p.section_poly([edge(y0, w0), edge(y1, w1)], look.top[1])


def _lerp_width(y: float, top: float, mid: float, bottom: float, w_top: float, w_mid: float, w_bottom: float) -> float:
    if y <= mid:
        return w_top + (w_mid - w_top) * (y - top) / (mid - top)
    return w_mid + (w_bottom - w_mid) * (y - mid) / (bottom - mid)


def _draw_arm(p: _Painter, look: Look, arm: Tuple[Point3, Point3, Point3], with_handbag: bool) -> None:
    shoulder, elbow, wrist = arm
    width = look.limb_w
    sleeve = look.top[0]
    if look.long_sleeves:
        p.line(shoulder, elbow, sleeve, width)
        p.line(elbow, wrist, sleeve, 0.9 * width)
    else:
        p.line(elbow, wrist, look.skin, 0.85 * width)
        p.line(shoulder, elbow, look.skin, 0.9 * width)
        cuff = tuple(s + 0.5 * (e - s) for s, e in zip(shoulder, elbow))
        p.line(shoulder, cuff, sleeve, 1.15 * width)
    p.dot(wrist, 0.55 * width, look.skin)
    if with_handbag:
        bag_top = (wrist[0], wrist[1], wrist[2] + 0.02)
        bag_bottom = (wrist[0], wrist[1], wrist[2] + 0.085)
        p.line(wrist, bag_top, look.bag_color, 0.012)
        p.section_poly([(bag_top[2], wrist[1], 0.032, 0.012), (bag_bottom[2], wrist[1], 0.04, 0.014)],
                       look.bag_color, l=wrist[0])


def _draw_head(p: _Painter, look: Look, sk: _Skeleton) -> None:
    """Face and hair cap when facing the camera, hair over the whole head from behind."""
    r = look.head_r
    head = sk.head
    p.dot(head, r, look.skin)
    if p.c > 0.0:
        p.ellipse((head[0], head[1] - 0.3 * r, head[2] - 0.18 * r), (1.04 * r, 0.8 * r), (180, 360), look.hair)
        for side in (-1.0, 1.0):
            if 0.9 * p.c - 0.4 * side * p.s > 0.3:  # the eye's surface faces the camera
                p.dot((side * 0.38 * r, head[1] + 0.85 * r, head[2] + 0.12 * r), 0.11 * r, _EYE_BGR)
    else:
        p.dot((head[0], head[1], head[2] - 0.06 * r), 1.02 * r, look.hair)
    if look.hat:
        _draw_hat(p, look, head)


def _long_hair_back(look: Look, sk: _Skeleton) -> Point3:
    return (sk.head[0], sk.head[1] - 0.45 * look.head_r, sk.head[2])


def _draw_long_hair(p: _Painter, look: Look, sk: _Skeleton) -> None:
    """Hair falling to below the shoulders behind the head (over the back when seen from behind)."""
    r = look.head_r
    back = _long_hair_back(look, sk)
    end_y = sk.shoulder_y + 0.07
    p.section_poly([(back[2], back[1], 0.95 * r, 0.6 * r), (end_y, back[1] - 0.02, 0.9 * r, 0.4 * r)], look.hair)


def _draw_hat(p: _Painter, look: Look, head: Point3) -> None:
    r = look.head_r
    crown = (head[0], head[1], head[2] - 0.3 * r)
    p.ellipse(crown, (1.08 * r, 0.85 * r), (180, 360), look.hat_color)
    brim_y = head[2] - 0.3 * r
    pts = np.array([p.xy((1.05 * r, head[1] + 0.4 * r, brim_y)), p.xy((0.0, head[1] + 1.7 * r, brim_y)),
                    p.xy((-1.05 * r, head[1] + 0.4 * r, brim_y))], np.int32)
    cv2.fillConvexPoly(p.img, pts, look.hat_color, _AA, _SHIFT)
    p.line((1.05 * r, head[1], brim_y), (-1.05 * r, head[1], brim_y), look.hat_color, 0.2 * r)


def _draw_emblem(p: _Painter, look: Look, sk: _Skeleton) -> None:
    size = look.emblem_size
    y = sk.shoulder_y + 0.28 * (sk.hip_y - sk.shoulder_y)
    centre = (look.emblem_offset, sk.lean_f * 0.7 + _CHEST_DEPTH, y)
    if look.emblem_shape == 0:
        p.dot(centre, 0.5 * size, look.emblem_color)
        return
    l, f, _ = centre
    half = 0.5 * size
    shapes = {
        1: [(-half, -half), (half, -half), (half, half), (-half, half)],
        2: [(0.0, -half), (half, half), (-half, half)],
        3: [(0.0, -half * 1.3), (half, 0.0), (0.0, half * 1.3), (-half, 0.0)],
        4: [(-half * 1.4, -half * 0.4), (half * 1.4, -half * 0.4), (half * 1.4, half * 0.4), (-half * 1.4, half * 0.4)],
        5: [(-half * 0.4, -half * 1.3), (half * 0.4, -half * 1.3), (half * 0.4, half * 1.3), (-half * 0.4, half * 1.3)],
    }
    pts = np.array([p.xy((l + dx, f, y + dy)) for dx, dy in shapes[look.emblem_shape]], np.int32)
    cv2.fillConvexPoly(p.img, pts, look.emblem_color, _AA, _SHIFT)


def _draw_backpack(p: _Painter, look: Look, sk: _Skeleton) -> None:
    top, depth = sk.shoulder_y + 0.02, 0.05
    centre_f = sk.lean_f * 0.8 - _CHEST_DEPTH - depth
    rows = [(top, centre_f, 0.085, depth), (top + 0.2, centre_f + 0.01, 0.09, depth)]
    p.section_poly(rows, look.backpack_color)
    if p.c < -0.2:  # seen from the back: a darker front pocket
        p.section_poly([(top + 0.11, centre_f, 0.06, depth), (top + 0.18, centre_f, 0.065, depth)],
                       _darker(look.backpack_color, 0.6))


def _draw_straps(p: _Painter, look: Look, sk: _Skeleton) -> None:
    dark = _darker(look.backpack_color, 0.7)
    f = sk.lean_f + _CHEST_DEPTH
    for side in (-1.0, 1.0):
        start = (side * 0.6 * look.shoulder_hw, f, sk.shoulder_y)
        p.line(start, (side * 0.55 * look.shoulder_hw, 0.5 * f + 0.03, sk.shoulder_y + 0.16), dark, 0.015)


def _draw_shoulder_strap(p: _Painter, look: Look, sk: _Skeleton) -> None:
    f = _CHEST_DEPTH if p.c >= 0 else -_CHEST_DEPTH
    shoulder = (0.7 * look.shoulder_hw, sk.lean_f + f, sk.shoulder_y)
    p.line(shoulder, (-0.9 * look.hip_hw, f, sk.hip_y - 0.03), look.bag_color, 0.012)


def _bag_lateral(look: Look) -> float:
    return -(look.hip_hw + 0.03)  # the shoulder bag hangs at the right hip


def _draw_bag(p: _Painter, look: Look, sk: _Skeleton) -> None:
    rows = [(sk.hip_y - 0.04, 0.01, 0.04, 0.03), (sk.hip_y + 0.07, 0.01, 0.045, 0.032)]
    p.section_poly(rows, look.bag_color, l=_bag_lateral(look))


def draw_person(img: np.ndarray, look: Look, pose: Pose, box: Box) -> None:
    """Paint a person with ``look`` in ``pose`` inside ``box`` onto ``img`` (in place)."""
    # A cyclist's wide detection box is resized to the crop's aspect ratio, squeezing it sideways.
    squeeze = 1.0 - 0.45 * abs(math.sin(pose.yaw)) if pose.action == RIDING else 1.0
    p = _Painter(img, box, pose.yaw, squeeze)
    sk = _skeleton(look, pose)
    if pose.action == RIDING:
        _draw_bike(p, sk, sk.arms[1][2])
    for index in sorted(range(2), key=lambda i: -p.depth(sk.legs[i][1])):
        _draw_leg(p, look, sk.legs[index], second=index == 1)
    _draw_hips(p, look, sk)

    # Paint order by depth (farther first); ties keep this order: torso, head, then front details.
    layers: List[Tuple[float, Callable[[], None]]] = [
        (p.depth(sk.arms[0][1]), lambda: _draw_arm(p, look, sk.arms[0], False)),
        (p.depth(sk.arms[1][1]), lambda: _draw_arm(p, look, sk.arms[1], look.handbag)),
        (0.0, lambda: _draw_torso(p, look, sk)),
        (0.0, lambda: _draw_head(p, look, sk)),
    ]
    if look.long_hair:
        back = _long_hair_back(look, sk)
        layers.append((p.depth((back[0], back[1] - 0.05, 0.0)) + 1e-3, lambda: _draw_long_hair(p, look, sk)))
    if look.backpack:
        layers.append((p.depth((0.0, -_CHEST_DEPTH - 0.05, 0.0)) + 1e-3, lambda: _draw_backpack(p, look, sk)))
    if look.shoulder_bag:
        layers.append((p.depth((_bag_lateral(look), 0.01, 0.0)), lambda: _draw_bag(p, look, sk)))
        layers.append((0.0, lambda: _draw_shoulder_strap(p, look, sk)))
    if p.c > 0.25:  # chest details face the camera
        layers.append((0.0, lambda: _draw_emblem(p, look, sk)))
        if look.backpack:
            layers.append((0.0, lambda: _draw_straps(p, look, sk)))
    for _, draw in sorted(layers, key=lambda item: -item[0]):
        draw()
