"""Evaluation on dense clips: tracklet features, ranking and attribute recognition for one test target.

Every consecutive T-frame clip of a tracklet (up to ``test.max_clips``) goes through a *clip forward*
(clips ``[B, T, C, H, W]`` -> ``(features [B, D], {stream: attribute logits [B, K]})``) in batches
taken across tracklets, and :class:`TrackletPool` pools the clip outputs per tracklet. The inference
encoder (:mod:`aitl_reid.inference`) pools with the same class, so evaluation and inference give a
tracklet the same feature. Under torchrun each process extracts its share of a split and the shares
are gathered in order. Ranking is the vectorised CMC/mAP of :mod:`aitl_reid.metrics`; the attribute
report sets each attribute beside its majority class. Where results are recorded is the engine's
choice: the training run's ``metrics.csv`` row, or, for ``test.evaluate True``, an
:class:`EvaluationFile` of their own. This module imports neither ``engine`` nor ``inference``.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.nn import functional as F

from . import _torchreid, distributed
from .metrics import AttributeReport, attribute_recognition_metrics, evaluate_rank
from .progress import progress
from .schema import AttributeSchema
from .serialization import atomic_write

ClipOutputs = Tuple[torch.Tensor, Dict[str, torch.Tensor]]
ClipForward = Callable[[torch.Tensor], ClipOutputs]
ClipParser = Callable[[dict], Tuple[torch.Tensor, torch.Tensor]]  # batch -> (clips, tracklet index of each clip)


class TrackletPool:
    """Accumulates clip outputs into per-tracklet rows: features averaged (or max-pooled), logits averaged."""

    def __init__(self, count: int, pooling: str = "avg") -> None:
        if pooling not in ("avg", "max"):
            raise ValueError(f"video.pooling_method must be 'avg' or 'max', got '{pooling}'")
        self.count, self.pooling = count, pooling
        self.features: Optional[torch.Tensor] = None
        self.logits: Dict[str, torch.Tensor] = {}
        self.clips = torch.zeros(count)

    def add(self, owner: torch.Tensor, features: torch.Tensor, attr_logits: Dict[str, torch.Tensor]) -> None:
        """Add a batch of clip outputs; ``owner[i]`` is the tracklet of clip ``i``."""
        features = features.detach().float().cpu()
        if self.features is None:
            fill = 0.0 if self.pooling == "avg" else float("-inf")
            self.features = torch.full((self.count, features.shape[1]), fill)
        if self.pooling == "avg":
            self.features.index_add_(0, owner, features)
        else:
            self.features.scatter_reduce_(0, owner.unsqueeze(1).expand_as(features), features, reduce="amax")
        for stream, logits in attr_logits.items():
            total = self.logits.setdefault(stream, torch.zeros(self.count, logits.shape[1]))
            total.index_add_(0, owner, logits.detach().float().cpu())
        self.clips.index_add_(0, owner, torch.ones(len(owner)))

    def result(self) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """``(features [N, D], {stream: logits [N, K]})``; every tracklet must have had a clip."""
        if self.features is None or bool((self.clips == 0).any()):
            raise RuntimeError("some tracklets produced no clip")
        per_clip = self.clips.unsqueeze(1)
        features = self.features / per_clip if self.pooling == "avg" else self.features
        return features, {stream: total / per_clip for stream, total in self.logits.items()}


@dataclass
class TrackletFeatures:
    """Per-tracklet test features and labels of one split (query or gallery)."""

    features: torch.Tensor
    attr_logits: Dict[str, torch.Tensor]
    pids: np.ndarray
    camids: np.ndarray
    attrs: torch.Tensor


def gather_shares(share: TrackletFeatures) -> TrackletFeatures:
    """The whole split's features from every process's share (contiguous, in rank order, so in the split's order)."""
    if distributed.world_size() == 1:
        return share
    shares = distributed.all_gather_objects(share)
    streams = share.attr_logits.keys()
    return TrackletFeatures(
        torch.cat([s.features for s in shares]),
        {stream: torch.cat([s.attr_logits[stream] for s in shares]) for stream in streams},
        np.concatenate([s.pids for s in shares]),
        np.concatenate([s.camids for s in shares]),
        torch.cat([s.attrs for s in shares]),
    )


def extract_tracklet_features(loader, forward: ClipForward, parse: ClipParser, pooling: str) -> TrackletFeatures:
    """Run every dense clip of a split through ``forward`` and pool clip outputs per tracklet."""
    dataset = loader.dataset
    pool = TrackletPool(dataset.num_tracklets, pooling)
    for data in progress(loader, f"features ({dataset.num_tracklets} tracklets)", unit="batch"):
        clips, owner = parse(data)
        features, attr_logits = forward(clips)
        pool.add(owner, features, attr_logits)
    try:
        features, attr_logits = pool.result()
    except RuntimeError as err:
        raise RuntimeError(f"{type(dataset).__name__}: {err}; check test.max_clips") from None
    return TrackletFeatures(features, attr_logits, np.asarray(dataset.pids), np.asarray(dataset.camids), dataset.attrs)


@dataclass
class TargetResult:
    """One target's evaluation: the values to record, the distances (for ranked-results figures) and, when the
    target's attributes were scored, the report and its printed table."""

    values: Dict[str, float]
    distmat: np.ndarray
    attributes: Optional[AttributeReport] = None
    attribute_table: str = ""


def evaluate_target(name: str, query: TrackletFeatures, gallery: TrackletFeatures, dist_metric: str,
                    normalize_feature: bool, rerank: bool, ranks: Sequence[int]) -> TargetResult:
    """Rank the gallery for every query (CMC and mAP as torchreid computes them) and print the results."""
    qf, gf = query.features, gallery.features
    if normalize_feature:
        qf, gf = F.normalize(qf, dim=1), F.normalize(gf, dim=1)
    distmat = _torchreid.metrics.compute_distance_matrix(qf, gf, dist_metric)
    if rerank:
        print("Applying person re-ranking ...")
        distmat_qq = _torchreid.metrics.compute_distance_matrix(qf, qf, dist_metric)
        distmat_gg = _torchreid.metrics.compute_distance_matrix(gf, gf, dist_metric)
        distmat = torch.as_tensor(_torchreid.utils.re_ranking(distmat.numpy(), distmat_qq.numpy(), distmat_gg.numpy()))
    distances = distmat.numpy()
    cmc, mAP = evaluate_rank(distances, query.pids, gallery.pids, query.camids, gallery.camids)
    print(f"** Results ({name}) **")
    print(f"mAP: {mAP:.1%}")
    print("CMC curve")
    for r in ranks:
        if r <= len(cmc):
            print(f"Rank-{r:<3}: {cmc[r - 1]:.1%}")
    return TargetResult({"mAP": float(mAP), "rank1": float(cmc[0])}, distances)


def score_attributes(result: TargetResult, title: str, query: TrackletFeatures, gallery: TrackletFeatures,
                     schema: AttributeSchema, majority: torch.Tensor) -> None:
    """Add the attribute recognition of query + gallery to ``result`` (mean accuracy and F1 beside the majority
    class's) and print its per-attribute table under ``title``."""
    logits = {s: torch.cat([query.attr_logits[s], gallery.attr_logits[s]]) for s in query.attr_logits}
    report = attribute_recognition_metrics(logits, torch.cat([query.attrs, gallery.attrs]), schema, majority)
    (acc, f1), (majority_acc, majority_f1) = report.mean(), report.majority_mean()
    result.values.update({"attr_acc": acc, "attr_f1": f1, "attr_acc_majority": majority_acc,
                          "attr_f1_majority": majority_f1})
    result.attributes, result.attribute_table = report, f"{title}\n{report.format_table()}\n"
    print(result.attribute_table, end="")


def timed_splits(query_loader, gallery_loader,
                 extract: Callable[[object], TrackletFeatures]) -> Tuple[TrackletFeatures, TrackletFeatures]:
    """Both splits' features gathered from every process, with the extraction speed printed."""
    start = time.time()
    query, gallery = gather_shares(extract(query_loader)), gather_shares(extract(gallery_loader))
    elapsed = time.time() - start
    total = len(query.pids) + len(gallery.pids)
    print(f"Extracted {len(query.pids)} query and {len(gallery.pids)} gallery tracklet features "
          f"({query.features.shape[1]}-d) in {elapsed:.1f} s ({total / max(elapsed, 1e-9):.1f} tracklets/s)")
    return query, gallery


class EvaluationFile:
    """The results of an evaluate-only run (``test.evaluate True``), in a JSON file of their own named after the
    evaluated checkpoint (``run_folder.evaluation_path``): one entry per target, the per-attribute scores with it.
    The training run's ``metrics.csv``, ``config.yaml``, checkpoints and tensorboard events stay as they were.
    ``writable`` False keeps the results in memory only (processes other than rank 0)."""

    def __init__(self, path: str, weights: str, writable: bool = True) -> None:
        self.path, self.weights, self.writable = path, weights, writable
        self.targets: Dict[str, Dict[str, object]] = {}

    def add(self, target: str, result: TargetResult) -> None:
        entry: Dict[str, object] = dict(result.values)
        if result.attributes is not None:
            entry["attributes"] = result.attributes.as_dict()
        self.targets[target] = _json_numbers(entry)
        if self.writable:
            with atomic_write(self.path, "w", encoding="utf-8") as handle:
                json.dump({"weights": self.weights, "targets": self.targets}, handle, indent=1)
                handle.write("\n")


def _json_numbers(values: Dict[str, object]) -> Dict[str, object]:
    """NaN (a score without labels) as JSON null, which every JSON reader accepts."""
    return {k: _json_numbers(v) if isinstance(v, dict) else (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in values.items()}
