"""Batch-hard triplet loss (Hermans et al.) with cosine distance, the paper's L_tri in Eq. 4.

Vectorised over anchors and computed in float32 through :mod:`.distances`, unlike torchreid's
``TripletLoss`` which loops in Python and is Euclidean only.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .distances import check_batch, pairwise_distance, same_identity_mask


def batch_hard_triplet_loss(
    features: torch.Tensor, pids: torch.Tensor, margin: float = 0.3, distance: str = "cosine",
    anchors: Optional[slice] = None,
) -> torch.Tensor:
    """Mean over anchors of ``relu(max_pos d(a, p) - min_neg d(a, n) + margin)``.

    The positives include the anchor itself (distance 0), as in torchreid. A batch holding a
    single identity has no negatives: the loss is then 0 (still attached to the graph), not NaN.
    ``anchors`` picks the consecutive rows that are anchors (all by default); every row is a
    candidate, and only the anchors' rows of the distance matrix are computed. Under torchrun,
    ``features`` is the global batch and the anchors are this process's rows, so the hardest
    negative may come from another process, as in one process holding the global batch, at the
    cost of an ``N x (processes * N)`` block rather than the whole square.
    """
    check_batch(features, pids)
    dist = pairwise_distance(features, distance, anchors)
    same = same_identity_mask(pids, anchors)
    hardest_pos = dist.masked_fill(~same, float("-inf")).max(1).values
    hardest_neg = dist.masked_fill(same, float("inf")).min(1).values
    has_neg = (~same).any(1)
    terms = torch.relu(hardest_pos - torch.where(has_neg, hardest_neg, hardest_pos) + margin)
    terms = torch.where(has_neg, terms, torch.zeros_like(terms))
    return terms.sum() / has_neg.sum().clamp(min=1)


class BatchHardTripletLoss(nn.Module):
    """Module form of :func:`batch_hard_triplet_loss`."""

    def __init__(self, margin: float = 0.3, distance: str = "cosine") -> None:
        super().__init__()
        self.margin = margin
        self.distance = distance

    def forward(self, features: torch.Tensor, pids: torch.Tensor) -> torch.Tensor:
        return batch_hard_triplet_loss(features, pids, self.margin, self.distance)
