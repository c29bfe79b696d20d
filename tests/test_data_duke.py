import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from aitl_reid.data import DatasetNotFoundError
from aitl_reid.data.duke import DukeMTMCVidReIDAttr
from aitl_reid.schema import DUKE_V2
from aitl_reid.data.transforms import ClipTransform


def load(root: Path, mode: str = "train", **kwargs) -> DukeMTMCVidReIDAttr:
    return DukeMTMCVidReIDAttr(root=str(root), transform=ClipTransform(32, 16), mode=mode, verbose=False, **kwargs)


def split_dir(root: Path, split: str) -> Path:
    return root / "dukemtmc-vidreid" / "DukeMTMC-VideoReID" / split


def add_frame(folder: Path, name: str) -> None:
    cv2.imwrite(str(folder / name), np.zeros((32, 16, 3), dtype=np.uint8))


def test_splits_follow_the_duke_protocol(tiny_duke_root):
    dataset = load(tiny_duke_root)
    assert (dataset.num_train_pids, len(dataset.train)) == (6, 12)
    assert sorted(t[1] for t in dataset.query) == [7, 8, 9]
    assert sorted(t[1] for t in dataset.gallery) == [7, 8, 8, 9, 10]
    assert dataset.query[1][2] == 1  # id 8's query comes from camera C2


def test_frames_are_ordered_by_frame_number_in_both_naming_formats(tiny_duke_root):
    train = load(tiny_duke_root).train
    old_names = [os.path.basename(p) for p in train[3][0]]  # id 2, second tracklet: old format
    assert [n[:11] for n in old_names] == [f"0002C3F{f:04d}" for f in range(1, 8)]
    late_start = [os.path.basename(p)[:13] for p in train[5][0]]  # id 3, second tracklet starts at F0002
    assert late_start == ["0003_C4_F0002", "0003_C4_F0003", "0003_C4_F0004"]
    assert train[5][2] == 3  # camera C4 -> 3


def test_attributes_are_decoded_and_an_unlabelled_identity_gets_minus_one(tiny_duke_root):
    dataset = load(tiny_duke_root)
    assert dataset.attribute_schema is DUKE_V2
    assert dataset.train[0][4] == tuple((1 + j) % k for j, k in enumerate(DUKE_V2.num_classes))
    assert [t[4] for t in dataset.gallery if t[1] == 10] == [(-1,) * 19]


def test_frames_of_another_size_are_resized_in_items(tiny_duke_root):
    assert load(tiny_duke_root, mode="query")[0]["img"].shape == (2, 4, 3, 32, 16)  # 40x20 frames, 5 frames


def test_missing_split_folders_are_all_named(tiny_duke_root):
    shutil.rmtree(split_dir(tiny_duke_root, "query"))
    shutil.rmtree(split_dir(tiny_duke_root, "gallery"))
    with pytest.raises(DatasetNotFoundError, match="2 required paths not found") as err:
        load(tiny_duke_root)
    assert "DukeMTMC-VideoReID/query" in str(err.value) and "DukeMTMC-VideoReID/gallery" in str(err.value)


def test_tracklet_holding_another_identity_is_an_error(tiny_duke_root):
    folder = split_dir(tiny_duke_root, "train") / "0001" / "0001"
    add_frame(folder, "0002_C1_F0009_X99999.jpg")
    expected = r"train/0001/0001: a tracklet of identity 1 holds frames named for identities \[1, 2\]"
    with pytest.raises(ValueError, match=expected):
        load(tiny_duke_root)


def test_tracklet_mixing_cameras_is_an_error(tiny_duke_root):
    folder = split_dir(tiny_duke_root, "train") / "0001" / "0001"
    add_frame(folder, "0001_C3_F0009_X99999.jpg")
    with pytest.raises(ValueError, match=r"train/0001/0001: the tracklet mixes cameras \[1, 3\]"):
        load(tiny_duke_root)


def test_malformed_frame_name_is_named(tiny_duke_root):
    folder = split_dir(tiny_duke_root, "gallery") / "0010" / "0001"
    add_frame(folder, "snapshot.jpg")
    with pytest.raises(ValueError, match=r"gallery/0010/0001/snapshot.jpg: not a DukeMTMC-VideoReID frame name"):
        load(tiny_duke_root)


def test_empty_tracklet_folder_is_reported_as_missing_frames(tiny_duke_root):
    empty = split_dir(tiny_duke_root, "gallery") / "0010" / "0002"
    empty.mkdir()
    with pytest.raises(DatasetNotFoundError, match=rf"{empty}/\*.jpg"):
        load(tiny_duke_root)


def test_stray_files_are_ignored_but_non_numeric_folders_are_errors(tiny_duke_root):
    (split_dir(tiny_duke_root, "train") / ".DS_Store").write_bytes(b"")
    assert len(load(tiny_duke_root).train) == 12
    (split_dir(tiny_duke_root, "train") / "extra").mkdir()
    with pytest.raises(ValueError, match="train/extra: identity and tracklet folders must be numbers"):
        load(tiny_duke_root)


def test_loading_never_globs_per_frame(tiny_duke_root, monkeypatch):
    listed = []
    real_listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda p: listed.append(p) or real_listdir(p))
    load(tiny_duke_root)
    assert len(listed) == len(set(listed)) == 12 + 3 + 5  # one listing per tracklet folder


RELEASED_DUKE_HEADER = (  # exactly as released, typo included (../shared/data/mars_meta/README.md)
    "person_id,camera_id,tracklets_id,motion,pose,occlusion,cut-out,muti-person,background-dominant,"
    "target-change,target-miss,wrong-target,backpack,bag,handbag,boots,gender,hat,shoes,top,bottom color,top color"
)


def test_released_duke_csv_joins_tracklets_by_their_global_folder_number(tmp_path):
    """Real Duke keys: ``train/0148/0212/0148_C5_F0006_X89499.jpg`` is CSV row ``148,5,212``."""
    layout = {  # split -> (pid, tracklet folder, camera, first frame)
        "train": [(148, 212, 5, 6), (148, 213, 2, 1), (150, 220, 1, 3), (150, 221, 3, 1)],
        "query": [(151, 230, 1, 1)],
        "gallery": [(151, 231, 4, 2), (152, 240, 2, 1)],
    }
    rows = [RELEASED_DUKE_HEADER]
    for split, tracklets in layout.items():
        for pid, number, cam, first in tracklets:
            folder = split_dir(tmp_path, split) / f"{pid:04d}" / f"{number:04d}"
            folder.mkdir(parents=True)
            for frame in range(first, first + 3):
                add_frame(folder, f"{pid:04d}_C{cam}_F{frame:04d}_X{89499 + frame}.jpg")
            if pid != 152:  # one gallery identity without annotation
                rows.append(f"{pid},{cam},{number},{number % 2}" + ",0" * 16 + f",{pid % 8},{number % 9}")
    (tmp_path / "dukemtmc-vidreid" / "duke_attributes.csv").write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")

    dataset = load(tmp_path)
    assert dataset.attribute_schema is DUKE_V2
    first = dataset.train[0]
    assert os.path.basename(first[0][0]) == "0148_C5_F0006_X89505.jpg"
    assert first[4][0] == 212 % 2 and first[4][-2:] == (148 % 8, 212 % 9)
    assert [t[4][-1] for t in dataset.train] == [212 % 9, 213 % 9, 220 % 9, 221 % 9]
    assert dataset.query[0][4][-1] == 230 % 9
    assert sorted(t[4] == (-1,) * 19 for t in dataset.gallery) == [False, True]
