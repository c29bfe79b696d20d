import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.io import loadmat, savemat

from aitl_reid import _torchreid
from aitl_reid.data import DatasetNotFoundError, FrameReadError, MarsAttr
from aitl_reid.data.duke import DukeMTMCVidReIDAttr
from aitl_reid.schema import MARS_V1, MARS_V2
from aitl_reid.data.transforms import ClipTransform

GREY_STEP = 20  # tests/conftest.py draws frame F<n> as a uniform grey of level 20 x n
RAW = ClipTransform(32, 16)  # resize only: items hold the frames' uint8 pixels


def load(root: Path, mode: str = "train", **kwargs) -> MarsAttr:
    return MarsAttr(root=str(root), transform=RAW, mode=mode, verbose=False, **kwargs)


def frame_numbers(clip: torch.Tensor) -> list:
    """Frame numbers of a uint8 clip of uniform grey frames (grey level = GREY_STEP x frame number)."""
    assert clip.dtype == torch.uint8
    return (clip[..., 0, 0, 0].float() / GREY_STEP).round().long().tolist()


def expected_attrs(pid: int, schema=MARS_V2) -> tuple:
    return tuple((pid + j) % k for j, k in enumerate(schema.num_classes))


def info(root: Path, name: str) -> Path:
    return root / "mars" / "info" / name


def test_splits_follow_the_mars_protocol(tiny_mars_root):
    dataset = load(tiny_mars_root)
    assert (dataset.num_train_pids, len(dataset.train)) == (6, 20)
    assert sorted({t[1] for t in dataset.train}) == list(range(6))
    assert len(dataset.query) == 3 and sorted(t[1] for t in dataset.query) == [2, 4, 6]
    gallery_pids = sorted(t[1] for t in dataset.gallery)
    assert gallery_pids == [0, 0, 2, 2, 4, 6, 6]  # junk (-1) dropped, distractors (0) kept
    assert {t[2] for t in dataset.train} == set(range(6))  # cameras 1..6 -> 0..5


def test_frames_stay_in_temporal_order_with_their_folder(tiny_mars_root):
    paths, pid, camid, dsetid, _ = load(tiny_mars_root).train[0]
    folder = tiny_mars_root / "mars" / "bbox_train" / "0001"
    assert list(paths) == [str(folder / f"0001C1T0001F{i:03d}.jpg") for i in range(1, 7)]
    assert (pid, camid, dsetid) == (0, 0, 0)


def test_attributes_are_decoded_per_tracklet_and_missing_ones_are_minus_one(tiny_mars_root):
    dataset = load(tiny_mars_root)
    assert dataset.attribute_schema is MARS_V2
    assert all(t[4] == expected_attrs(pid) for t, pid in zip(dataset.train[:3], (1, 1, 1)))
    by_pid = {}
    for t in dataset.gallery:
        by_pid.setdefault(t[1], []).append(t[4])
    assert by_pid[0] == [(-1,) * 21] * 2  # distractors: no annotation
    assert by_pid[6] == [expected_attrs(6), (-1,) * 21]  # (6, cam 6, T1) has no CSV row


def test_first_release_csv_loads_with_its_own_schema(make_tiny_mars):
    dataset = load(make_tiny_mars("mars_v1"))
    assert dataset.attribute_schema is MARS_V1
    assert dataset.train[0][4] == expected_attrs(1, MARS_V1)


def test_explicit_schema_must_match_the_csv_header(tiny_mars_root):
    with pytest.raises(ValueError, match="does not match schema 'mars_v1'"):
        load(tiny_mars_root, schema="mars_v1")


def test_attribute_csv_path_can_point_elsewhere(tiny_mars_root, tmp_path):
    moved = tmp_path / "elsewhere.csv"
    shutil.move(tiny_mars_root / "mars" / "mars_attributes.csv", moved)
    assert load(tiny_mars_root, attributes_csv=str(moved)).train[0][4] == expected_attrs(1)


def test_training_item_is_a_consecutive_clip_with_attributes(tiny_mars_root):
    dataset = load(tiny_mars_root, seq_len=4)
    torch.manual_seed(0)
    item = dataset[0]  # 6 frames
    assert item["img"].shape == (4, 3, 32, 16)
    first = frame_numbers(item["img"])[0]
    assert frame_numbers(item["img"]) == list(range(first, first + 4))
    assert item["attrs"].dtype == torch.long and item["attrs"].tolist() == list(expected_attrs(1))
    assert (item["pid"], item["camid"], item["dsetid"]) == (0, 0, 0)


def test_training_clip_of_a_short_tracklet_cycles_its_frames(tiny_mars_root):
    assert frame_numbers(load(tiny_mars_root)[1]["img"]) == [1, 2, 3, 1]  # 3 frames, T = 4


def test_random_sample_method_draws_distinct_frames(tiny_mars_root):
    dataset = load(tiny_mars_root, sample_method="random")
    torch.manual_seed(0)
    assert all(len(set(frame_numbers(dataset[2]["img"]))) == 4 for _ in range(5))


def test_unknown_sample_method_is_rejected(tiny_mars_root):
    with pytest.raises(ValueError, match="video.sample_method"):
        load(tiny_mars_root, sample_method="evenly")


def test_query_item_holds_every_dense_clip_padded_and_capped(tiny_mars_root):
    item = load(tiny_mars_root, mode="query")[0]  # id 2, 6 frames
    assert item["img"].shape == (2, 4, 3, 32, 16)
    assert frame_numbers(item["img"]) == [[1, 2, 3, 4], [5, 6, 5, 6]]
    assert item["attrs"].tolist() == list(expected_attrs(2))
    capped = load(tiny_mars_root, mode="query", max_clips=1)[0]
    assert capped["img"].shape == (1, 4, 3, 32, 16)


def test_corrupt_frame_raises_naming_the_file(tiny_mars_root):
    dataset = load(tiny_mars_root)
    for path in dataset.train[0][0]:
        Path(path).write_bytes(b"garbage" * 20)
    with pytest.raises(FrameReadError, match=r"frame .*/bbox_train/0001/0001C1T0001F00\d.jpg is corrupt"):
        dataset[0]


def test_combineall_adds_labelled_test_tracklets_with_their_attributes(tiny_mars_root):
    dataset = load(tiny_mars_root, combineall=True)
    assert (len(dataset.train), dataset.num_train_pids) == (20 + 3 + 5, 9)  # distractors left out
    added = dataset.train[20:]
    assert {t[1] for t in added} == {6, 7, 8}
    assert added[0][4] == expected_attrs(2)


def test_query_in_gallery_appends_query_and_combineall_counts_it_once(tiny_mars_root):
    assert len(load(tiny_mars_root, mode="gallery", query_in_gallery=True).data) == 7 + 3
    assert len(load(tiny_mars_root, combineall=True, query_in_gallery=True).train) == 28


def test_sum_of_datasets_keeps_attributes_and_offsets_ids(make_tiny_mars):
    first, second = load(make_tiny_mars()), load(make_tiny_mars())
    total = sum([first, second])
    assert (len(total.train), total.num_train_pids) == (40, 12)
    assert total.train[20][1:4] == (6, 6, 1)  # pid, camid and dsetid offset
    assert total.train[20][4] == expected_attrs(1)
    assert total.attribute_schema is MARS_V2


def test_sum_of_datasets_with_different_schemas_is_an_error(tiny_mars_root, tiny_duke_root):
    duke = DukeMTMCVidReIDAttr(root=str(tiny_duke_root), transform=RAW, verbose=False)
    with pytest.raises(ValueError, match="'mars_v2'.*'duke_v2'.*share one attribute schema"):
        load(tiny_mars_root) + duke


def test_torchreid_builds_the_dataset_and_its_video_data_manager_trains_on_it(tiny_mars_root):
    dataset = _torchreid.data.datasets.init_video_dataset(
        "mars_attr", root=str(tiny_mars_root), transform=RAW, mode="train", seq_len=4, verbose=False
    )
    assert isinstance(dataset, MarsAttr)
    manager = _torchreid.data.VideoDataManager(
        root=str(tiny_mars_root), sources="mars_attr", height=32, width=16, batch_size_train=4,
        workers=0, seq_len=4, sample_method="consecutive", use_gpu=False,
    )
    batch = next(iter(manager.train_loader))
    assert batch["img"].shape == (4, 4, 3, 32, 16) and batch["attrs"].shape == (4, 21)


# ---- bad input ----

def test_missing_dataset_error_names_every_path_and_the_layout(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        load(tmp_path / "nowhere")
    message = str(err.value)
    for part in ("mars", "bbox_train", "bbox_test", "train_name.txt", "test_name.txt", "tracks_train_info.mat",
                 "tracks_test_info.mat", "query_IDX.mat", "mars_attributes.csv", "Expected layout",
                 "aitl-reid-check --layout mars"):
        assert part in message
    assert "9 required paths not found" in message
    assert isinstance(err.value, FileNotFoundError)


def test_missing_attribute_csv_alone_is_named(tiny_mars_root):
    csv = tiny_mars_root / "mars" / "mars_attributes.csv"
    csv.unlink()
    with pytest.raises(DatasetNotFoundError, match=f"1 required paths not found:\n  {csv}\n"):
        load(tiny_mars_root)


def test_missing_frame_and_missing_identity_folder_are_named(tiny_mars_root):
    frame = tiny_mars_root / "mars" / "bbox_train" / "0003" / "0003C3T0001F002.jpg"
    folder = tiny_mars_root / "mars" / "bbox_test" / "0004"
    frame.unlink()
    shutil.rmtree(folder)
    with pytest.raises(DatasetNotFoundError) as err:
        load(tiny_mars_root)
    assert str(frame) in str(err.value) and str(folder) in str(err.value)


def replace_name_line(root: Path, line: int, name: str) -> None:
    path = info(root, "train_name.txt")
    names = path.read_text().split()
    names[line - 1] = name
    path.write_text("\n".join(names) + "\n")


@pytest.mark.parametrize("intruder", ["0003C1T0001F002.jpg", "0001C2T0001F002.jpg"], ids=["identity", "camera"])
def test_tracklet_mixing_identities_or_cameras_is_an_error(tiny_mars_root, intruder):
    replace_name_line(tiny_mars_root, 2, intruder)  # inside row 1: lines 1-6
    expected = r"tracks_train_info.mat, row 1 \(lines 1-6 of .*train_name.txt\): the tracklet mixes"
    with pytest.raises(ValueError, match=expected):
        load(tiny_mars_root)


def test_mat_row_disagreeing_with_frame_names_is_an_error(tiny_mars_root):
    path = info(tiny_mars_root, "tracks_train_info.mat")
    rows = loadmat(path)["track_train_info"]
    rows[0, 2] = 3
    savemat(path, {"track_train_info": rows})
    expected = r"row 1: person 3, camera 1, but its frames .* are named '0001C1T0001F001.jpg'"
    with pytest.raises(ValueError, match=expected):
        load(tiny_mars_root)


def test_mat_row_beyond_the_names_file_is_an_error(tiny_mars_root):
    path = info(tiny_mars_root, "tracks_train_info.mat")
    rows = loadmat(path)["track_train_info"]
    rows[-1, 1] = 10_000
    savemat(path, {"track_train_info": rows})
    with pytest.raises(ValueError, match=rf"row {len(rows)}: frames .*10000 fall outside lines 1..\d+ of"):
        load(tiny_mars_root)


def test_malformed_frame_name_is_named_with_its_line(tiny_mars_root):
    path = info(tiny_mars_root, "train_name.txt")
    names = path.read_text().split()
    names[:6] = [f"frame_{i:03d}.jpg" for i in range(6)]
    path.write_text("\n".join(names))
    with pytest.raises(ValueError, match=r"train_name.txt, line 1: 'frame_000.jpg' is not a MARS frame name"):
        load(tiny_mars_root)


def test_query_index_outside_the_test_tracklets_is_an_error(tiny_mars_root):
    savemat(info(tiny_mars_root, "query_IDX.mat"), {"query_IDX": np.array([[1, 99]], dtype=np.uint16)})
    with pytest.raises(ValueError, match="query_IDX.mat: query_IDX holds 99, outside the 12 test tracklets"):
        load(tiny_mars_root)


def test_mat_file_without_the_expected_variable_is_named(tiny_mars_root):
    savemat(info(tiny_mars_root, "tracks_test_info.mat"), {"tracks": np.zeros((1, 4))})
    with pytest.raises(ValueError, match=r"tracks_test_info.mat: no variable 'track_test_info' \(found \['tracks'\]\)"):
        load(tiny_mars_root)


def test_csv_matching_no_tracklet_is_an_error(tiny_mars_root):
    csv = tiny_mars_root / "mars" / "mars_attributes.csv"
    header = csv.read_text().splitlines()[0]
    csv.write_text(f"{header}\n900,1,1," + ",".join(["0"] * 21) + "\n")
    with pytest.raises(ValueError, match=r"none of its 1 rows matches a tracklet of mars_attr"):
        load(tiny_mars_root)


def test_loading_lists_each_identity_folder_once_and_never_stats_frames(tiny_mars_root, monkeypatch):
    listed, checked = [], []
    real_listdir, real_exists = os.listdir, os.path.exists
    monkeypatch.setattr(os, "listdir", lambda p: listed.append(p) or real_listdir(p))
    monkeypatch.setattr(os.path, "exists", lambda p: checked.append(p) or real_exists(p))
    load(tiny_mars_root)
    assert len(listed) == len(set(listed)) == 6 + 4  # train ids + test ids and 0000 (junk 00-1 is skipped)
    assert not any(str(p).endswith(".jpg") for p in checked)
