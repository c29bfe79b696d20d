"""Scores against MOTChallenge ground truth with the MOTChallenge evaluation code as packaged (``trackeval``):
HOTA, CLEAR (MOTA, ID switches, precision, recall) and Identity (IDF1) per camera, and the multi-camera IDF1.

The multi-camera IDF1 is the Identity metric over every camera's frames one after another, ground-truth ids
global across cameras and predicted ids the linked persons (the DukeMTMC multi-camera protocol): a person
split into two ids across cameras, or two people joined into one, costs identity matches. Ground-truth rows
whose seventh column is 0 (MOTChallenge's 'do not consider') are left out; boxes match at IoU 0.5.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Sequence, Tuple

import numpy as np

from ..inference.inputs import InputError, TrackBox, clip_box, read_mot_tracks

SHOWN = ("HOTA", "MOTA", "IDF1", "IDSW", "precision", "recall")
QUIET = {"PRINT_CONFIG": False}


def read_ground_truth(path: str) -> List[TrackBox]:
    """The ground truth's boxes to consider (seventh column non-zero)."""
    return [box for box in read_mot_tracks(path) if box.score != 0]


def check_ground_truth(boxes: Sequence[TrackBox], frames: int, width: int, height: int, path: str, video: str) -> None:
    """Every box inside a frame of the video (else an error naming the file and line)."""
    for box in boxes:
        if box.frame > frames:
            raise InputError(f"{path}:{box.line}: frame {box.frame} is past the end of {video} ({frames} frames)")
        clip_box(box, width, height, path)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[N, M]`` IoU of ``x, y, w, h`` boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    ax1, ay1, bx1, by1 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    w = np.clip(np.minimum(ax1[:, None], bx1[None]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    h = np.clip(np.minimum(ay1[:, None], by1[None]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = w * h
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return inter / np.maximum(union, 1e-12)


def sequence_data(gt: Sequence[TrackBox], predicted: Sequence[TrackBox], timesteps: int) -> dict:
    """trackeval's per-sequence input: per timestep (frame - 1) the ids (numbered from 0) and their IoUs."""
    gt_ids = {k: i for i, k in enumerate(sorted({b.track for b in gt}))}
    pred_ids = {k: i for i, k in enumerate(sorted({b.track for b in predicted}))}
    per_gt: List[List[TrackBox]] = [[] for _ in range(timesteps)]
    per_pred: List[List[TrackBox]] = [[] for _ in range(timesteps)]
    for box in gt:
        per_gt[box.frame - 1].append(box)
    for box in predicted:
        per_pred[box.frame - 1].append(box)

    def boxes(rows: List[TrackBox]) -> np.ndarray:
        return np.array([[b.x, b.y, b.w, b.h] for b in rows], dtype=float).reshape(-1, 4)
    return {
        "num_timesteps": timesteps, "num_gt_ids": len(gt_ids), "num_tracker_ids": len(pred_ids),
        "num_gt_dets": len(gt), "num_tracker_dets": len(predicted),
        "gt_ids": [np.array([gt_ids[b.track] for b in rows], dtype=int) for rows in per_gt],
        "tracker_ids": [np.array([pred_ids[b.track] for b in rows], dtype=int) for rows in per_pred],
        "similarity_scores": [iou(boxes(g), boxes(p)) for g, p in zip(per_gt, per_pred)],
    }


def evaluate(data: dict) -> Dict[str, float]:
    """HOTA, MOTA, IDF1, IDSW, precision, recall (and the counts behind them) of one sequence."""
    from trackeval.metrics import CLEAR, HOTA, Identity

    hota, clear, identity = (m(QUIET).eval_sequence(data) for m in (HOTA, CLEAR, Identity))
    return {
        "HOTA": float(np.mean(hota["HOTA"])), "MOTA": float(clear["MOTA"]), "IDF1": float(identity["IDF1"]),
        "IDSW": int(clear["IDSW"]), "precision": float(clear["CLR_Pr"]), "recall": float(clear["CLR_Re"]),
        "gt_boxes": int(data["num_gt_dets"]), "predicted_boxes": int(data["num_tracker_dets"]),
        "gt_ids": int(data["num_gt_ids"]), "predicted_ids": int(data["num_tracker_ids"]),
    }


def multi_camera(cameras: Sequence[Tuple[Sequence[TrackBox], Sequence[TrackBox], int]]) -> Dict[str, float]:
    """IDF1 (with IDP, IDR) over all cameras' frames in a row; ``cameras`` holds (ground truth with global ids,
    predictions with person ids, frames) per camera."""
    from trackeval.metrics import Identity

    gt_all, pred_all, offset = [], [], 0
    for gt, predicted, frames in cameras:
        gt_all += [replace(b, frame=b.frame + offset) for b in gt]
        pred_all += [replace(b, frame=b.frame + offset) for b in predicted]
        offset += frames
    result = Identity(QUIET).eval_sequence(sequence_data(gt_all, pred_all, offset))
    return {"IDF1": float(result["IDF1"]), "IDP": float(result["IDP"]), "IDR": float(result["IDR"])}


def table(rows: Dict[str, Dict[str, float]]) -> str:
    """A text table: one row per camera (and 'all cameras'), the :data:`SHOWN` columns."""
    lines = [f"{'camera':<20}" + "".join(f"{c:>10}" for c in SHOWN)]
    for name, scores in rows.items():
        cells = "".join(f"{scores[c]:>10d}" if isinstance(scores.get(c), int) else
                        (f"{scores[c]:>10.3f}" if c in scores else f"{'':>10}") for c in SHOWN)
        lines.append(f"{name[:20]:<20}" + cells)
    return "\n".join(lines)
