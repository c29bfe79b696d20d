"""Shared fixtures: tiny MARS-layout and DukeMTMC-VideoReID-layout trees built in a temporary folder.

Every frame is a uniform grey JPEG whose level is 20 x its frame number (F001 -> 20), so a test can
tell from decoded pixels which frames a clip holds. Attribute values are ``(pid + column) % classes``.

Tiny MARS (``tiny_mars_root``): 6 train ids (1, 3, 5, 7, 9, 11) with 20 tracklets; test ids 2, 4, 6
with 8 tracklets (query = the first tracklet of each, 3), 2 distractor tracklets (``0000``) and 2 junk
tracklets (``00-1``); gallery = 5 + 2 distractors = 7. The CSV has a row for every train and labelled
test tracklet except id 6's camera-6 tracklet (gallery).

Tiny Duke (``tiny_duke_root``): 6 train ids with 12 tracklets, query ids 7-9 (3 tracklets), gallery
ids 7-10 (5 tracklets; id 10 only in the gallery and without a CSV row). Id 2's second tracklet uses
the old frame naming and id 3's second tracklet starts at frame 2; query frames are 40x20.
"""
from __future__ import annotations

import csv
import itertools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from scipy.io import savemat

from aitl_reid.process_exit import skip_final_collections
from aitl_reid.schema import get_schema
from footage_data import footage_run, tiny_run  # noqa: F401  (session fixtures: defined here, shared by every module)

# Fuzz tests (tests/test_fuzz_*.py): few, reproducible examples so CI stays short and never flakes;
# HYPOTHESIS_PROFILE=deep searches longer with fresh random inputs when hunting for parser holes.
settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("deep", max_examples=3000, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

FRAME_HEIGHT, FRAME_WIDTH = 32, 16
GREY_STEP = 20  # frame F<n> is a uniform image of grey level GREY_STEP * n

# {pid: [(camera, frames), ...]} in the order of the .mat rows
MARS_TRAIN: Dict[int, List[Tuple[int, int]]] = {
    1: [(1, 6), (1, 3), (2, 8)],
    3: [(1, 5), (3, 7), (4, 4), (4, 9)],
    5: [(2, 6), (5, 5), (6, 7)],
    7: [(1, 4), (2, 6), (3, 5), (6, 8)],
    9: [(3, 6), (4, 5), (5, 7)],
    11: [(1, 7), (2, 4), (6, 6)],
}
MARS_TEST: Dict[int, List[Tuple[int, int]]] = {
    -1: [(1, 3), (2, 4)],
    0: [(1, 5), (3, 6)],
    2: [(1, 6), (2, 5), (3, 4)],
    4: [(2, 7), (4, 6)],
    6: [(1, 5), (5, 6), (6, 9)],
}
MARS_UNLABELLED = {(6, 6, 1)}  # (pid, camera, tracklet) without a CSV row

DUKE_TRAIN = {
    1: [(1, 5), (2, 6)], 2: [(1, 4), (3, 7)], 3: [(2, 5), (4, 3)],
    4: [(1, 6), (2, 5)], 5: [(3, 5), (4, 6)], 6: [(1, 7), (4, 5)],
}
DUKE_QUERY = {7: [(1, 5)], 8: [(2, 6)], 9: [(3, 4)]}
DUKE_GALLERY = {7: [(2, 6)], 8: [(1, 5), (3, 5)], 9: [(4, 6)], 10: [(1, 4)]}
DUKE_UNLABELLED_PIDS = {10}


def write_frame(path: Path, level: int, size: Tuple[int, int] = (FRAME_HEIGHT, FRAME_WIDTH)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((*size, 3), level, dtype=np.uint8))


def write_attribute_csv(path: Path, schema_name: str, keys: List[Tuple[int, int, int]]) -> None:
    schema = get_schema(schema_name)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(schema.header)
        for pid, cam, tracklet in keys:
            writer.writerow([pid, cam, tracklet] + [(pid + j) % k for j, k in enumerate(schema.num_classes)])


def _mars_split(
    dataset_dir: Path, home: str, spec: Dict[int, List[Tuple[int, int]]]
) -> Tuple[List[str], np.ndarray, List[Tuple[int, int, int]]]:
    """Frames and names of one MARS split; returns names, .mat rows and (pid, cam, tracklet) per row."""
    names, rows, keys = [], [], []
    for pid, tracklets in spec.items():
        folder = "00-1" if pid == -1 else f"{pid:04d}"
        numbers = {cam: itertools.count(1) for cam, _ in tracklets}
        for cam, length in tracklets:
            tracklet = next(numbers[cam])
            start = len(names) + 1
            for frame in range(1, length + 1):
                name = f"{folder}C{cam}T{tracklet:04d}F{frame:03d}.jpg"
                write_frame(dataset_dir / home / folder / name, GREY_STEP * frame)
                names.append(name)
            rows.append((start, len(names), pid, cam))
            keys.append((pid, cam, tracklet))
    return names, np.array(rows, dtype=np.int32), keys


def build_tiny_mars(root: Path, schema: str = "mars_v2") -> Path:
    """A MARS tree under ``root/mars`` with an attribute CSV in the given release; returns ``root``."""
    dataset_dir = root / "mars"
    info = dataset_dir / "info"
    info.mkdir(parents=True)
    train_names, train_rows, train_keys = _mars_split(dataset_dir, "bbox_train", MARS_TRAIN)
    test_names, test_rows, test_keys = _mars_split(dataset_dir, "bbox_test", MARS_TEST)
    (info / "train_name.txt").write_text("\n".join(train_names) + "\n")
    (info / "test_name.txt").write_text("\n".join(test_names) + "\n")
    savemat(info / "tracks_train_info.mat", {"track_train_info": train_rows})
    savemat(info / "tracks_test_info.mat", {"track_test_info": test_rows})
    first_rows = [int(np.flatnonzero(test_rows[:, 2] == pid)[0]) + 1 for pid in (2, 4, 6)]
    savemat(info / "query_IDX.mat", {"query_IDX": np.array([first_rows], dtype=np.uint16)})
    labelled = [k for k in train_keys + test_keys if k[0] > 0 and k not in MARS_UNLABELLED]
    write_attribute_csv(dataset_dir / "mars_attributes.csv", schema, labelled)
    return root


def build_tiny_duke(root: Path, schema: str = "duke_v2") -> Path:
    """A DukeMTMC-VideoReID tree under ``root/dukemtmc-vidreid`` with an attribute CSV; returns ``root``."""
    dataset_dir = root / "dukemtmc-vidreid"
    base = dataset_dir / "DukeMTMC-VideoReID"
    serial = itertools.count(1)
    keys = []
    numbers: Dict[int, itertools.count] = {}
    for split, spec in (("train", DUKE_TRAIN), ("query", DUKE_QUERY), ("gallery", DUKE_GALLERY)):
        size = (40, 20) if split == "query" else (FRAME_HEIGHT, FRAME_WIDTH)
        for pid, tracklets in spec.items():
            counter = numbers.setdefault(pid, itertools.count(1))
            for index, (cam, length) in enumerate(tracklets):
                tracklet = next(counter)
                first = 2 if (pid, index) == (3, 1) else 1
                for frame in range(first, first + length):
                    if (pid, index) == (2, 1):
                        name = f"{pid:04d}C{cam}F{frame:04d}X{next(serial):05d}.jpg"
                    else:
                        name = f"{pid:04d}_C{cam}_F{frame:04d}_X{next(serial):05d}.jpg"
                    write_frame(base / split / f"{pid:04d}" / f"{tracklet:04d}" / name, GREY_STEP * frame, size)
                if pid not in DUKE_UNLABELLED_PIDS:
                    keys.append((pid, cam, tracklet))
    write_attribute_csv(dataset_dir / "duke_attributes.csv", schema, keys)
    return root


@pytest.fixture
def make_tiny_mars(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_tiny_mars(schema='mars_v2')`` builds a fresh tiny MARS tree, returns the data root."""
    counter = itertools.count()
    return lambda schema="mars_v2": build_tiny_mars(tmp_path / f"mars_root{next(counter)}", schema)


@pytest.fixture
def make_tiny_duke(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_tiny_duke(schema='duke_v2')`` builds a fresh tiny Duke tree, returns the data root."""
    counter = itertools.count()
    return lambda schema="duke_v2": build_tiny_duke(tmp_path / f"duke_root{next(counter)}", schema)


@pytest.fixture
def tiny_mars_root(make_tiny_mars: Callable[..., Path]) -> Path:
    """Data root holding a tiny MARS tree (``<root>/mars``) with a mars_v2 attribute CSV."""
    return make_tiny_mars()


@pytest.fixture
def tiny_duke_root(make_tiny_duke: Callable[..., Path]) -> Path:
    """Data root holding a tiny DukeMTMC-VideoReID tree (``<root>/dukemtmc-vidreid``) with a duke_v2 CSV."""
    return make_tiny_duke()


@pytest.fixture(autouse=True)
def _no_weights_download(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test downloads weights or reads the user's torch cache: an empty $TORCH_HOME, a mirror nobody serves."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
    monkeypatch.setenv("AITL_REID_WEIGHTS_MIRROR", "http://127.0.0.1:1")


MEMORY_FOLDER = Path("/dev/shm")
FULL_MARS_MEMORY_BYTES = 2 << 30  # the full tree in memory: one frame file per 60,000 links, and its directory entries


def scratch_folder(tmp_path_factory: pytest.TempPathFactory, name: str, needs_bytes: int) -> Path:
    """A new folder for a tree of many small entries: in memory (``/dev/shm``) where it is writable and has
    ``needs_bytes`` free, since creating and deleting a million directory entries there takes a third of the time
    it takes on a disk (``discard`` mounts wait on the device for each); pytest's temporary folder otherwise."""
    prefix = f"aitl_reid_{name}_"
    try:
        _remove_left_behind(prefix)
        if os.access(MEMORY_FOLDER, os.W_OK) and shutil.disk_usage(MEMORY_FOLDER).free >= needs_bytes:
            return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}_", dir=MEMORY_FOLDER))
    except OSError:
        pass
    return tmp_path_factory.mktemp(name)


def _remove_left_behind(prefix: str) -> None:
    """Folders of ``scratch_folder`` whose pytest process ended without its teardown (killed): they would hold
    memory until the machine restarts."""
    for folder in MEMORY_FOLDER.glob(f"{prefix}*"):
        pid = folder.name[len(prefix):].split("_")[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@pytest.fixture(scope="session")
def full_mars_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The full-scale MARS tree of the real metadata (``bench.mars_tree``: real ``.mat`` files and first-release
    CSV, names rebuilt, one hard link per frame), built once for every test that needs it (about 5 s in memory)."""
    from bench.mars_tree import MARS_META, build_mars_tree

    if not os.path.isdir(MARS_META):
        pytest.skip(f"real MARS metadata not available at {MARS_META}")
    root = scratch_folder(tmp_path_factory, "full_mars", FULL_MARS_MEMORY_BYTES)
    try:
        build_mars_tree(root, Path(MARS_META))
        yield root
    finally:
        shutil.rmtree(root)  # 1.19M directory entries: never left in memory, nor for pytest's tmp retention



# Test files that share a session fixture too costly to build on two workers (the full-scale MARS tree, about 12 s):
# under ``make test`` (pytest-xdist, ``--dist loadfile``) they run on one worker, as if they were one file.
SHARED_WORKER = {"tests/test_data_check.py": "full_mars_tree", "tests/test_data_mars_fullscale.py": "full_mars_tree"}

# The files that take longest (seconds summed over their tests with ``--durations=0``, 2-core machine, 2026-12-07),
# handed out first: a worker that picks one of them up near the end would finish alone while the other waits.
# xdist's own order (files with the most tests first) sent several of these last. Keep the list roughly current;
# a file missing from it is only scheduled later, never skipped.
SLOWEST_FIRST = ("tests/test_bench.py", "tests/test_distributed.py", "tests/test_resume_exact.py",
                 "tests/test_benchmark_synthetic.py", "full_mars_tree", "tests/test_inference_cli.py",
                 "tests/test_folder_lock.py", "tests/test_packaging.py", "tests/test_bad_frames.py",
                 "tests/test_checkpoint_policy.py", "tests/test_main_cli.py", "tests/test_train_end_to_end.py")


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """``--dist loadfile`` (each file on one worker, so its module fixtures are built once), with the files of
    :data:`SHARED_WORKER` sent together and those of :data:`SLOWEST_FIRST` first. (``--dist loadgroup`` with
    ``xdist_group`` marks would say the same, but pytest-xdist 3.8 spreads the tests of a group over workers here.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedWorkerScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return SHARED_WORKER.get(path, path)

        def _assign_work_unit(self, node: object) -> None:
            for scope in reversed(SLOWEST_FIRST):
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return SharedWorkerScheduling(config, log)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The tests are over: the interpreter's exit need not run its collector over the whole suite's objects again
    (about 2 s per pytest process; see ``aitl_reid.process_exit``)."""
    skip_final_collections()
