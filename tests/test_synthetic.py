"""Synthetic MARS generator: exact MARS layout, metadata, attributes, determinism, rendering effects."""
from __future__ import annotations

import csv
import hashlib
import math
import os
import re
from collections import defaultdict
from pathlib import Path
from typing import Dict, List

import cv2
import numpy as np
import pytest
import scipy.io

import aitl_reid
from aitl_reid import _torchreid
from aitl_reid.config import get_default_config
from aitl_reid.schema import MARS_V2, short_name
from aitl_reid.synthetic import generate_synthetic_mars, synthetic_kwargs_from_config, tree_status
from aitl_reid.synthetic.body import RUNNING, STANDING, Box, Pose, draw_person
from aitl_reid.synthetic.camera import STRIP_WIDTHS, make_camera
from aitl_reid.synthetic.generate import IN_PROGRESS, MANIFEST
from aitl_reid.synthetic.identity import look_for, sample_identity, with_carried
from aitl_reid.synthetic.palette import CARRY_CHANGE
from aitl_reid.synthetic.tracklets import STREAM_IDENTITY, plan_tracklets, rng_for
from aitl_reid.synthetic.metadata import save_mat
from aitl_reid.synthetic.render import render_frame
from aitl_reid.synthetic.scene import ID_IRRELEVANT_NAMES, plan_tracklet, sample_conditions
from tool_modules import load_tool

TINY = dict(num_ids=6, num_cams=2, tracklets_per_id=2, min_frames=4, max_frames=6, height=32, width=16, seed=3,
            num_distractors=2, num_junk=1)
NAME = re.compile(r"^(\d{4}|00-1)C([1-6])T(\d{4})F(\d{3})\.jpg$")


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    generate_synthetic_mars(str(root), **TINY)
    return root


def _names(root: Path, split: str) -> List[str]:
    return (root / "mars" / "info" / f"{split}_name.txt").read_text().split("\n")[:-1]


def _info(root: Path, split: str) -> np.ndarray:
    return scipy.io.loadmat(str(root / "mars" / "info" / f"tracks_{split}_info.mat"))[f"track_{split}_info"]


def _queries(root: Path) -> np.ndarray:
    return scipy.io.loadmat(str(root / "mars" / "info" / "query_IDX.mat"))["query_IDX"].ravel()


def _csv_rows(root: Path) -> List[Dict[str, int]]:
    """The CSV's rows keyed by the paper's short names (the file itself has the released columns)."""
    with open(root / "mars" / "mars_attributes.csv", newline="") as handle:
        return [{short_name(k): int(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _tree_digest(root: Path) -> Dict[str, str]:
    digest = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            digest[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


def test_names_files_list_every_frame_on_disk_sorted_and_grouped_by_folder(synthetic_root: Path) -> None:
    for split in ("train", "test"):
        names = _names(synthetic_root, split)
        assert names == sorted(names)
        assert all(NAME.match(n) for n in names)
        on_disk = sorted(p.name for p in (synthetic_root / "mars" / f"bbox_{split}").glob("*/*.jpg"))
        assert on_disk == names
        for name in names:
            assert (synthetic_root / "mars" / f"bbox_{split}" / name[:4] / name).is_file()
    test_folders = sorted(p.name for p in (synthetic_root / "mars" / "bbox_test").iterdir())
    assert test_folders[:2] == ["00-1", "0000"]  # junk and distractors, as in MARS
    assert sorted(p.name for p in (synthetic_root / "mars" / "bbox_train").iterdir()) == ["0001", "0002", "0003"]


def test_frames_are_jpegs_of_the_requested_size(synthetic_root: Path) -> None:
    path = next((synthetic_root / "mars" / "bbox_train" / "0001").iterdir())
    assert path.read_bytes()[:2] == b"\xff\xd8"
    assert cv2.imread(str(path)).shape == (TINY["height"], TINY["width"], 3)


def test_mat_files_load_as_integer_arrays_like_real_mars(synthetic_root: Path) -> None:
    info = synthetic_root / "mars" / "info"
    for path, variable in (("tracks_train_info.mat", "track_train_info"), ("tracks_test_info.mat", "track_test_info"),
                           ("query_IDX.mat", "query_IDX")):
        assert [name for name, _, _ in scipy.io.whosmat(str(info / path))] == [variable]
    assert _info(synthetic_root, "train").dtype == np.int32 and _info(synthetic_root, "train").shape == (6, 4)
    assert _queries(synthetic_root).dtype == np.uint16 and scipy.io.loadmat(str(info / "query_IDX.mat"))["query_IDX"].shape[0] == 1


def test_track_rows_index_their_tracklets_names_one_based_inclusive(synthetic_root: Path) -> None:
    for split in ("train", "test"):
        names, rows = _names(synthetic_root, split), _info(synthetic_root, split)
        assert rows[0, 0] == 1 and rows[-1, 1] == len(names)
        assert all(rows[i + 1, 0] == rows[i, 1] + 1 for i in range(len(rows) - 1))
        for start, end, pid, cam in rows:
            keys = {NAME.match(n).group(1, 2, 3) for n in names[start - 1:end]}
            assert len(keys) == 1
            folder, cam_digit, _ = keys.pop()
            assert folder == ("00-1" if pid == -1 else f"{pid:04d}") and int(cam_digit) == cam
            frames = [int(NAME.match(n).group(4)) for n in names[start - 1:end]]
            assert frames == list(range(1, end - start + 2))
    test_pids = _info(synthetic_root, "test")[:, 2]
    assert sorted(set(test_pids)) == [-1, 0, 4, 5, 6]
    assert (test_pids == 0).sum() == TINY["num_distractors"] and (test_pids == -1).sum() == TINY["num_junk"]


def test_every_query_has_a_same_identity_gallery_tracklet_in_another_camera(synthetic_root: Path) -> None:
    rows = _info(synthetic_root, "test")
    queries = set(int(q) - 1 for q in _queries(synthetic_root))
    assert {rows[q, 2] for q in queries} == {4, 5, 6}
    for q in queries:
        pid, cam = rows[q, 2], rows[q, 3]
        assert any(rows[g, 2] == pid and rows[g, 3] != cam for g in range(len(rows)) if g not in queries)


def test_attribute_csv_has_one_mars_v2_row_per_identity_tracklet_with_constant_identity_labels(synthetic_root: Path) -> None:
    with open(synthetic_root / "mars" / "mars_attributes.csv") as handle:
        assert handle.readline().strip().split(",") == MARS_V2.header
    rows = _csv_rows(synthetic_root)
    keys = {(r["person_id"], r["camera_id"], r["tracklets_id"]) for r in rows}
    expected = set()
    for split in ("train", "test"):
        for name in _names(synthetic_root, split):
            folder, cam, number = NAME.match(name).group(1, 2, 3)
            if folder not in ("0000", "00-1"):
                expected.add((int(folder), int(cam), int(number)))
    assert keys == expected and len(rows) == len(expected) == 12
    relevant = [n for n, g in zip(MARS_V2.names, MARS_V2.groups) if g == "id_relevant" and n not in CARRY_CHANGE]
    by_pid = defaultdict(set)
    for row in rows:
        for name, k in zip(MARS_V2.names, MARS_V2.num_classes):
            assert 0 <= row[name] < k
        by_pid[row["person_id"]].add(tuple(row[n] for n in relevant))
    assert all(len(labels) == 1 for labels in by_pid.values())
    for row in rows:  # skirts only for females, as in the real annotations
        assert row["btype"] == 1 or row["gender"] == 1


def test_same_seed_gives_a_byte_identical_tree_whatever_the_workers(tmp_path: Path, synthetic_root: Path) -> None:
    generate_synthetic_mars(str(tmp_path / "again"), workers=2, **TINY)
    assert _tree_digest(tmp_path / "again") == _tree_digest(synthetic_root)
    generate_synthetic_mars(str(tmp_path / "other"), **dict(TINY, seed=4))
    assert _tree_digest(tmp_path / "other") != _tree_digest(synthetic_root)


def test_mat_file_bytes_do_not_depend_on_the_clock(tmp_path: Path, monkeypatch) -> None:
    values = np.array([[1, 4, 1, 1], [5, 9, 2, 3]], dtype=np.int32)
    written = []
    for clock in ("Mon Jan  1 00:00:00 2024", "Tue Feb  2 11:11:11 2025"):
        monkeypatch.setattr("time.asctime", lambda clock=clock: clock)
        path = tmp_path / f"{len(written)}.mat"
        save_mat(str(path), "track_train_info", values)
        written.append(path.read_bytes())
    assert written[0] == written[1]
    loaded = scipy.io.loadmat(str(tmp_path / "0.mat"))["track_train_info"]
    assert loaded.dtype == np.int32 and loaded.tolist() == values.tolist()


def test_torchreids_own_mars_loader_reads_the_tree(synthetic_root: Path) -> None:
    dataset = _torchreid.data.datasets.init_video_dataset("mars", root=str(synthetic_root), transform=lambda x: x, verbose=False)
    queries = len(_queries(synthetic_root))
    assert (len(dataset.train), dataset.num_train_pids) == (6, 3)
    assert len(dataset.query) == queries
    assert len(dataset.gallery) == 6 - queries + TINY["num_distractors"]  # junk dropped, distractors kept


def test_mars_attr_loads_the_tree_with_its_attributes(synthetic_root: Path) -> None:
    assert "mars_attr" in aitl_reid.registry.list_datasets()
    from aitl_reid.data.transforms import ClipTransform

    dataset = _torchreid.data.datasets.init_video_dataset(
        "mars_attr", root=str(synthetic_root), transform=ClipTransform(32, 16), mode="train", verbose=False)
    assert dataset.attribute_schema.name == "mars_v2"
    assert (len(dataset.train), dataset.num_train_pids, len(dataset.query) + len(dataset.gallery)) == (6, 3, 8)
    rows = {(r["person_id"], r["camera_id"], r["tracklets_id"]): [r[n] for n in MARS_V2.names] for r in _csv_rows(synthetic_root)}
    for img_paths, pid, camid, _, attrs in dataset.query + dataset.gallery:
        folder, cam, number = NAME.match(os.path.basename(img_paths[0])).group(1, 2, 3)
        expected = rows.get((int(folder), int(cam), int(number)), [-1] * len(MARS_V2.names))
        assert list(attrs) == expected  # distractors (pid 0) carry -1: not annotated
    item = dataset[0]
    assert tuple(item["img"].shape) == (4, 3, 32, 16) and item["attrs"].shape == (len(MARS_V2.names),)


@pytest.mark.parametrize("override, message", [
    (dict(min_frames=7, max_frames=6), "min_frames (7) must not exceed max_frames (6)"),
    (dict(num_ids=1), "num_ids must be between 2 and 9999"),
    (dict(num_cams=1), "num_cams must be between 2 and 6"),
    (dict(num_cams=7), "num_cams must be between 2 and 6"),
    (dict(tracklets_per_id=1), "tracklets_per_id must be between 2"),
    (dict(max_frames=1000), "max_frames must be between 1 and 999"),
    (dict(height=16), "height must be at least 32"),
    (dict(num_ids=True), "num_ids must be an integer"),
    (dict(seed=-1), "seed must be at least 0"),
])
def test_invalid_sizes_raise_an_error_naming_the_parameter(tmp_path: Path, override: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        generate_synthetic_mars(str(tmp_path), **dict(TINY, **override))
    assert not (tmp_path / "mars").exists()


def test_a_folder_not_written_by_the_generator_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "mars").mkdir()
    (tmp_path / "mars" / "real_data.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a synthetic MARS tree"):
        generate_synthetic_mars(str(tmp_path), **TINY)
    assert (tmp_path / "mars" / "real_data.txt").read_text() == "keep me"


def test_tree_status_tells_complete_interrupted_and_changed_trees_apart(tmp_path: Path) -> None:
    params = dict(TINY)
    assert tree_status(str(tmp_path), **params) == "missing"
    generate_synthetic_mars(str(tmp_path), **params)
    assert tree_status(str(tmp_path), **params) == "complete"
    assert tree_status(str(tmp_path), **dict(params, num_ids=8)) == "different parameters"
    (tmp_path / "mars" / MANIFEST).unlink()  # as if killed before the manifest was written
    (tmp_path / "mars" / IN_PROGRESS).write_text("")
    assert tree_status(str(tmp_path), **params) == "incomplete"
    generate_synthetic_mars(str(tmp_path), **dict(params, num_ids=4))  # regenerates over its own tree
    assert tree_status(str(tmp_path), **dict(params, num_ids=4)) == "complete"
    assert not (tmp_path / "mars" / "bbox_test" / "0006").exists()  # nothing stale from the old tree
    assert not (tmp_path / "mars" / IN_PROGRESS).exists()


def _cli_main():
    """tools/make_synthetic.py's main(), loaded from its path (tools/ is not a package)."""
    return load_tool("make_synthetic").main


def test_cli_writes_under_root_then_skips_a_complete_tree(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    main = _cli_main()
    argv = ["--root", str(tmp_path)] + [item for k, v in TINY.items() for item in (f"synthetic.{k}", str(v))]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "frames/s" in out and (tmp_path / "mars" / MANIFEST).is_file()
    before = _tree_digest(tmp_path)
    assert main(["--if-missing", *argv]) == 0
    assert "nothing to do" in capsys.readouterr().out and _tree_digest(tmp_path) == before
    assert main(["--root", str(tmp_path), "synthetic.min_frames", "9", "synthetic.max_frames", "8"]) == 2


def test_config_keys_map_to_generator_arguments() -> None:
    cfg = get_default_config()
    cfg.data.root = "/data"
    cfg.synthetic.num_ids = 10
    kwargs = synthetic_kwargs_from_config(cfg)
    assert kwargs["root"] == "/data" and kwargs["num_ids"] == 10
    assert set(kwargs) == {"root"} | set(cfg.synthetic.keys())


def _person(look, yaw: float, action: int = STANDING, phase: float = 0.0, size=(128, 64)) -> np.ndarray:
    img = np.zeros((*size, 3), np.uint8)
    draw_person(img, look, Pose(action, phase, yaw), Box(size[1] / 2, size[0] * 0.97, size[0] * 0.9))
    return img


def _count(img: np.ndarray, color) -> int:
    return int(np.all(np.abs(img.astype(int) - np.array(color)) <= 2, axis=2).sum())


def _labels(**overrides: int) -> Dict[str, int]:
    base = dict(upcolor=7, downcolor=7, age=2, up=0, down=0, bag=0, backpack=0, hat=0, handbag=0, hair=0, gender=0, btype=1)
    return dict(base, **overrides)


def test_clothing_colours_fill_the_upper_and_lower_body() -> None:
    look = look_for(_labels(), np.random.default_rng(0))
    img = _person(look, 0.0)
    top, bottom = _count(img[:60], look.top[0]), _count(img[64:], look.bottom[0])
    assert top > 300 and bottom > 300
    assert _count(img[:45], look.bottom[0]) == 0


def test_backpack_shows_from_the_back_far_more_than_from_the_front() -> None:
    look = look_for(_labels(backpack=1), np.random.default_rng(1))
    front, back = _person(look, 0.0), _person(look, math.pi)
    assert _count(back, look.backpack_color) > 5 * max(1, _count(front, look.backpack_color))


def test_chest_emblem_shows_from_the_front_only() -> None:
    look = look_for(_labels(), np.random.default_rng(1))
    assert _count(_person(look, 0.0), look.emblem_color) > 0
    assert _count(_person(look, math.pi), look.emblem_color) == 0


def test_identities_with_identical_labels_still_look_different() -> None:
    labels = _labels()
    a, b = look_for(labels, np.random.default_rng(10)), look_for(labels, np.random.default_rng(11))
    assert a.top != b.top and a.emblem_color != b.emblem_color
    assert np.abs(_person(a, 0.0).astype(int) - _person(b, 0.0).astype(int)).sum() > 0


def test_running_moves_the_limbs_and_standing_barely_does() -> None:
    look = look_for(_labels(), np.random.default_rng(2))
    def motion(action: int) -> int:
        frames = [_person(look, math.pi / 2, action, phase) for phase in (0.0, 1.2)]
        return int(np.abs(frames[0].astype(int) - frames[1].astype(int)).sum())
    assert motion(RUNNING) > 10 * max(1, motion(STANDING))


def _plans(**flags: int):
    conditions = dict.fromkeys(ID_IRRELEVANT_NAMES, 0)
    conditions.update(flags)
    return plan_tracklet(_TARGET, conditions, 9, 128, 64, STRIP_WIDTHS * 64, np.random.default_rng(6))


_TARGET = sample_identity(np.random.default_rng(5)).look


def test_frame_plans_show_each_identity_irrelevant_condition() -> None:
    clean = _plans()
    assert all(len(p.figures) == 1 and p.figures[0].look == _TARGET and p.occluder is None for p in clean)
    missing = _plans(**{"target-miss": 1})
    assert any(not p.figures for p in missing) and any(p.figures for p in missing)
    changed = _plans(**{"target-change": 1})
    assert changed[0].figures[0].look == _TARGET and changed[-1].figures[0].look != _TARGET
    wrong = [p.figures[0].look == _TARGET for p in _plans(**{"wrong-target": 1})]
    assert wrong[0] and wrong[-1] and not all(wrong)
    assert sum(p.occluder is not None for p in _plans(occlusion=1)) >= 3
    assert all(len(p.figures) == 2 for p in _plans(**{"multi-person": 1}))
    small = _plans(**{"back-dominant": 1})
    assert max(p.figures[0].box.height for p in small) < 0.6 * min(p.figures[0].box.height for p in clean)
    box = _plans(cut=1)[0].figures[0].box
    assert box.feet > 128 or box.feet - box.height < 0 or not 0.15 * 64 < box.cx < 0.85 * 64


def test_sampled_conditions_keep_at_most_one_target_error_and_none_for_short_tracklets() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        labels = sample_conditions(rng, 8)
        assert labels["target-change"] + labels["target-miss"] + labels["wrong-target"] <= 1
        assert list(labels) == list(ID_IRRELEVANT_NAMES)
    short = [sample_conditions(rng, 2) for _ in range(200)]
    assert all(s["target-change"] + s["target-miss"] + s["wrong-target"] == 0 for s in short)


def test_full_size_256x128_frames_render(tmp_path: Path) -> None:
    camera = make_camera(np.random.default_rng(0), 256, 128)
    look = sample_identity(np.random.default_rng(1)).look
    plans = plan_tracklet(look, sample_conditions(np.random.default_rng(2), 4), 4, 256, 128, STRIP_WIDTHS * 128,
                          np.random.default_rng(3))
    frame = render_frame(camera, plans[0], 128)
    assert frame.shape == (256, 128, 3) and frame.dtype == np.uint8 and frame.std() > 5


def test_hand_bags_change_within_identities_as_in_mars_and_nothing_else_of_the_identity_does(tmp_path):
    """MARS's within-identity ratio for the hand bag is 0.17 (data/attribute_variation.py); other
    identity-relevant attributes stay the identity's."""
    from aitl_reid.data.attribute_variation import identity_variation
    from aitl_reid.data.attributes_csv import read_attribute_csv
    from aitl_reid.synthetic.metadata import write_attribute_csv

    splits = plan_tracklets(0, 400, 4, 13, 8, 24, 0, 0)
    identities = {pid: sample_identity(rng_for(0, STREAM_IDENTITY, pid)) for pid in range(1, 401)}
    write_attribute_csv(str(tmp_path / "a.csv"), splits, identities)
    variation = {v.name: v for v in identity_variation(read_attribute_csv(str(tmp_path / "a.csv")))}
    assert variation["handbag"].within_ratio == pytest.approx(0.17, abs=0.03)
    assert all(v.varying == 0 for v in variation.values() if v.group == "id_relevant" and v.name != "handbag")
    spec = next(s for s in splits["train"] if s.carried and s.carried[0][1] != identities[s.pid].labels["handbag"])
    look = with_carried(identities[spec.pid].look, spec.carried)
    assert look.handbag == (spec.carried[0][1] == 1) != identities[spec.pid].look.handbag
