"""Intra-identity triplets (paper Eq. 1-3): AITL, its ITL ablation and the DVDP diagnostic.

All three share one computation. For every anchor a, among the other tracklets of its identity,
pick a "far" and a "near" positive by some selection distance (attribute distance for AITL, feature
distance for ITL and DVDP; no gradient through the choice) and take
``relu(FD(a, far) - FD(a, near) + margin)`` with FD the feature distance. The batch value is the
mean over all N anchors. An anchor contributes 0 when it has no other tracklet of its identity, or
when far and near are the same tracklet (an identity with two tracklets, or all candidates tied): that
degenerate triplet would only add the constant margin. Ties go to the lowest batch index.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

from .distances import check_batch, pairwise_distance, same_identity_mask


def candidate_masks(pids: torch.Tensor, include_anchor: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(others, candidates)`` ``[N, N]``: the other tracklets of each anchor's identity, and the positives
    an intra-identity triplet chooses from (``others`` plus the anchor itself when ``include_anchor``)."""
    same = same_identity_mask(pids)
    others = same & ~torch.eye(same.shape[0], dtype=torch.bool, device=same.device)
    return others, (same if include_anchor else others)


def select_far_near(
    selection_dist: torch.Tensor, pids: torch.Tensor, include_anchor: bool = False
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices of each anchor's farthest and nearest same-identity candidate, and which anchors count.

    Candidates are the other tracklets of the anchor's identity (plus the anchor itself when
    ``include_anchor``, as the released code does). Returns ``(far [N], near [N], counts [N])``;
    ``counts`` is False where the anchor has no other tracklet of its identity or far == near.
    """
    others, candidates = candidate_masks(pids, include_anchor)
    with torch.no_grad():
        dist = selection_dist.detach()
        far = dist.masked_fill(~candidates, float("-inf")).argmax(1)
        near = dist.masked_fill(~candidates, float("inf")).argmin(1)
    return far, near, others.any(1) & (far != near)


def true_attribute_distance(labels: torch.Tensor) -> torch.Tensor:
    """``[N, N]`` fraction of attributes annotated in both rows whose labels differ (``labels [N, A]``, -1 missing)."""
    labels = labels.long()
    valid = labels >= 0
    both = valid.unsqueeze(1) & valid.unsqueeze(0)
    differ = (labels.unsqueeze(1) != labels.unsqueeze(0)) & both
    return differ.sum(2).double() / both.sum(2).clamp(min=1).double()


def selection_agreement(
    selection_dist: torch.Tensor, true_dist: torch.Tensor, pids: torch.Tensor, include_anchor: bool = False
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(agree, chance, anchors)``: how often the far positive chosen by ``selection_dist`` is truly farthest.

    An anchor counts when its candidates (as in :func:`select_far_near`) are not all equally far by
    ``true_dist``. It agrees when its chosen far positive is among the candidates at the largest
    true distance; a uniformly random choice would agree with probability (those candidates /
    all candidates), summed into ``chance``. The three counts are 0-dim tensors on the device, which a
    training step sums over the epoch without reading them.
    """
    far, _, _ = select_far_near(selection_dist, pids, include_anchor)
    _, candidates = candidate_masks(pids, include_anchor)
    true = true_dist.to(selection_dist.device, torch.float64)
    top = true.masked_fill(~candidates, float("-inf")).amax(1, keepdim=True)
    low = true.masked_fill(~candidates, float("inf")).amin(1, keepdim=True)
    farthest = candidates & (true == top)
    informative = candidates.any(1) & (top > low).squeeze(1)
    agree = farthest.gather(1, far.unsqueeze(1)).squeeze(1) & informative
    chance = farthest.sum(1).double() / candidates.sum(1).clamp(min=1).double()
    return agree.sum(), torch.where(informative, chance, 0.0).sum(), informative.sum()


def intra_identity_triplet(
    feature_dist: torch.Tensor,
    selection_dist: torch.Tensor,
    pids: torch.Tensor,
    margin: float = 0.0,
    include_anchor: bool = False,
) -> torch.Tensor:
    """Mean over anchors of ``relu(FD(a, far) - FD(a, near) + margin)``, far/near chosen by ``selection_dist``."""
    far, near, counts = select_far_near(selection_dist, pids, include_anchor)
    d_far = feature_dist.gather(1, far.unsqueeze(1)).squeeze(1)
    d_near = feature_dist.gather(1, near.unsqueeze(1)).squeeze(1)
    terms = torch.relu(d_far - d_near + margin)
    return torch.where(counts, terms, torch.zeros_like(terms)).sum() / feature_dist.shape[0]


def aitl_loss(
    features: torch.Tensor,
    pids: torch.Tensor,
    attributes: torch.Tensor,
    margin: float = 0.0,
    distance: str = "cosine",
    include_anchor: bool = False,
    attribute_distance: str = "",
) -> torch.Tensor:
    """Attribute-aware identity-hard triplet loss (Eq. 2-3): positives chosen by attribute distance.

    ``attributes`` is one attribute prediction vector per row ``[N, A]``; ``distance`` is the feature
    distance and ``attribute_distance`` (``distance`` when empty) the one between attribute vectors
    (paper: cosine for both; released code: cosine features, Euclidean attributes).
    """
    check_batch(features, pids)
    check_batch(attributes, pids, name="attributes")
    selection = pairwise_distance(attributes.detach(), attribute_distance or distance)
    return intra_identity_triplet(pairwise_distance(features, distance), selection, pids, margin, include_anchor)


def itl_loss(features: torch.Tensor, pids: torch.Tensor, margin: float = 0.0, distance: str = "cosine") -> torch.Tensor:
    """Identity-hard triplet loss with positives chosen by feature distance (the ITL ablation, Table 1)."""
    check_batch(features, pids)
    feature_dist = pairwise_distance(features, distance)
    return intra_identity_triplet(feature_dist, feature_dist, pids, margin)


def dvdp(features: torch.Tensor, pids: torch.Tensor, distance: str = "cosine") -> torch.Tensor:
    """Batch Distance Variance among Different Positives (Eq. 1, averaged over anchors); no gradient."""
    with torch.no_grad():
        return itl_loss(features.detach(), pids, 0.0, distance)


class AITLLoss(nn.Module):
    """Module form of :func:`aitl_loss`."""

    def __init__(self, margin: float = 0.0, distance: str = "cosine", include_anchor: bool = False,
                 attribute_distance: str = "") -> None:
        super().__init__()
        self.margin = margin
        self.distance = distance
        self.include_anchor = include_anchor
        self.attribute_distance = attribute_distance

    def forward(self, features: torch.Tensor, pids: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        return aitl_loss(features, pids, attributes, self.margin, self.distance, self.include_anchor,
                         self.attribute_distance)


class ITLLoss(nn.Module):
    """Module form of :func:`itl_loss`."""

    def __init__(self, margin: float = 0.0, distance: str = "cosine") -> None:
        super().__init__()
        self.margin = margin
        self.distance = distance

    def forward(self, features: torch.Tensor, pids: torch.Tensor) -> torch.Tensor:
        return itl_loss(features, pids, self.margin, self.distance)
