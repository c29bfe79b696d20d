"""A MARS tree made from the real public metadata (``../shared/data/mars_meta``, or
``$AITL_MARS_META``) with no real images.

The names files are rebuilt from the real ``.mat`` rows and the first-release CSV's tracklet numbers,
and every frame name is a hard link to one tiny JPEG (1.19 M links at full scale), so the dataset
adapters run on the real MARS metadata at full size. Used by the full-scale adapter test and by the
memory benchmark; ``every`` keeps one tracklet row in so many (queries re-indexed) for small runs.
"""
from __future__ import annotations

import csv
import itertools
import os
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import cv2
import numpy as np
from scipy.io import loadmat, savemat

MARS_META = os.environ.get("AITL_MARS_META", str(Path(__file__).resolve().parents[2] / "shared/data/mars_meta"))
LINKS_PER_SOURCE = 60_000  # ext4 allows about 65,000 hard links per file
SPLITS = (("train", "tracks_train_info.mat", "track_train_info"), ("test", "tracks_test_info.mat", "track_test_info"))


def missing_meta() -> str:
    """Why a benchmark on the real metadata is skipped ('' when the folder exists); the folder is named
    relative to the repository, as reports quote paths."""
    if os.path.isdir(MARS_META):
        return ""
    shown = os.path.relpath(MARS_META, Path(__file__).resolve().parents[1])
    return f"MARS metadata folder {shown} not found (set AITL_MARS_META)"


def _csv_tracklet_numbers(path: Path) -> Dict[Tuple[int, int], Iterator[int]]:
    """Per (person, camera), the CSV's tracklet numbers in increasing order (the names' sort order)."""
    numbers: Dict[Tuple[int, int], List[int]] = defaultdict(list)
    with open(path, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            numbers[(int(row[0]), int(row[1]))].append(int(row[2]))
    return {key: iter(sorted(values)) for key, values in numbers.items()}


def _names_and_rows(rows: np.ndarray, csv_numbers: Dict[Tuple[int, int], Iterator[int]]) -> Tuple[List[str], np.ndarray]:
    """Names-file lines for ``.mat`` rows and the rows renumbered to them; distractor and junk tracklets
    (no CSV row) are numbered 1, 2, ..."""
    invented: Dict[Tuple[int, int], Iterator[int]] = defaultdict(lambda: itertools.count(1))
    names: List[str] = []
    out = []
    for start, end, pid, cam in rows.tolist():
        number = next(csv_numbers[(pid, cam)] if pid > 0 else invented[(pid, cam)])
        folder = "00-1" if pid == -1 else f"{pid:04d}"
        first = len(names) + 1
        names.extend(f"{folder}C{cam}T{number:04d}F{frame:03d}.jpg" for frame in range(1, end - start + 2))
        out.append((first, len(names), pid, cam))
    return names, np.array(out, dtype=np.int32).reshape(-1, 4)


def _link_frames(names: List[str], home: Path, sources: List[Path], offset: int) -> None:
    """One hard link per frame name; paths as strings, since pathlib's joins would be most of the time taken."""
    for folder in {name[:4] for name in names}:
        (home / folder).mkdir(parents=True)
    home_dir, source_files = str(home), [str(source) for source in sources]
    for i, name in enumerate(names, start=offset):
        os.link(source_files[i // LINKS_PER_SOURCE], f"{home_dir}/{name[:4]}/{name}")


def build_mars_tree(root: Path, meta: Path = Path(MARS_META), every: int = 1) -> Path:
    """A MARS tree under ``root/mars``: real metadata and CSV (one row in ``every``), one hard link per frame."""
    dataset_dir = root / "mars"
    info = dataset_dir / "info"
    info.mkdir(parents=True)
    shutil.copy(meta / "mars_attributes.csv", dataset_dir / "mars_attributes.csv")
    csv_numbers = _csv_tracklet_numbers(meta / "mars_attributes.csv")
    names: Dict[str, List[str]] = {}
    for split, file_name, variable in SPLITS:
        rows = loadmat(meta / file_name)[variable][::every]
        names[split], renumbered = _names_and_rows(rows, csv_numbers)
        (info / f"{split}_name.txt").write_text("\n".join(names[split]) + "\n")
        if every == 1:  # the real files themselves, so that the adapter reads them as published
            assert np.array_equal(renumbered, rows), "the real .mat rows are contiguous"
            shutil.copy(meta / file_name, info / file_name)
        else:
            savemat(info / file_name, {variable: renumbered})
    if every == 1:
        shutil.copy(meta / "query_IDX.mat", info / "query_IDX.mat")
    else:
        query = loadmat(meta / "query_IDX.mat")["query_IDX"].ravel().astype(np.int64) - 1
        kept = query[query % every == 0] // every + 1
        savemat(info / "query_IDX.mat", {"query_IDX": kept.reshape(1, -1).astype(np.uint16)})

    source_dir = root / "sources"
    source_dir.mkdir()
    count = len(names["train"]) + len(names["test"])
    sources = [source_dir / f"{i}.jpg" for i in range(count // LINKS_PER_SOURCE + 1)]
    for i, path in enumerate(sources):
        cv2.imwrite(str(path), np.full((8, 4, 3), i % 256, dtype=np.uint8))
    _link_frames(names["train"], dataset_dir / "bbox_train", sources, 0)
    _link_frames(names["test"], dataset_dir / "bbox_test", sources, len(names["train"]))
    return root
