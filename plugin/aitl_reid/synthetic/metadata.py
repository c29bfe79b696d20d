"""Write the MARS ``info/`` files and the attribute CSV for a planned set of tracklets.

The ``.mat`` tables are integer arrays (int32 track info, uint16 ``query_IDX``), which
``scipy.io.loadmat`` returns with the same dtypes and shapes as the real MARS files (those are
MATLAB class ``double`` stored in integer form; no reader here or in torchreid sees the class).
torchreid's own MARS loader slices frame names with the loaded values, which a float array would break.
"""
from __future__ import annotations

import csv
import io
import os
from typing import Dict, List, Sequence

import numpy as np
from scipy.io import savemat

from ..schema import MARS_V2
from .identity import Identity
from .tracklets import TrackletSpec

ATTRIBUTE_CSV = "mars_attributes.csv"
MAT_HEADER = b"MATLAB 5.0 MAT-file, Created by: aitl_reid synthetic MARS"
MAT_HEADER_BYTES = 116  # the descriptive text of a MAT-5 header; savemat puts the creation time there


def save_mat(path: str, name: str, values: np.ndarray) -> None:
    """``scipy.io.savemat`` with a fixed header text, so the same tree is the same bytes on every run."""
    buffer = io.BytesIO()
    savemat(buffer, {name: values}, do_compression=True)
    with open(path, "wb") as handle:
        handle.write(MAT_HEADER.ljust(MAT_HEADER_BYTES, b" ") + buffer.getvalue()[MAT_HEADER_BYTES:])


def track_info(specs: Sequence[TrackletSpec]) -> np.ndarray:
    """Rows ``start, end, pid, camid`` (1-based, inclusive) into the split's name list."""
    rows, start = [], 1
    for spec in specs:
        rows.append((start, start + spec.num_frames - 1, spec.pid, spec.cam))
        start += spec.num_frames
    return np.asarray(rows, dtype=np.int32).reshape(-1, 4)


def _write_lines(path: str, lines: List[str]) -> None:
    with open(path, "w", encoding="ascii", newline="\n") as handle:
        handle.write("".join(line + "\n" for line in lines))


def write_info(info_dir: str, splits: Dict[str, List[TrackletSpec]], queries: Sequence[int]) -> None:
    """``train_name.txt``, ``test_name.txt``, the two track-info tables and ``query_IDX``."""
    os.makedirs(info_dir, exist_ok=True)
    for split in ("train", "test"):
        specs = splits[split]
        _write_lines(os.path.join(info_dir, f"{split}_name.txt"), [n for s in specs for n in s.frame_names()])
        mat_path = os.path.join(info_dir, f"tracks_{split}_info.mat")
        save_mat(mat_path, f"track_{split}_info", track_info(specs))
    rows = np.asarray(queries, dtype=np.int64) + 1
    storage = np.uint16 if rows.size == 0 or rows.max() <= np.iinfo(np.uint16).max else np.int32
    save_mat(os.path.join(info_dir, "query_IDX.mat"), "query_IDX", rows.astype(storage).reshape(1, -1))


def write_attribute_csv(path: str, splits: Dict[str, List[TrackletSpec]], identities: Dict[int, Identity]) -> int:
    """One ``mars_v2`` row per identity tracklet (train, then test); returns the row count."""
    count = 0
    with open(path, "w", encoding="ascii", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(MARS_V2.header)
        for split in ("train", "test"):
            for spec in splits[split]:
                if spec.pid <= 0:
                    continue
                labels = dict(spec.conditions, **identities[spec.pid].labels)
                labels.update(spec.carried)
                writer.writerow([spec.pid, spec.cam, spec.number] + [labels[name] for name in MARS_V2.names])
                count += 1
    return count
