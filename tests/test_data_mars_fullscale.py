"""Full-scale MARS check against the real metadata in ../shared/data/mars_meta (no images needed).

The tree's frame names are rebuilt from the real ``.mat`` rows and the real first-release CSV's
tracklet numbers, with one tiny JPEG hard-linked per frame name (1.19M links).
"""
from __future__ import annotations

import csv
import itertools
import os
import shutil
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import cv2
import numpy as np
import pytest
from scipy.io import loadmat

from aitl_reid.data.dataset import count_annotated
from aitl_reid.data.mars import MarsAttr
from aitl_reid.data.transforms import ClipTransform

META = Path(__file__).resolve().parents[2] / "shared" / "data" / "mars_meta"
LINKS_PER_SOURCE = 60_000  # ext4 allows about 65,000 hard links per file
LOAD_SECONDS_GOAL = 30.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not META.is_dir(), reason=f"real MARS metadata not available at {META}"),
]


def _csv_tracklet_numbers(path: Path) -> Dict[Tuple[int, int], Iterator[int]]:
    """Per (person, camera), the CSV's tracklet numbers in increasing order (the names' sort order)."""
    numbers: Dict[Tuple[int, int], List[int]] = defaultdict(list)
    with open(path, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            numbers[(int(row[0]), int(row[1]))].append(int(row[2]))
    return {key: iter(sorted(values)) for key, values in numbers.items()}


def _frame_names(rows: np.ndarray, csv_numbers: Dict[Tuple[int, int], Iterator[int]]) -> List[str]:
    """Names-file lines for ``.mat`` rows; distractor and junk tracklets (no CSV row) are numbered 1, 2, ..."""
    invented: Dict[Tuple[int, int], Iterator[int]] = defaultdict(lambda: itertools.count(1))
    names: List[str] = []
    for start, end, pid, cam in rows.tolist():
        assert start == len(names) + 1, "the real .mat rows are contiguous"
        number = next(csv_numbers[(pid, cam)] if pid > 0 else invented[(pid, cam)])
        folder = "00-1" if pid == -1 else f"{pid:04d}"
        names.extend(f"{folder}C{cam}T{number:04d}F{frame:03d}.jpg" for frame in range(1, end - start + 2))
    return names


def _link_frames(names: List[str], home: Path, sources: List[Path], offset: int) -> None:
    for folder in {name[:4] for name in names}:
        (home / folder).mkdir(parents=True)
    for i, name in enumerate(names, start=offset):
        os.link(sources[i // LINKS_PER_SOURCE], home / name[:4] / name)


def build_full_mars(root: Path) -> Path:
    """A MARS tree with the real metadata and CSV and one hard-linked JPEG per frame; returns ``root``."""
    dataset_dir = root / "mars"
    info = dataset_dir / "info"
    info.mkdir(parents=True)
    for name in ("tracks_train_info.mat", "tracks_test_info.mat", "query_IDX.mat"):
        shutil.copy(META / name, info / name)
    shutil.copy(META / "mars_attributes.csv", dataset_dir / "mars_attributes.csv")
    csv_numbers = _csv_tracklet_numbers(META / "mars_attributes.csv")
    train_names = _frame_names(loadmat(META / "tracks_train_info.mat")["track_train_info"], csv_numbers)
    test_names = _frame_names(loadmat(META / "tracks_test_info.mat")["track_test_info"], csv_numbers)
    (info / "train_name.txt").write_text("\n".join(train_names) + "\n")
    (info / "test_name.txt").write_text("\n".join(test_names) + "\n")

    source_dir = root / "sources"
    source_dir.mkdir()
    count = len(train_names) + len(test_names)
    sources = [source_dir / f"{i}.jpg" for i in range(count // LINKS_PER_SOURCE + 1)]
    for i, path in enumerate(sources):
        cv2.imwrite(str(path), np.full((8, 4, 3), i % 256, dtype=np.uint8))
    _link_frames(train_names, dataset_dir / "bbox_train", sources, 0)
    _link_frames(test_names, dataset_dir / "bbox_test", sources, len(train_names))
    return root


@pytest.fixture(scope="module")
def full_mars_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("full_mars")
    start = time.perf_counter()
    build_full_mars(root)
    print(f"\nfull-scale MARS tree built in {time.perf_counter() - start:.1f} s")
    yield root
    shutil.rmtree(root)  # 1.19M directory entries: do not leave them for pytest's tmp retention


def test_full_scale_mars_loads_published_protocol_with_every_csv_attribute(full_mars_root: Path) -> None:
    start = time.perf_counter()
    dataset = MarsAttr(root=str(full_mars_root), transform=ClipTransform(16, 8), mode="query", verbose=False)
    seconds = time.perf_counter() - start
    print(f"full-scale MARS metadata loaded in {seconds:.1f} s")

    assert dataset.attribute_schema.name == "mars_v1"
    assert (dataset.num_train_pids, len(dataset.train)) == (625, 8298)
    assert (len(dataset.query), len(dataset.gallery)) == (1980, 9330)
    assert sum(len(items[0]) for items in dataset.train) == 509_914
    labelled_test = [items for items in dataset.query + dataset.gallery if items[1] > 0]
    distractors = [items for items in dataset.gallery if items[1] == 0]
    assert count_annotated(dataset.train) == 8298
    assert (len(labelled_test), count_annotated(labelled_test)) == (8062, 8062)
    assert (len(distractors), count_annotated(distractors)) == (3248, 0)
    assert dataset[0]["img"].shape[1:] == (4, 3, 16, 8)
    assert seconds < LOAD_SECONDS_GOAL
