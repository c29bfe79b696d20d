"""CMC and mAP for the market/MARS protocol, without sorting the gallery.

Gives the same numbers as torchreid's ``evaluate_rank(..., use_metric_cuhk03=False)`` (whose only
version in the package-index build is a Python loop over queries). Only the ranks of a query's few
true matches are needed, so instead of sorting each query's row:

1. the (query, gallery) pairs of the same identity are listed sparsely (gallery grouped by identity);
   same camera = junk (removed), other camera = true match ("hit");
2. one pass over the row keeps the other-identity items not farther than the query's farthest hit
   (``dist <= t_max``): only they can come before a hit;
3. each kept item is located among the row's sorted hit distances (a vectorised binary search per
   row segment); the number of kept items before the j-th hit is a segmented cumulative count, and
   that hit's rank among the non-junk gallery is that count + j.

Ties. torchreid sorts with ``np.argsort``'s default (unstable) kind, so where a true match and an
other-identity item have exactly the same distance, their order is whatever that sort produced.
Such rows (and rows where a match's distance is NaN) are detected exactly and ranked by the same
``np.argsort`` as torchreid on that row, so the result is identical in every case, ties included;
ties between two matches, or with junk items, cannot change CMC or AP and need no fallback.

The work is on the distance matrix's device: numpy input runs on the CPU through torch (no copy),
a CUDA tensor runs on the GPU. Queries are processed in chunks so memory stays bounded.
"""
from __future__ import annotations

import warnings
from typing import Tuple, Union

import numpy as np
import torch

ArrayLike = Union[np.ndarray, torch.Tensor]

_CHUNK_ELEMENTS = 1 << 23  # distances compared per query chunk (one bool mask of this size at a time)


def evaluate_rank(
    distmat: ArrayLike,
    q_pids: ArrayLike,
    g_pids: ArrayLike,
    q_camids: ArrayLike,
    g_camids: ArrayLike,
    max_rank: int = 50,
) -> Tuple[np.ndarray, float]:
    """CMC ``float32 [max_rank]`` and mAP for a ``[num_query, num_gallery]`` distance matrix.

    For each query, gallery items with the query's identity AND camera are discarded; a query whose
    identity is then absent from the gallery is skipped. AP is the mean over the query's correct
    matches of the precision at each match. ``max_rank`` is capped at the gallery size (with a
    warning). Raises ValueError when no query has a correct match (torchreid asserts). ``distmat``
    may be a numpy array or a torch tensor on any device; the ranking runs where it lies.
    """
    dist = _as_tensor(distmat, "distmat")
    if dist.ndim != 2:
        raise ValueError(f"distmat must be 2-D [num_query, num_gallery], got shape {tuple(dist.shape)}")
    num_q, num_g = dist.shape
    ids = {"q_pids": (q_pids, num_q), "q_camids": (q_camids, num_q), "g_pids": (g_pids, num_g), "g_camids": (g_camids, num_g)}
    for name, (arr, n) in ids.items():
        if not isinstance(arr, (np.ndarray, torch.Tensor)):
            raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(arr).__name__}")
        if tuple(arr.shape) != (n,):
            raise ValueError(f"{name} must be 1-D with {n} entries to match distmat {tuple(dist.shape)}, got shape {tuple(arr.shape)}")
    if max_rank < 1:
        raise ValueError(f"max_rank must be >= 1, got {max_rank}")
    if num_q == 0 or num_g == 0:
        raise ValueError(f"distmat {tuple(dist.shape)} is empty: no query or no gallery item; CMC/mAP undefined")
    if num_g < max_rank:
        warnings.warn(f"gallery has only {num_g} items; CMC is computed up to rank {num_g} instead of {max_rank}")
        max_rank = num_g

    q_pid, g_pid = _shared_codes(q_pids, g_pids, dist.device)
    q_cam, g_cam = _shared_codes(q_camids, g_camids, dist.device)
    pair_rows, pair_cols = _same_identity_pairs(q_pid, g_pid)
    pair_hit = g_cam[pair_cols] != q_cam[pair_rows]
    first_hit_counts = torch.zeros(max_rank, dtype=torch.int64)
    ap_sum, num_valid = 0.0, 0
    chunk = max(1, _CHUNK_ELEMENTS // max(num_g, 1))
    for start in range(0, num_q, chunk):
        stop = min(start + chunk, num_q)
        lo, hi = torch.searchsorted(pair_rows, torch.tensor([start, stop], device=dist.device)).tolist()
        hits = (pair_rows[lo:hi][pair_hit[lo:hi]] - start, pair_cols[lo:hi][pair_hit[lo:hi]])
        first_rank, ap = _rank_chunk(dist[start:stop], hits, q_pid[start:stop], g_pid, q_cam[start:stop], g_cam)
        num_valid += len(ap)
        ap_sum += float(ap.sum())
        first_hit_counts += torch.bincount(first_rank[first_rank < max_rank].cpu(), minlength=max_rank)
    if num_valid == 0:
        raise ValueError("no query identity appears in the gallery (after removing same-camera matches); CMC/mAP undefined")
    cmc = np.cumsum(first_hit_counts.numpy()).astype(np.float32) / float(num_valid)
    return cmc, ap_sum / num_valid


def _rank_chunk(
    dist: torch.Tensor,
    hits: Tuple[torch.Tensor, torch.Tensor],
    q_pid: torch.Tensor,
    g_pid: torch.Tensor,
    q_cam: torch.Tensor,
    g_cam: torch.Tensor,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """For the queries of one chunk that have a match: 0-based rank of the first match, and AP (float64)."""
    num_rows = dist.shape[0]
    hit_rows, hit_cols = hits
    hit_dist = dist[hit_rows, hit_cols]
    # hits sorted by (row, distance): a stable sort by distance, then a stable sort by row
    by_dist = torch.sort(hit_dist, stable=True).indices
    order = by_dist[torch.sort(hit_rows[by_dist], stable=True).indices]
    hit_rows, thresholds = hit_rows[order], hit_dist[order]
    per_row = torch.bincount(hit_rows, minlength=num_rows)
    seg_start = torch.cumsum(per_row, 0) - per_row

    # the farthest hit of each row bounds what can come before a hit; NaN where the row has none
    t_max = torch.full((num_rows,), float("nan"), dtype=dist.dtype, device=dist.device)
    has_hit = per_row > 0
    t_max[has_hit] = thresholds[seg_start[has_hit] + per_row[has_hit] - 1]
    cand_rows, cand_cols = torch.nonzero(dist <= t_max.unsqueeze(1), as_tuple=True)
    other = g_pid[cand_cols] != q_pid[cand_rows]  # same identity: a hit itself or junk
    cand_rows, cand_cols = cand_rows[other], cand_cols[other]
    values = dist[cand_rows, cand_cols]

    below = _count_at_most(thresholds, seg_start[cand_rows], per_row[cand_rows], values)
    tied = (below > 0) & (thresholds[(seg_start[cand_rows] + below - 1).clamp(min=0)] == values)
    unsure = torch.zeros(num_rows, dtype=torch.bool, device=dist.device)
    unsure[cand_rows[tied]] = True
    unsure[hit_rows[torch.isnan(thresholds)]] = True

    # items before the j-th hit of a row (j from 0) = kept items with `below` <= j: a segmented cumsum
    # (a tied item may have `below` = its row's hit count, outside the segment: its row is unsure anyway)
    counts = torch.bincount((seg_start[cand_rows] + below)[~tied], minlength=len(thresholds))
    inclusive = torch.cumsum(counts, 0)
    before = inclusive - (inclusive - counts)[seg_start[hit_rows]]
    ordinal = torch.arange(len(thresholds), device=dist.device) - seg_start[hit_rows] + 1
    ranks = before + ordinal  # 1-based rank among the non-junk gallery items
    precision_sum = torch.zeros(num_rows, dtype=torch.float64, device=dist.device)
    precision_sum.index_add_(0, hit_rows, ordinal.double() / ranks.double())
    sure = has_hit & ~unsure
    first_rank = (ranks[seg_start[sure]] - 1).cpu()  # a row's first hit opens its segment
    ap = (precision_sum[sure] / per_row[sure]).cpu()
    if bool(unsure.any()):
        rows = unsure.nonzero().squeeze(1)
        as_numpy = [t[rows].cpu().numpy() for t in (dist, q_pid, q_cam)]
        sorted_first, sorted_ap = _rank_by_sorting(as_numpy[0], as_numpy[1], g_pid.cpu().numpy(), as_numpy[2], g_cam.cpu().numpy())
        first_rank = torch.cat([first_rank, torch.from_numpy(sorted_first)])
        ap = torch.cat([ap, torch.from_numpy(sorted_ap)])
    return first_rank, ap


def _count_at_most(sorted_values: torch.Tensor, seg_start: torch.Tensor, seg_len: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """For each value, how many entries of its segment ``sorted_values[start:start+len]`` are <= it.

    A binary search run for all values at once (segments have different lengths, which
    ``torch.searchsorted`` does not allow in one call).
    """
    lo, hi = seg_start.clone(), seg_start + seg_len
    last = max(len(sorted_values) - 1, 0)
    steps = int(seg_len.max()).bit_length() if len(seg_len) else 0
    for _ in range(steps):
        mid = (lo + hi) // 2
        right = (lo < hi) & (sorted_values[mid.clamp(max=last)] <= values)
        lo = torch.where(right, mid + 1, lo)
        hi = torch.where(right, hi, mid)
    return lo - seg_start


def _rank_by_sorting(
    dist: np.ndarray, q_pids: np.ndarray, g_pids: np.ndarray, q_camids: np.ndarray, g_camids: np.ndarray
) -> Tuple[np.ndarray, np.ndarray]:
    """Ranks read off torchreid's own ``np.argsort`` order, for rows where tied distances decide it."""
    order = np.argsort(dist, axis=1)
    same_pid = g_pids[order] == q_pids[:, None]
    junk = same_pid & (g_camids[order] == q_camids[:, None])
    hit = same_pid & ~junk
    # 1-based position among the kept (non-junk) gallery items, at every sorted position
    kept_rank = np.arange(1, dist.shape[1] + 1) - np.cumsum(junk, axis=1, dtype=np.int64)

    hit_rows, hit_cols = np.nonzero(hit)  # row-major: within a row, hits in rank order
    rows_with_hits, first_of_row, hits_per_row = np.unique(hit_rows, return_index=True, return_counts=True)
    ordinal = np.arange(len(hit_rows)) - np.repeat(first_of_row, hits_per_row) + 1  # k for the k-th hit
    ranks = kept_rank[hit_rows, hit_cols]
    precision_sum = np.bincount(hit_rows, weights=ordinal / ranks, minlength=dist.shape[0])[rows_with_hits]
    return (ranks[first_of_row] - 1).astype(np.int64), precision_sum / hits_per_row


def _same_identity_pairs(q_pid: torch.Tensor, g_pid: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Every (query, gallery) index pair with the same identity code, ordered by query."""
    by_pid = torch.sort(g_pid, stable=True).indices
    per_pid = torch.bincount(g_pid, minlength=int(torch.cat([q_pid, g_pid]).max()) + 1)
    pid_start = torch.cumsum(per_pid, 0) - per_pid
    per_query = per_pid[q_pid]
    rows = torch.repeat_interleave(torch.arange(len(q_pid), device=q_pid.device), per_query)
    offset = torch.arange(len(rows), device=q_pid.device) - (torch.cumsum(per_query, 0) - per_query)[rows]
    return rows, by_pid[pid_start[q_pid][rows] + offset]


def _shared_codes(query: ArrayLike, gallery: ArrayLike, device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """Relabel query and gallery ids to shared int64 codes 0..n-1 on ``device`` (equality is kept)."""
    if isinstance(query, torch.Tensor) and isinstance(gallery, torch.Tensor):
        _, codes = torch.unique(torch.cat([query.to(device), gallery.to(device)]), return_inverse=True)
    else:
        ids = [x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x) for x in (query, gallery)]
        codes = torch.from_numpy(np.unique(np.concatenate(ids), return_inverse=True)[1].astype(np.int64)).to(device)
    return codes[: len(query)], codes[len(query) :]


def _as_tensor(x: ArrayLike, name: str) -> torch.Tensor:
    """A torch view of ``x`` keeping its dtype and device (the tie order of torchreid's sort depends on the dtype)."""
    if isinstance(x, torch.Tensor):
        return x.detach()
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x) if x.flags.writeable else torch.from_numpy(x.copy())
    raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")
