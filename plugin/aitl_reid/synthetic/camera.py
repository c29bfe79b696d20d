"""Cameras: a wide background strip per camera, plus its colour cast, blur, sensor noise and JPEG quality.

Each camera has its own scene (building front, trees or open campus), ground, lighting and
colour response, so the same person looks different across cameras as in MARS, and a model can
learn camera bias that re-identification must overcome. A tracklet crops a window from the
strip and pans across it as the person moves.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .palette import BGR

STRIP_WIDTHS = 4  # background strip width in frame widths
NOISE_BANK = 4  # pre-drawn noise images per camera, picked per frame (cheaper than fresh noise)


@dataclass(frozen=True)
class Camera:
    """One camera's rendering state; ``background`` is ``H x STRIP_WIDTHS*W x 3`` uint8 BGR."""

    background: np.ndarray
    lut: np.ndarray  # 256 x 1 x 3 colour-cast lookup table
    blur_sigma: float  # 0 = sharp
    noise: np.ndarray  # NOISE_BANK x H x W x 3 int16
    jpeg_quality: int


def _muted(rng: np.random.Generator, lo: int = 60, hi: int = 200, grey_mix: float = 0.55) -> BGR:
    """A plausible scene colour: a random colour pulled towards grey."""
    base = rng.integers(lo, hi, 3)
    grey = base.mean()
    return tuple(int(grey_mix * grey + (1 - grey_mix) * c) for c in base)  # type: ignore[return-value]


def _draw_building(img: np.ndarray, rng: np.random.Generator, horizon: int) -> None:
    h, w = img.shape[:2]
    img[:horizon] = _muted(rng, 110, 210)
    win = _muted(rng, 40, 140, 0.3)
    cell_w, cell_h = max(4, int(w / rng.uniform(10, 18))), max(4, int(h * rng.uniform(0.12, 0.2)))
    for y in range(int(cell_h * 0.3), horizon - cell_h // 2, cell_h):
        for x in range(int(rng.integers(0, cell_w)), w, cell_w):
            cv2.rectangle(img, (x, y), (x + int(cell_w * 0.55), y + int(cell_h * 0.6)), win, -1)
    pillar = _muted(rng, 80, 180)
    for x in range(int(rng.integers(0, w // 5)), w, max(8, int(w / rng.uniform(4, 7)))):
        cv2.rectangle(img, (x, 0), (x + max(2, w // 60), horizon), pillar, -1)


def _draw_trees(img: np.ndarray, rng: np.random.Generator, horizon: int) -> None:
    h, w = img.shape[:2]
    img[:horizon] = _muted(rng, 170, 240, 0.8)
    for _ in range(int(w / max(8, h * 0.35))):
        x = int(rng.integers(0, w))
        trunk = max(2, int(h * 0.04))
        cv2.rectangle(img, (x, int(horizon * 0.35)), (x + trunk, horizon), (40, 60, 85), -1)
        green = (int(rng.integers(30, 80)), int(rng.integers(90, 160)), int(rng.integers(30, 90)))
        for _ in range(3):
            cx = x + int(rng.integers(-h // 8, h // 8 + 1))
            cy = int(horizon * rng.uniform(0.15, 0.45))
            cv2.circle(img, (cx, cy), int(h * rng.uniform(0.1, 0.18)), green, -1)


def _draw_campus(img: np.ndarray, rng: np.random.Generator, horizon: int) -> None:
    h, w = img.shape[:2]
    img[:horizon] = _muted(rng, 180, 250, 0.85)
    x = 0
    while x < w:
        bw = int(h * rng.uniform(0.3, 0.9))
        top = int(horizon * rng.uniform(0.05, 0.6))
        cv2.rectangle(img, (x, top), (x + bw, horizon), _muted(rng, 90, 200), -1)
        x += bw + int(rng.integers(0, h // 6 + 1))


def _draw_ground(img: np.ndarray, rng: np.random.Generator, horizon: int) -> None:
    h, w = img.shape[:2]
    ground = _muted(rng, 70, 190, 0.7)
    img[horizon:] = ground
    line = tuple(int(0.8 * c) for c in ground)
    y, gap = horizon, max(2.0, h * 0.02)
    while y < h:
        cv2.line(img, (0, int(y)), (w, int(y)), line, 1)
        y, gap = y + gap, gap * 1.35
    vanish = int(rng.integers(0, w))
    for x in range(-w, 2 * w, max(6, int(h * 0.25))):
        cv2.line(img, (vanish, horizon), (x, h), line, 1)
    for _ in range(int(w / max(16, h * 0.6))):  # lamp posts and bins along the horizon
        x = int(rng.integers(0, w))
        cv2.rectangle(img, (x, int(horizon * 0.4)), (x + max(1, h // 80), horizon + h // 20), (60, 60, 64), -1)
        cv2.rectangle(img, (x + 3, horizon - h // 14), (x + 3 + h // 14, horizon + h // 30), _muted(rng), -1)


def _lighting(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth multiplicative illumination field (shadows, sun patches)."""
    coarse = rng.uniform(0.8, 1.15, (3, 8)).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)[:, :, None]


def _colour_cast(rng: np.random.Generator) -> np.ndarray:
    gains = rng.uniform(0.8, 1.2, 3)
    gains /= gains.mean()
    gamma = rng.uniform(0.8, 1.25)
    offset = rng.uniform(-18, 12)
    ramp = np.arange(256, dtype=np.float64) / 255.0
    table = np.stack([255.0 * ramp ** gamma * g + offset for g in gains], axis=1)
    return np.clip(table, 0, 255).astype(np.uint8).reshape(256, 1, 3)


def make_camera(rng: np.random.Generator, height: int, width: int) -> Camera:
    """Draw one camera: its background strip and imaging characteristics."""
    strip = np.zeros((height, STRIP_WIDTHS * width, 3), np.uint8)
    horizon = int(height * rng.uniform(0.35, 0.6))
    scene = (_draw_building, _draw_trees, _draw_campus)[int(rng.integers(3))]
    scene(strip, rng, horizon)
    _draw_ground(strip, rng, horizon)
    lit = np.clip(strip.astype(np.float32) * _lighting(rng, height, strip.shape[1]), 0, 255).astype(np.uint8)
    background = cv2.GaussianBlur(lit, (0, 0), 0.7)
    sigma = rng.uniform(2.0, 6.0)
    noise = np.rint(rng.normal(0.0, sigma, (NOISE_BANK, height, width, 3))).astype(np.int16)
    return Camera(
        background=background,
        lut=_colour_cast(rng),
        blur_sigma=float(rng.choice([0.0, 0.6, 0.9])),
        noise=noise,
        jpeg_quality=int(rng.integers(75, 96)),
    )


def finish_frame(camera: Camera, img: np.ndarray, noise_index: int) -> np.ndarray:
    """Apply the camera's colour cast, optics blur and sensor noise to a composed frame."""
    out = cv2.LUT(img, camera.lut)
    if camera.blur_sigma > 0:
        out = cv2.GaussianBlur(out, (0, 0), camera.blur_sigma)
    return np.clip(out.astype(np.int16) + camera.noise[noise_index], 0, 255).astype(np.uint8)


def encode_jpeg(camera: Camera, img: np.ndarray) -> bytes:
    """JPEG bytes at the camera's quality (deterministic for a given OpenCV build)."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, camera.jpeg_quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode a synthetic frame as JPEG")
    return buf.tobytes()
