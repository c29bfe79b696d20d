"""Pairwise matrices over a batch: feature distances and same-identity masks.

Every metric loss of the package reads its distances from here, so they all share one definition of
"cosine" and "euclidean", the same numerical guards, and at least float32 arithmetic even under
autocast (a half-precision Gram matrix loses the small distance gaps the intra-identity triplets
compare). Float64 inputs stay float64.
"""
from __future__ import annotations

from typing import Optional, Tuple

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


def cosine_distance(x: torch.Tensor, rows: Optional[slice] = None) -> torch.Tensor:
    """``1 - cos(x_i, x_j)`` from the rows ``x[rows]`` (all by default) to all rows, ``[R, N]``, in [0, 2], exactly 0
    from a row to itself."""
    with torch.autocast(device_type=x.device.type, enabled=False):
        unit = F.normalize(at_least_float32(x), dim=1, eps=_NORM_EPS)
        dist = (1.0 - _rows(unit, rows) @ unit.t()).clamp(0.0, 2.0)
    return _zero_self(dist, rows)


def euclidean_distance(x: torch.Tensor, rows: Optional[slice] = None) -> torch.Tensor:
    """``||x_i - x_j||`` from the rows ``x[rows]`` (all by default) to all rows, ``[R, N]``, exactly 0 from a row to
    itself, finite gradient."""
    with torch.autocast(device_type=x.device.type, enabled=False):
        x = at_least_float32(x)
        sq = x.pow(2).sum(1, keepdim=True)
        dist = (_rows(sq, rows) + sq.t() - 2.0 * (_rows(x, rows) @ x.t())).clamp(min=_SQ_EPS).sqrt()
    return _zero_self(dist, rows)


def pairwise_distance(x: torch.Tensor, kind: str = "cosine", rows: Optional[slice] = None) -> torch.Tensor:
    """Distances ("cosine" or "euclidean", float32 or float64) from the rows ``x[rows]`` to every row of ``x``:
    ``[N, N]`` by default, ``[R, N]`` for a slice of R consecutive rows (the anchors of one process under torchrun,
    computed without the rest of the square)."""
    if x.dim() != 2:
        raise ValueError(f"expected a 2-D [N, D] tensor, got shape {tuple(x.shape)}")
    if rows is not None and rows.indices(x.shape[0])[2] != 1:
        raise ValueError(f"rows must be a slice of consecutive rows, got {rows}")
    if check_distance(kind) == "cosine":
        return cosine_distance(x, rows)
    return euclidean_distance(x, rows)


def same_identity_mask(pids: torch.Tensor, rows: Optional[slice] = None) -> torch.Tensor:
    """Boolean ``[R, N]`` (``[N, N]`` by default): True where row i of ``rows`` and row j share an identity (a row
    and itself included)."""
    return _rows(pids, rows).unsqueeze(1) == pids.unsqueeze(0)


def _rows(x: torch.Tensor, rows: Optional[slice]) -> torch.Tensor:
    return x if rows is None else x[rows]


def _zero_self(dist: torch.Tensor, rows: Optional[slice]) -> torch.Tensor:
    """Set the distance from each row to itself to exactly 0, so an anchor compared with itself never wins or loses by
    rounding (``dist`` holds the rows ``rows`` of the square, all by default)."""
    count, total = dist.shape
    itself = torch.eye(count, total, dtype=torch.bool, device=dist.device)
    start = 0 if rows is None else rows.indices(total)[0]
    if start:
        itself = itself.roll(start, 1)  # row i's own column is start + i < total: nothing wraps around
    return dist.masked_fill(itself, 0.0)


def at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """Half precision and integers go to float32; float32 and float64 are kept."""
    return x.to(torch.promote_types(x.dtype, torch.float32))
