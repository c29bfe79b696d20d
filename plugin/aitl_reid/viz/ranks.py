"""Ranked results for video re-ID: each query tracklet next to its top-k gallery tracklets.

torchreid's ``visrank`` writes one image per query; one grid with correct matches outlined green
and wrong ones red shows at a glance where a model fails (similar clothes, occlusion, distractors).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence

import numpy as np
import torch
from matplotlib.patches import Rectangle
from torch.nn import functional as F

from .. import _torchreid
from ..engine import build_engine, build_optimizer
from .figure import new_figure, save_figure
from .frames import middle_frame
from .run import LoadedRun, target_name

MATCH_COLOUR, MISMATCH_COLOUR = "#1a9641", "#d7191c"


@dataclass
class RankedRow:
    """One query's row: its tracklet and the gallery tracklets it ranks first."""

    query: tuple
    gallery: List[tuple]
    distances: List[float]


@torch.no_grad()
def distance_matrix(run: LoadedRun, target: str = "") -> torch.Tensor:
    """Query x gallery distances of the run's test features, as the engine's evaluation computes them."""
    name = target_name(run, target)
    engine = build_engine(run.cfg, run.datamanager, run.model, build_optimizer(run.cfg, run.model))
    query = engine.extract_tracklet_features(run.datamanager.test_loader[name]["query"])
    gallery = engine.extract_tracklet_features(run.datamanager.test_loader[name]["gallery"])
    qf, gf = query.features, gallery.features
    if run.cfg.test.normalize_feature:
        qf, gf = F.normalize(qf, dim=1), F.normalize(gf, dim=1)
    return _torchreid.metrics.compute_distance_matrix(qf, gf, run.cfg.test.dist_metric)


def ranked_rows(distmat: np.ndarray, query: Sequence[tuple], gallery: Sequence[tuple], query_indices: Sequence[int],
                topk: int) -> List[RankedRow]:
    """Top-``topk`` gallery tracklets per chosen query, skipping same-identity same-camera tracklets
    (the evaluation protocol never counts them)."""
    if distmat.shape != (len(query), len(gallery)):
        raise ValueError(f"distmat shape {distmat.shape} does not match {len(query)} queries x {len(gallery)} gallery")
    if topk < 1:
        raise ValueError(f"topk must be at least 1, got {topk}")
    rows = []
    for qi in query_indices:
        if not 0 <= qi < len(query):
            raise ValueError(f"query index {qi} is out of range: there are {len(query)} queries")
        _, q_pid, q_cam = query[qi][:3]
        order = [g for g in np.argsort(distmat[qi], kind="stable")
                 if not (gallery[g][1] == q_pid and gallery[g][2] == q_cam)][:topk]
        rows.append(RankedRow(query[qi], [gallery[g] for g in order], [float(distmat[qi, g]) for g in order]))
    return rows


def _outline(axis, colour: str) -> None:
    axis.add_patch(Rectangle((0, 0), 1, 1, transform=axis.transAxes, fill=False, edgecolor=colour,
                               linewidth=4, clip_on=False))


def plot_ranked_results(rows: Sequence[RankedRow], height: int, width: int, out_png: str) -> str:
    """One row per query: its middle frame, then its ranked gallery tracklets (green: same identity)."""
    if not rows:
        raise ValueError("plot_ranked_results needs at least one query")
    cols = 1 + max(len(row.gallery) for row in rows)
    figure, axes = new_figure(len(rows), cols, size=(0.9 * cols + 0.4, 1.75 * len(rows) + 0.5), squeeze=False)
    for axis in axes.flat:
        axis.set_axis_off()
    for r, row in enumerate(rows):
        _, q_pid, q_cam = row.query[:3]
        axes[r, 0].imshow(middle_frame(row.query[0], height, width))
        axes[r, 0].set_title(f"query\npid {q_pid} cam {q_cam + 1}", fontsize=7)
        for k, (tracklet, distance) in enumerate(zip(row.gallery, row.distances), start=1):
            axis = axes[r, k]
            axis.imshow(middle_frame(tracklet[0], height, width))
            axis.set_title(f"#{k} pid {tracklet[1]}\nd={distance:.3f}", fontsize=7)
            _outline(axis, MATCH_COLOUR if tracklet[1] == q_pid else MISMATCH_COLOUR)
    figure.suptitle("Ranked gallery tracklets (middle frames); green: same identity, red: another", fontsize=9)
    return save_figure(figure, out_png)
