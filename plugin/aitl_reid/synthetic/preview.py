"""A PNG grid of example frames from a generated tree, so readers see what the data looks like.

Rows show a few identities across their tracklets (cameras, angles), then one tracklet per
identity-irrelevant condition (running, riding, turning, occlusion, cut, a second person, a small
person, target change / miss / wrong target), each labelled from the attribute CSV.
"""
from __future__ import annotations

import csv
import io
import os
from typing import Callable, Dict, List, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

from .metadata import ATTRIBUTE_CSV
from .palette import ACTION_NAMES, AGE_NAMES, ANGLE_NAMES, DOWN_COLOR_NAMES, UP_COLOR_NAMES

Row = Dict[str, int]
_EFFECTS: Tuple[Tuple[str, Callable[[Row], bool]], ...] = (
    ("running, side view", lambda r: r["action"] == ACTION_NAMES.index("running") and r["angle"] == ANGLE_NAMES.index("lateral")),
    ("riding, side view", lambda r: r["action"] == ACTION_NAMES.index("riding") and r["angle"] == ANGLE_NAMES.index("lateral")),
    ("seen from the back", lambda r: r["angle"] == ANGLE_NAMES.index("back")),
    ("angle varies (turning)", lambda r: r["angle"] == ANGLE_NAMES.index("various")),
    ("occlusion", lambda r: r["occlusion"] == 1),
    ("cut", lambda r: r["cut"] == 1),
    ("multi-person", lambda r: r["multi-person"] == 1),
    ("back-dominant", lambda r: r["back-dominant"] == 1),
    ("target-change", lambda r: r["target-change"] == 1),
    ("target-miss", lambda r: r["target-miss"] == 1),
    ("wrong-target", lambda r: r["wrong-target"] == 1),
)
_FLAGS = ("occlusion", "cut", "multi-person", "back-dominant", "target-change", "target-miss", "wrong-target")


def describe_identity(row: Row) -> str:
    """Identity-relevant labels in words, e.g. 'female adult, top red (short sleeves), ...'."""
    lower = "skirt" if row["btype"] == 0 else "trousers"
    length = "long" if row["down"] == 0 else "short"
    items = [
        f"{'female' if row['gender'] else 'male'} {AGE_NAMES[row['age']]}",
        f"top {UP_COLOR_NAMES[row['upcolor']]} ({'long' if row['up'] == 0 else 'short'} sleeves)",
        f"{length} {lower} {DOWN_COLOR_NAMES[row['downcolor']]}",
        f"{'long' if row['hair'] else 'short'} hair",
    ] + [name for name in ("bag", "backpack", "hat", "handbag") if row[name]]
    return ", ".join(items)


def _describe_view(row: Row) -> str:
    flags = [name for name in _FLAGS if row[name]]
    return f"{ACTION_NAMES[row['action']]}, {ANGLE_NAMES[row['angle']]}" + (", " + ", ".join(flags) if flags else "")


def _read_rows(dataset_dir: str) -> List[Row]:
    path = os.path.join(dataset_dir, ATTRIBUTE_CSV)
    with open(path, newline="", encoding="ascii") as handle:
        return [{k: int(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _frames(dataset_dir: str, row: Row, listing: Dict[str, List[str]], count: int) -> List[np.ndarray]:
    folder = f"{row['person_id']:04d}"
    if folder not in listing:
        for split in ("bbox_train", "bbox_test"):
            path = os.path.join(dataset_dir, split, folder)
            if os.path.isdir(path):
                listing[folder] = sorted(os.path.join(path, n) for n in os.listdir(path))
    prefix = f"{folder}C{row['camera_id']}T{row['tracklets_id']:04d}F"
    paths = [p for p in listing.get(folder, []) if os.path.basename(p).startswith(prefix)]
    if not paths:
        raise FileNotFoundError(f"{dataset_dir}: no frames named {prefix}*.jpg for a row of {ATTRIBUTE_CSV}")
    picks = np.linspace(0, len(paths) - 1, min(count, len(paths))).round().astype(int)
    return [cv2.imread(paths[i], cv2.IMREAD_COLOR) for i in picks]


def _strip(frames: Sequence[np.ndarray], columns: int) -> np.ndarray:
    h, w = frames[0].shape[:2]
    canvas = np.full((h, columns * (w + 2), 3), 255, np.uint8)
    for i, frame in enumerate(frames[:columns]):
        canvas[:, i * (w + 2):i * (w + 2) + w] = frame
    return canvas


def _example_rows(dataset_dir: str, num_identities: int, columns: int) -> List[Tuple[str, np.ndarray]]:
    rows = _read_rows(dataset_dir)
    listing: Dict[str, List[str]] = {}
    out = []
    pids = sorted({r["person_id"] for r in rows})
    for pid in pids[:: max(1, len(pids) // num_identities)][:num_identities]:
        tracks = [r for r in rows if r["person_id"] == pid]
        per_track = max(1, columns // len(tracks))
        frames = [f for r in tracks for f in _frames(dataset_dir, r, listing, per_track)]
        views = "; ".join(f"cam {r['camera_id']}: {ANGLE_NAMES[r['angle']]}" for r in tracks)
        out.append((f"identity {pid}: {describe_identity(tracks[0])}\n{views}", _strip(frames, columns)))
    for title, wanted in _EFFECTS:
        candidates = [r for r in rows if wanted(r)]
        if not candidates:
            continue
        frame_count = {id(r): len(_frames(dataset_dir, r, listing, 999)) for r in candidates}
        best = min(candidates, key=lambda r: (sum(r[f] for f in _FLAGS), frame_count[id(r)]))
        label = f"{title} (identity {best['person_id']}, cam {best['camera_id']}: {_describe_view(best)})"
        out.append((label, _strip(_frames(dataset_dir, best, listing, columns), columns)))
    return out


def save_example_grid(dataset_dir: str, out_path: str, num_identities: int = 4, columns: int = 12) -> str:
    """Save the example grid of a synthetic tree (``<root>/mars``) as a PNG; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _example_rows(dataset_dir, num_identities, columns)
    h, w = rows[0][1].shape[:2]
    scale = max(1.0, 128.0 / h)
    fig_w = w * scale / 100.0
    fig, axes = plt.subplots(len(rows), 1, figsize=(fig_w, len(rows) * (h * scale / 100.0 + 0.42)))
    for ax, (label, strip) in zip(np.atleast_1d(axes), rows):
        ax.imshow(cv2.cvtColor(strip, cv2.COLOR_BGR2RGB), interpolation="nearest")
        ax.set_title(label, loc="left", fontsize=7)
        ax.axis("off")
    fig.tight_layout(pad=0.3)
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=100, format="png")
    plt.close(fig)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    # A 256-colour palette keeps the noisy frames' PNG small enough for a repository's docs/.
    Image.open(buffer).convert("RGB").quantize(256).save(out_path, optimize=True)
    return out_path
