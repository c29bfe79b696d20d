"""MARS with tracklet attributes, registered with torchreid as ``mars_attr``.

Same layout and protocol as torchreid's ``Mars`` (names files, 1-based inclusive ``.mat`` rows,
1-based ``query_IDX``, junk pid -1 dropped, distractors pid 0 kept in the gallery, train ids
relabelled, cameras 0-based), plus attributes keyed by (person, camera, tracklet number) and checks
that turn torchreid's bare asserts into errors naming the file and row. Start-up reads two text
files and lists each identity folder once: no per-frame filesystem call. The metadata of
all 1.19 M frames takes about 160 MB (``python -m bench.run --only memory``).
"""
from __future__ import annotations

import os
import os.path as osp
import re
from typing import Dict, List, NamedTuple, Optional, Set, Tuple

import numpy as np

from ..registry import register_video_dataset
from .attributes_csv import SchemaSpec, attribute_csv_path, read_attribute_csv
from .dataset import RawTracklet, VideoAttributeDataset, annotate_splits, relabel_pids
from ..serialization import read_text
from .file_checks import DatasetFileError, missing_error, require_paths, shorten
from .mat_files import MatFileError, read_mat_matrix

MARS_LAYOUT = """  <root>/mars/
    bbox_train/<pid>/<pid>C<cam>T<tracklet>F<frame>.jpg    e.g. bbox_train/0001/0001C1T0001F001.jpg
    bbox_test/<pid>/...                                    distractors in 0000/, junk in 00-1/
    info/train_name.txt  info/test_name.txt                one frame name per line
    info/tracks_train_info.mat  info/tracks_test_info.mat  rows: start, end, pid, camera (1-based)
    info/query_IDX.mat                                     1-based rows of the query tracklets
    mars_attributes.csv                                    or the file given by attributes.csv"""

# pid (4 digits, or 00-1 for junk), camera digit, 4-digit tracklet number, then the frame number
_FRAME_NAME = re.compile(r"^(\d{4}|00-1)C([1-9])T(\d{4})F\d+", re.ASCII)
_PREFIX_LEN = 11  # characters naming person, camera and tracklet: 0001C1T0001
JUNK_PID = -1
JUNK_FOLDER = "00-1"
TRACK_COLUMNS = ("start", "end", "pid", "camera")
_MAX_INDEX = 2**53  # larger values cannot be frame numbers or ids (and a float holds integers exactly up to here)


class SplitFiles(NamedTuple):
    """Where one MARS split's frame names, tracklet rows and frames are."""

    names_path: str
    mat_path: str
    variable: str
    home: str


def mars_files(dataset_dir: str) -> Tuple[SplitFiles, SplitFiles, str]:
    """The train and test split files and the query file of a MARS folder (the adapter's and the check's)."""
    info = osp.join(dataset_dir, "info")
    train = SplitFiles(osp.join(info, "train_name.txt"), osp.join(info, "tracks_train_info.mat"),
                       "track_train_info", osp.join(dataset_dir, "bbox_train"))
    test = SplitFiles(osp.join(info, "test_name.txt"), osp.join(info, "tracks_test_info.mat"),
                      "track_test_info", osp.join(dataset_dir, "bbox_test"))
    return train, test, osp.join(info, "query_IDX.mat")


def read_frame_names(path: str) -> List[str]:
    """The frame names of a names file (one per line, ASCII)."""
    return read_text(path, "ascii", DatasetFileError, "MARS frame names look like 0001C1T0001F001.jpg").split()


def _read_integers(path: str, variable: str) -> np.ndarray:
    """``variable`` of a ``.mat`` file as int64, refused unless it is a real array of whole numbers."""
    value = read_mat_matrix(path, variable)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(value) | (value != np.round(value)) | (np.abs(value) >= _MAX_INDEX)
    if bad.any():
        where = np.argwhere(bad)[0]
        raise MatFileError(
            f"{path}: variable '{variable}' holds {value[tuple(where)]!r} at (1-based) {tuple((where + 1).tolist())}; "
            "expected whole numbers"
        )
    return value.astype(np.int64)


def read_track_rows(path: str, variable: str) -> np.ndarray:
    """A ``tracks_*_info.mat`` matrix: one int64 row ``start, end, pid, camera`` per tracklet."""
    rows = _read_integers(path, variable)
    if rows.ndim != 2 or rows.shape[1] != len(TRACK_COLUMNS):
        raise MatFileError(
            f"{path}: variable '{variable}' has shape {rows.shape}; expected one row of "
            f"{len(TRACK_COLUMNS)} columns ({', '.join(TRACK_COLUMNS)}) per tracklet"
        )
    return rows


def read_query_rows(path: str, num_test: int) -> np.ndarray:
    """0-based test rows of the query tracklets (``query_IDX`` is 1-based)."""
    rows = _read_integers(path, "query_IDX").ravel() - 1
    bad = rows[(rows < 0) | (rows >= num_test)]
    if len(bad):
        raise MatFileError(f"{path}: query_IDX holds {bad[0] + 1}, outside the {num_test} test tracklets (1-based)")
    return rows


class FolderCheck:
    """Checks frame names against identity folders; collects what is missing.

    Only the listing of the folder checked last is kept: rows come grouped by identity, so each
    folder is listed once per pass, and 1.19 M listed names never sit in memory at once.
    """

    def __init__(self) -> None:
        self.missing: List[str] = []
        self._absent: Set[str] = set()
        self._folder = ""
        self._listing: Optional[Set[str]] = None

    def check(self, folder: str, frame_names: List[str]) -> None:
        if folder != self._folder:
            self._folder = folder
            try:
                self._listing = set(os.listdir(folder))
            except FileNotFoundError:
                self._listing = None
                if folder not in self._absent:
                    self._absent.add(folder)
                    self.missing.append(folder)
        listing = self._listing
        if listing is not None and not listing.issuperset(frame_names):
            self.missing.extend(osp.join(folder, n) for n in frame_names if n not in listing)


def rows_to_tracklets(split: SplitFiles, names: List[str], rows: np.ndarray, folders: FolderCheck) -> Dict[int, RawTracklet]:
    """``{row: tracklet}`` for the ``.mat`` rows in order: names checked against the row, junk rows left
    out, frames checked against their folder's listing (what is missing is collected in ``folders``)."""
    names_path, mat_path = split.names_path, split.mat_path
    tracklets: Dict[int, RawTracklet] = {}
    for r in range(len(rows)):
        start, end, pid, cam = rows[r].tolist()
        where = f"{mat_path}, row {r + 1}"
        if not 1 <= start <= end <= len(names):
            raise DatasetFileError(f"{where}: frames {start}..{end} fall outside lines 1..{len(names)} of {names_path}")
        frame_names = names[start - 1:end]
        lines = f"lines {start}-{end} of {names_path}"
        match = _FRAME_NAME.match(frame_names[0])
        if match is None:
            raise DatasetFileError(
                f"{names_path}, line {start}: {shorten(frame_names[0])} is not a MARS frame name like 0001C1T0001F001.jpg"
            )
        prefixes = {n[:_PREFIX_LEN] for n in frame_names}
        if len(prefixes) > 1:
            raise DatasetFileError(
                f"{where} ({lines}): the tracklet mixes identities, cameras or tracklets "
                f"{[shorten(p) for p in sorted(prefixes)[:4]]}; each row must cover the frames of one tracklet"
            )
        name_pid = JUNK_PID if match[1] == JUNK_FOLDER else int(match[1])
        if (name_pid, int(match[2])) != (pid, cam):
            raise DatasetFileError(
                f"{where}: person {pid}, camera {cam}, but its frames ({lines}) are named {shorten(frame_names[0])}; "
                "the .mat and names files do not belong together"
            )
        if pid == JUNK_PID:
            continue
        folder = osp.join(split.home, match[1])
        folders.check(folder, frame_names)
        img_paths = tuple(f"{folder}{os.sep}{n}" for n in sorted(frame_names))
        tracklets[r] = (img_paths, pid, cam - 1, (pid, cam, int(match[3])))
    return tracklets


@register_video_dataset("mars_attr")
class MarsAttr(VideoAttributeDataset):
    """MARS (Zheng et al., ECCV 2016): 625 train ids / 8298 tracklets, 1980 query, 9330 gallery."""

    dataset_dir = "mars"
    default_csv = "mars_attributes.csv"
    _junk_pids = [0]  # distractors: kept in the gallery, never trained on with combineall

    @classmethod
    def check_files(cls, root: str, attributes_csv: str = "") -> None:
        """Raise :class:`DatasetNotFoundError` naming every file or folder of the layout missing under ``root``, reading
        nothing: the adapter's first step, and the trainer's check before anything slow."""
        dataset_dir = osp.join(osp.abspath(osp.expanduser(root)), cls.dataset_dir)
        train_split, test_split, query_mat = mars_files(dataset_dir)
        required = [dataset_dir, train_split.home, test_split.home, train_split.names_path, test_split.names_path,
                    train_split.mat_path, test_split.mat_path, query_mat,
                    attribute_csv_path(attributes_csv, dataset_dir, cls.default_csv)]
        require_paths("mars_attr", required, MARS_LAYOUT, "mars")

    def __init__(self, root: str = "", attributes_csv: str = "", schema: SchemaSpec = "auto", **kwargs) -> None:
        self.check_files(root, attributes_csv)
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        csv_path = attribute_csv_path(attributes_csv, self.dataset_dir, self.default_csv)
        train_split, test_split, query_mat = mars_files(self.dataset_dir)

        table = read_attribute_csv(csv_path, schema)
        train_rows = read_track_rows(train_split.mat_path, train_split.variable)
        test_rows = read_track_rows(test_split.mat_path, test_split.variable)
        query_rows = read_query_rows(query_mat, len(test_rows))
        is_query = np.zeros(len(test_rows), dtype=bool)
        is_query[query_rows] = True

        folders = FolderCheck()  # each split's names are freed once its tracklets are made (a lower peak)
        train_names = read_frame_names(train_split.names_path)
        train = list(rows_to_tracklets(train_split, train_names, train_rows, folders).values())
        del train_names
        test = rows_to_tracklets(test_split, read_frame_names(test_split.names_path), test_rows, folders)
        query = [test[r] for r in query_rows.tolist() if r in test]
        gallery = [tracklet for r, tracklet in test.items() if not is_query[r]]
        if folders.missing:
            raise missing_error("mars_attr", folders.missing, MARS_LAYOUT, "mars", what="frames or identity folders")

        train, query, gallery = annotate_splits(table, "mars_attr", relabel_pids(train), query, gallery)
        super().__init__(train, query, gallery, schema=table.schema, **kwargs)
