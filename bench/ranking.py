"""Row 1: CMC/mAP ranking at MARS scale, ours (counts matches' ranks, no sort) vs torchreid's Python ``evaluate_rank``.

The query/gallery identity and camera structure is MARS's own (``tracks_test_info.mat`` and
``query_IDX.mat``: 1980 queries, 9330 gallery tracklets once junk id -1 is dropped); the features
are synthetic (one random centre per identity plus noise, distractors random), so the ranking work
and the match statistics look like a real evaluation. Quick mode ranks a small random problem.
"""
from __future__ import annotations

import os
from typing import Dict, List, Tuple

import numpy as np
import torch
from scipy.io import loadmat

from aitl_reid import _torchreid
from aitl_reid.metrics import evaluate_rank

from .mars_tree import MARS_META, missing_meta
from .rows import Row
from .settings import Settings
from .timing import interleaved

FEATURE_DIM = 128
NOISE = 1.25  # noise around unit-variance identity centres: mAP about 0.8 on MARS's structure
MAX_RANK = 50
Problem = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def mars_structure(meta_dir: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(q_pids, g_pids, q_camids, g_camids)`` of the MARS test protocol (junk id -1 left out of the gallery)."""
    tracks = loadmat(os.path.join(meta_dir, "tracks_test_info.mat"))["track_test_info"]
    query = loadmat(os.path.join(meta_dir, "query_IDX.mat"))["query_IDX"].squeeze().astype(np.int64) - 1
    gallery = np.setdiff1d(np.arange(len(tracks)), query)
    gallery = gallery[tracks[gallery, 2] != -1]
    pids, cams = tracks[:, 2].astype(np.int64), tracks[:, 3].astype(np.int64)
    return pids[query], pids[gallery], cams[query], cams[gallery]


def synthetic_distances(q_pids: np.ndarray, g_pids: np.ndarray, seed: int = 0) -> np.ndarray:
    """Euclidean distances between identity-centred random features; id 0 (distractors) gets no centre."""
    rng = np.random.default_rng(seed)
    ids = np.unique(np.concatenate([q_pids, g_pids]))
    centres = {pid: rng.standard_normal(FEATURE_DIM) for pid in ids}

    def features(pids: np.ndarray) -> torch.Tensor:
        base = np.stack([centres[p] if p > 0 else rng.standard_normal(FEATURE_DIM) for p in pids])
        return torch.from_numpy(base + NOISE * rng.standard_normal(base.shape)).float()

    return torch.cdist(features(q_pids), features(g_pids)).numpy()


def random_problem(num_query: int, num_gallery: int, seed: int = 0) -> Problem:
    """A small problem with MARS-like cameras (1-6) and a few tracklets per identity."""
    rng = np.random.default_rng(seed)
    num_ids = max(2, num_gallery // 5)
    q_pids, g_pids = rng.integers(1, num_ids, num_query), rng.integers(1, num_ids, num_gallery)
    q_cams, g_cams = rng.integers(1, 7, num_query), rng.integers(1, 7, num_gallery)
    return synthetic_distances(q_pids, g_pids, seed), q_pids, g_pids, q_cams, g_cams


def build_problem(quick: bool) -> Tuple[Problem, str]:
    if quick:
        return random_problem(200, 1000), "random 200 x 1000"
    q_pids, g_pids, q_cams, g_cams = mars_structure(MARS_META)
    dist = synthetic_distances(q_pids, g_pids)
    return (dist, q_pids, g_pids, q_cams, g_cams), f"MARS {len(q_pids)} x {len(g_pids)}"


def run(settings: Settings) -> List[Row]:
    name = "Ranking (CMC + mAP)"
    if not settings.quick and missing_meta():
        return [Row("ranking", name, "aitl_reid evaluate_rank", "torchreid evaluate_rank (Python)",
                    skipped=missing_meta())]
    problem, size = build_problem(settings.quick)
    results: Dict[str, Tuple[np.ndarray, float]] = {}

    def ours() -> None:
        results["ours"] = evaluate_rank(*problem, max_rank=MAX_RANK)

    def reference() -> None:
        results["reference"] = _torchreid.metrics.evaluate_rank(
            *problem, max_rank=MAX_RANK, use_metric_cuhk03=False, use_cython=False
        )

    settings.log(f"ranking: {size}, {settings.runs} interleaved runs of each")
    ours_time, ref_time = interleaved(ours, reference, settings.runs)
    (cmc, mAP), (ref_cmc, ref_mAP) = results["ours"], results["reference"]
    cmc_diff = float(np.abs(cmc - np.asarray(ref_cmc)).max())
    map_diff = abs(float(mAP) - float(ref_mAP))
    if cmc_diff > 1e-6 or map_diff > 1e-9:
        raise AssertionError(
            f"ranking results differ from torchreid's: max |CMC diff| {cmc_diff}, |mAP diff| {map_diff}"
        )
    return [Row(
        "ranking", f"Ranking, {size} (synthetic features)", "aitl_reid.metrics.evaluate_rank (match ranks counted, no sort)",
        "torchreid.metrics.evaluate_rank (Python loop)", ours_time, ref_time, item="", sense="speedup", goal=60.0,
        notes=[f"same results: max |CMC difference| {cmc_diff:.1e}, |mAP difference| {map_diff:.1e} "
               f"(mAP {mAP:.4f}, rank-1 {cmc[0]:.4f})"],
        extra={"mAP": float(mAP), "rank1": float(cmc[0]), "cmc_max_abs_diff": cmc_diff, "map_abs_diff": map_diff},
    )]
