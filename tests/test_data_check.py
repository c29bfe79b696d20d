"""``aitl_reid.data.check`` on a full-scale MARS tree made from the real metadata (complete, then with
pieces moved aside), and on a small DukeMTMC-VideoReID tree keyed like the real dataset.

Expected counts are the published ones, or are computed from the real ``.mat`` files read with scipy
(not with the adapter's reader, which the check uses).
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import shutil
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import cv2
import numpy as np
import pytest
from scipy.io import loadmat

from aitl_reid.data.check import DUKE_PROTOCOL, check_duke, check_mars, main
from bench.mars_tree import MARS_META

META = Path(MARS_META)
needs_meta = pytest.mark.skipif(not META.is_dir(), reason=f"real MARS metadata not available at {META}")
PUBLISHED_MARS = {"train_ids": 625, "train_tracklets": 8298, "train_frames": 509_914, "query": 1980, "gallery": 9330}
MARS_ANNOTATED = {"train": 8298, "query": 1980, "gallery": 6082}  # 16360 CSV rows; the 3248 distractors have none
MARS_INFO = "published: folder info/ of https://github.com/liangzheng06/MARS-evaluation"
ATTRIBUTES_PAGE = "http://irip.buaa.edu.cn/mars_duke_attributes/index.html"


@pytest.fixture
def mars_root(full_mars_root: Path) -> Path:
    """The session's full-scale tree (conftest): tests that take pieces out put them back (:func:`moved_aside`)."""
    return full_mars_root


@contextlib.contextmanager
def moved_aside(root: Path, *pieces: str) -> Iterator[None]:
    """Take pieces out of the module's tree for one test and put them back, whatever the test does (kept in a folder
    of the data root beside ``mars/``, where no reader looks, and removed with the tree)."""
    aside = root / "moved_aside"
    aside.mkdir(exist_ok=True)
    moves = [(root / piece, aside / str(i)) for i, piece in enumerate(pieces)]
    for path, kept in moves:
        path.rename(kept)
    try:
        yield
    finally:
        for path, kept in moves:
            kept.rename(path)


def real_rows(split: str) -> np.ndarray:
    """``start, end, pid, camera`` rows of the real ``.mat`` file, read with scipy."""
    return loadmat(META / f"tracks_{split}_info.mat")[f"track_{split}_info"].astype(np.int64)


@pytest.mark.slow
@needs_meta
def test_complete_real_mars_tree_shows_the_published_counts_and_coverage(mars_root: Path) -> None:
    report = check_mars(str(mars_root))
    assert report.complete and not report.missing and not report.problems
    assert report.counts() == PUBLISHED_MARS
    assert report.table is not None and report.table.schema.name == "mars_v1"
    assert report.annotated() == MARS_ANNOTATED and report.unmatched_rows() == []
    text = report.render()
    assert text.startswith(f"MARS in {mars_root}: complete")
    assert "gallery                9,330       6,082     6,082          3,248" in text


@pytest.mark.slow
@needs_meta
def test_command_exits_0_on_the_complete_tree_with_the_papers_csv(mars_root: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    v2 = META / "mars_attributes_v2.csv"
    assert main(["mars", str(mars_root), "--attributes-csv", str(v2)]) == 0
    out = capsys.readouterr().out
    assert f"Attribute coverage ({v2}: schema mars_v2, 16,360 rows)" in out
    assert "rows matching no tracklet: 0" in out and "differs" not in out


@pytest.mark.slow
@needs_meta
def test_missing_frames_and_identity_folder_are_counted_with_examples(mars_root: Path) -> None:
    frames = (mars_root / "mars/info/train_name.txt").read_text().split()[:3]  # of the first train tracklet
    test_rows, query = real_rows("test"), loadmat(META / "query_IDX.mat")["query_IDX"].ravel() - 1
    of_id_2 = test_rows[:, 2] == 2
    in_query = np.zeros(len(test_rows), dtype=bool)
    in_query[query] = True
    frames_of_id_2 = int((test_rows[of_id_2, 1] - test_rows[of_id_2, 0] + 1).sum())
    with moved_aside(mars_root, *(f"mars/bbox_train/0001/{name}" for name in frames), "mars/bbox_test/0002"):
        report = check_mars(str(mars_root))
    assert not report.complete
    assert report.counts() == {**PUBLISHED_MARS, "train_tracklets": 8297, "train_frames": 509_911,
                               "query": 1980 - int((of_id_2 & in_query).sum()),
                               "gallery": 9330 - int((of_id_2 & ~in_query).sum())}
    assert report.annotated() == MARS_ANNOTATED  # the metadata still defines every tracklet
    train_frames, test_folders = report.missing
    assert (train_frames.count, train_frames.noun) == (3, "frames missing")
    assert train_frames.examples == tuple(str(mars_root / "mars/bbox_train/0001" / name) for name in frames)
    assert (test_folders.count, test_folders.noun) == (1, f"identity folders missing ({frames_of_id_2:,} frames)")
    text = report.render()
    assert ("  mars/bbox_test: 1 identity folders missing" in text
            and "published: bbox_test.zip on the MARS project page http://zheng-lab.cecs.anu.edu.au/" in text)
    assert "train tracklets        8,297     8,298  << differs" in text


@pytest.mark.slow
@needs_meta
def test_missing_info_file_and_csv_say_what_they_are_and_where_published(mars_root: Path,
                                                                         capsys: pytest.CaptureFixture) -> None:
    with moved_aside(mars_root, "mars/info/query_IDX.mat", "mars/mars_attributes.csv"):
        assert main(["mars", str(mars_root)]) == 1
    out = capsys.readouterr().out
    assert ("  mars/info/query_IDX.mat\n      the rows of the query tracklets among the test tracklets; "
            f"{MARS_INFO}\n") in out
    assert "  mars/mars_attributes.csv\n      the tracklet attributes; published: " in out and ATTRIBUTES_PAGE in out
    assert "query tracklets            -     1,980  << differs" in out
    assert "train tracklets        8,298     8,298\n" in out
    assert "Attribute coverage: not computed (no readable attribute CSV)" in out


@pytest.mark.slow
@needs_meta
def test_coverage_counts_rows_joined_tracklets_without_a_row_and_rows_matching_none(mars_root: Path,
                                                                                   tmp_path: Path) -> None:
    with open(META / "mars_attributes.csv", newline="") as f:
        header, *rows = list(csv.reader(f))
    train_ids = set(real_rows("train")[:, 2].tolist())
    dropped = [row for row in rows if int(row[0]) in train_ids][:5]
    strays = [["9999", "1", "1"] + ["0"] * 12, ["9999", "1", "2"] + ["0"] * 12]
    partial = tmp_path / "partial.csv"
    with open(partial, "w", newline="") as f:
        csv.writer(f).writerows([header, *(row for row in rows if row not in dropped), *strays])
    report = check_mars(str(mars_root), str(partial))
    assert not report.complete and not report.missing and report.counts() == PUBLISHED_MARS
    assert report.annotated() == {**MARS_ANNOTATED, "train": 8298 - 5}
    assert report.unmatched_rows() == [(9999, 1, 1), (9999, 1, 2)]
    text = report.render()
    assert "train                  8,298       8,293     8,298              5  << differs" in text
    assert "rows matching no tracklet: 2, e.g. (person, camera, tracklet) (9999, 1, 1), (9999, 1, 2)" in text


def test_nonexistent_root_is_incomplete_and_lists_every_piece(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["mars", str(tmp_path / "nothing")]) == 1
    out = capsys.readouterr().out
    assert f"ROOT {tmp_path / 'nothing'} does not exist" in out
    for piece in ("mars/bbox_train", "mars/bbox_test", "mars/info/train_name.txt", "mars/info/test_name.txt",
                  "mars/info/tracks_train_info.mat", "mars/info/tracks_test_info.mat", "mars/info/query_IDX.mat",
                  "mars/mars_attributes.csv"):
        assert f"\n  {piece}\n" in out


def test_unknown_dataset_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["market", "datasets"])
    assert exit_.value.code == 2


# --- DukeMTMC-VideoReID: a small tree keyed like the real one (tracklet folder numbers unique in the dataset)
DUKE_HEADER = ("person_id,camera_id,tracklets_id,motion,pose,occlusion,cut-out,muti-person,background-dominant,"
               "target-change,target-miss,wrong-target,backpack,bag,handbag,boots,gender,hat,shoes,top,bottom color,"
               "top color").split(",")  # as released, typo included
# split -> {pid: [(tracklet folder, camera, first frame, frames)]}
DUKE_TREE: Dict[str, Dict[int, List[Tuple[int, int, int, int]]]] = {
    "train": {148: [(212, 5, 6, 3), (213, 2, 1, 2)], 149: [(214, 1, 1, 2)]},
    "query": {150: [(215, 3, 1, 2)]},
    "gallery": {150: [(216, 4, 1, 2)], 151: [(217, 6, 1, 3)]},
}
SMALL_DUKE = dataclasses.replace(DUKE_PROTOCOL, train_ids=2, train_tracklets=3, query=1, gallery=2,
                                 annotated=(3, 0, 2))  # the release has rows for train and gallery, none for query
JPEG = cv2.imencode(".jpg", np.zeros((8, 4, 3), dtype=np.uint8))[1].tobytes()


@pytest.fixture
def duke_root(tmp_path: Path) -> Path:
    """``train/0148/0212/0148_C5_F0006_X89499.jpg`` is the first frame of tracklet row ``148,5,212``."""
    base = tmp_path / "dukemtmc-vidreid" / "DukeMTMC-VideoReID"
    rows = []
    serial = 89499
    for split, identities in DUKE_TREE.items():
        for pid, tracklets in identities.items():
            for number, cam, first, length in tracklets:
                folder = base / split / f"{pid:04d}" / f"{number:04d}"
                folder.mkdir(parents=True)
                for frame in range(first, first + length):
                    (folder / f"{pid:04d}_C{cam}_F{frame:04d}_X{serial:05d}.jpg").write_bytes(JPEG)
                    serial += 1
                if split != "query":
                    rows.append([pid, cam, number] + [0] * (len(DUKE_HEADER) - 3))
    with open(tmp_path / "dukemtmc-vidreid" / "duke_attributes.csv", "w", newline="") as f:
        csv.writer(f).writerows([DUKE_HEADER, *rows])
    return tmp_path


def duke_split(root: Path, split: str) -> Path:
    return root / "dukemtmc-vidreid" / "DukeMTMC-VideoReID" / split


def test_small_duke_tree_keyed_like_the_release_is_complete(duke_root: Path) -> None:
    report = check_duke(str(duke_root), protocol=SMALL_DUKE)
    assert report.complete, report.render()
    assert report.counts() == {"train_ids": 2, "train_tracklets": 3, "train_frames": 7, "query": 1, "gallery": 2}
    assert report.annotated() == {"train": 3, "query": 0, "gallery": 2} and report.unmatched_rows() == []
    first = str(duke_split(duke_root, "train") / "0148/0212/0148_C5_F0006_X89499.jpg")
    assert [key for paths, *_, key in report.splits["train"].tracklets if paths[0] == first] == [(148, 5, 212)]
    assert report.table is not None and (148, 5, 212) in report.table.rows


def test_duke_is_compared_with_the_published_counts_by_default(duke_root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["duke", str(duke_root)]) == 1
    out = capsys.readouterr().out
    assert "train identities           2       702  << differs" in out
    assert "train frames               7         -\n" in out  # no published count: shown, not compared
    assert "gallery tracklets          2     2,636  << differs" in out


def test_duke_missing_split_tracklet_frames_and_csv_are_named_with_their_source(duke_root: Path) -> None:
    shutil.rmtree(duke_split(duke_root, "query"))
    for frame in (duke_split(duke_root, "gallery") / "0151/0217").iterdir():
        frame.unlink()
    (duke_root / "dukemtmc-vidreid/duke_attributes.csv").unlink()
    report = check_duke(str(duke_root), protocol=SMALL_DUKE)
    assert not report.complete
    assert report.counts() == {"train_ids": 2, "train_tracklets": 3, "train_frames": 7, "query": None, "gallery": 1}
    query, csv_file, empty = report.missing
    assert query.path == str(duke_split(duke_root, "query"))
    assert "https://github.com/Yu-Wu/DukeMTMC-VideoReID" in query.source.published
    assert csv_file.path.endswith("duke_attributes.csv") and ATTRIBUTES_PAGE in csv_file.source.published
    assert (empty.count, empty.examples) == (1, (str(duke_split(duke_root, "gallery") / "0151/0217"),))
    assert ("  dukemtmc-vidreid/DukeMTMC-VideoReID/gallery: 1 tracklet folders without frames, "
            "e.g. dukemtmc-vidreid/DukeMTMC-VideoReID/gallery/0151/0217") in report.render()


def test_duke_tracklet_folder_gone_leaves_its_attribute_row_matching_nothing(duke_root: Path) -> None:
    shutil.rmtree(duke_split(duke_root, "train") / "0148/0212")
    report = check_duke(str(duke_root), protocol=SMALL_DUKE)
    assert not report.complete and not report.missing
    assert report.counts() == {"train_ids": 2, "train_tracklets": 2, "train_frames": 4, "query": 1, "gallery": 2}
    assert report.annotated()["train"] == 2 and report.unmatched_rows() == [(148, 5, 212)]


def test_unreadable_csv_is_reported_as_there_but_unusable(duke_root: Path) -> None:
    (duke_root / "dukemtmc-vidreid/duke_attributes.csv").write_text("pid,cam,track,colour\n1,1,1,0\n")
    report = check_duke(str(duke_root), protocol=SMALL_DUKE)
    assert not report.complete and report.table is None and not report.missing
    assert len(report.problems) == 1 and "duke_attributes.csv" in report.problems[0]
    assert "There but unusable:\n  " in report.render()
