"""Pairwise matrices over a batch: feature distances and same-identity masks.

Every metric loss of the package reads its distances from here, so they all share one definition of
"cosine" and "euclidean", the same numerical guards, and at least float32 arithmetic even under
autocast (a half-precision Gram matrix loses the small distance gaps the intra-identity triplets
compare). Float64 inputs stay float64.
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F

DISTANCES: Tuple[str, ...] = ("cosine", "euclidean")

_NORM_EPS = 1e-12  # F.normalize floor: a zero vector gets distance 1 to everything instead of NaN
_SQ_EPS = 1e-12  # squared-distance floor before sqrt, so the gradient stays finite at distance 0


def check_distance(kind: str) -> str:
    """Return ``kind`` if it names a supported distance, else raise a ValueError listing them."""
    if kind not in DISTANCES:
        raise ValueError(f"unknown distance '{kind}', expected one of {DISTANCES}")
    return kind


def check_batch(features: torch.Tensor, pids: torch.Tensor, name: str = "features") -> None:
    """Raise a ValueError unless ``features`` is ``[N, D]`` and ``pids`` is ``[N]`` of integers."""
    if features.dim() != 2:
        raise ValueError(f"{name} must be 2-D [N, D], got shape {tuple(features.shape)}")
    if pids.dim() != 1 or pids.shape[0] != features.shape[0]:
        raise ValueError(f"pids must be 1-D with {features.shape[0]} entries (one per row of {name}), got shape {tuple(pids.shape)}")
    if pids.is_floating_point() or pids.is_complex():
        raise ValueError(f"pids must be an integer tensor, got {pids.dtype}")


def cosine_distance(x: torch.Tensor) -> torch.Tensor:
    """``1 - cos(x_i, x_j)`` for all rows ``[N, N]``, in [0, 2], exactly 0 on the diagonal."""
    with torch.autocast(device_type=x.device.type, enabled=False):
        unit = F.normalize(at_least_float32(x), dim=1, eps=_NORM_EPS)
        dist = (1.0 - unit @ unit.t()).clamp(0.0, 2.0)
    return _zero_diagonal(dist)


def euclidean_distance(x: torch.Tensor) -> torch.Tensor:
    """``||x_i - x_j||`` for all rows ``[N, N]``, exactly 0 on the diagonal, finite gradient."""
    with torch.autocast(device_type=x.device.type, enabled=False):
        x = at_least_float32(x)
        sq = x.pow(2).sum(1, keepdim=True)
        dist = (sq + sq.t() - 2.0 * (x @ x.t())).clamp(min=_SQ_EPS).sqrt()
    return _zero_diagonal(dist)


def pairwise_distance(x: torch.Tensor, kind: str = "cosine") -> torch.Tensor:
    """``[N, N]`` distance matrix (float32 or float64) between the rows of ``x`` ("cosine" or "euclidean")."""
    if x.dim() != 2:
        raise ValueError(f"expected a 2-D [N, D] tensor, got shape {tuple(x.shape)}")
    if check_distance(kind) == "cosine":
        return cosine_distance(x)
    return euclidean_distance(x)


def same_identity_mask(pids: torch.Tensor) -> torch.Tensor:
    """Boolean ``[N, N]``: True where rows i and j share an identity (the diagonal included)."""
    return pids.unsqueeze(0) == pids.unsqueeze(1)


def _zero_diagonal(dist: torch.Tensor) -> torch.Tensor:
    """Set d(i, i) to exactly 0 so an anchor compared with itself never wins or loses by rounding."""
    eye = torch.eye(dist.shape[0], dtype=torch.bool, device=dist.device)
    return dist.masked_fill(eye, 0.0)


def at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """Half precision and integers go to float32; float32 and float64 are kept."""
    return x.to(torch.promote_types(x.dtype, torch.float32))
