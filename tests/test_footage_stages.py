"""The stages of aitl_reid.footage one at a time: the motion detector finds a moving person-shaped block, linking
keeps overlapping tracklets of one camera apart, the scores are trackeval's on known cases, the synthetic scene
has global ground-truth ids, and every CSV cell from a user's name is neutralised (attributes.csv of
aitl-reid-infer too)."""
import csv

import cv2
import numpy as np
import pytest

from aitl_reid import infer
from aitl_reid.footage.cameras import camera_inputs
from aitl_reid.footage.detect import MotionDetector, MotionSettings
from aitl_reid.footage.link import TrackletSpan, cannot_link, link
from aitl_reid.footage.score import evaluate, multi_camera, sequence_data
from aitl_reid.footage.track import AitlEmbedder, padded_batch
from aitl_reid.inference import TrackletEncoder, load_trained
from aitl_reid.inference.fast import build_forward
from aitl_reid.inference.inputs import InputError, TrackBox, read_mot_tracks
from aitl_reid.serialization import spreadsheet_safe, write_csv
from aitl_reid.synthetic.footage import render_footage
from inference_data import one_torch_thread  # noqa: F401  (autouse fixture)
from inference_data import write_tracklets


def test_the_motion_detector_finds_a_moving_person_shaped_block_and_not_the_static_scene():
    rng = np.random.default_rng(0)
    background = rng.integers(60, 200, (96, 128, 3)).astype(np.uint8)
    detector = MotionDetector(MotionSettings())
    found = []
    for f in range(40):
        frame = np.clip(background.astype(int) + rng.integers(-3, 4, background.shape), 0, 255).astype(np.uint8)
        x = 10 + 2 * f
        frame[30:80, x:x + 20] = (40, 40, 200)
        found.append((x, detector(frame)))
    assert all(boxes == [] for _, boxes in found[:MotionSettings.warmup])
    hits = 0
    for x, boxes in found[20:]:
        truth = TrackBox(1, 1, x, 30, 20, 50)
        hits += any(_iou(truth, b) > 0.7 for b in boxes)
        assert len(boxes) <= 1
    assert hits >= 18


def _iou(a: TrackBox, b) -> float:
    x0, y0 = max(a.x, b[0]), max(a.y, b[1])
    x1, y1 = min(a.x + a.w, b[0] + b[2]), min(a.y + a.h, b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / (a.w * a.h + b[2] * b[3] - inter)


def test_linking_joins_close_tracklets_but_never_two_overlapping_ones_of_one_camera():
    features = np.array([[1.0, 0.0], [0.99, 0.05], [0.98, 0.1], [0.0, 1.0]])
    spans = [TrackletSpan("a", 1, 1, 10, 10), TrackletSpan("b", 1, 20, 30, 11), TrackletSpan("a", 2, 5, 15, 11),
             TrackletSpan("b", 2, 1, 5, 5)]
    assert cannot_link(spans)[0, 2] and not cannot_link(spans)[0, 1]
    labels = link(features, spans, threshold=0.3)
    assert labels[0] == labels[1] and labels[2] != labels[0] and labels[3] not in (labels[0], labels[2])
    assert link(features, spans, threshold=0.0) == [0, 3, 2, 1]  # each its own person, numbered by first frame (then camera)
    assert link(features, spans, threshold=2.1)[:2] == [0, 0]


def test_scores_are_perfect_for_the_truth_and_fall_with_an_identity_switch():
    gt = [TrackBox(f, 1, 10 + f, 10, 20, 40) for f in range(1, 11)] + [TrackBox(f, 2, 60, 10, 20, 40) for f in range(1, 11)]
    perfect = evaluate(sequence_data(gt, [TrackBox(b.frame, b.track + 5, b.x, b.y, b.w, b.h) for b in gt], 10))
    assert perfect["MOTA"] == perfect["IDF1"] == perfect["HOTA"] == 1.0 and perfect["IDSW"] == 0
    switched = [TrackBox(b.frame, b.track if b.frame <= 5 else 3 - b.track, b.x, b.y, b.w, b.h) for b in gt]
    scores = evaluate(sequence_data(gt, switched, 10))
    assert scores["IDSW"] == 2 and scores["IDF1"] == pytest.approx(0.5) and scores["recall"] == 1.0
    joined = multi_camera([(gt[:10], gt[:10], 10), (gt[:10], [TrackBox(b.frame, 9, b.x, b.y, b.w, b.h) for b in gt[:10]], 10)])
    split = multi_camera([(gt[:10], gt[:10], 10), (gt[:10], [TrackBox(b.frame, 8, b.x, b.y, b.w, b.h) for b in gt[:10]], 10)])
    assert joined["IDF1"] == 0.5 and split["IDF1"] == 0.5  # ids 1 and 9 (or 8) each match half of person 1
    linked = multi_camera([(gt[:10], gt[:10], 10), (gt[:10], gt[:10], 10)])
    assert linked["IDF1"] == 1.0


def test_the_synthetic_scene_has_global_ids_and_people_seen_by_two_cameras(tmp_path):
    videos = render_footage(str(tmp_path), people=3, cameras=2, frames=60, size=(96, 72), crossing=16, seed=1)
    ids = []
    for video in videos:
        capture = cv2.VideoCapture(video)
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        capture.release()
        boxes = read_mot_tracks(video[:-4] + ".gt.txt")
        assert count == 60 and all(b.frame <= 60 and b.x >= 0 and b.x + b.w <= 96 and b.y + b.h <= 72 for b in boxes)
        ids.append({b.track for b in boxes})
    assert ids[0] & ids[1] and ids[0] | ids[1] == {1, 2, 3}


def test_camera_names_come_from_file_names_or_the_user_and_must_differ(tmp_path):
    (tmp_path / "frames").mkdir()
    cv2.imwrite(str(tmp_path / "frames" / "1.jpg"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "lobby.avi").write_bytes(b"")
    assert [c.name for c in camera_inputs([str(tmp_path / "lobby.avi"), str(tmp_path / "frames")])] == ["lobby", "frames"]
    assert [c.name for c in camera_inputs([str(tmp_path / "lobby.avi")], ["door"])] == ["door"]
    with pytest.raises(InputError, match="cannot name a file"):
        camera_inputs([str(tmp_path / "lobby.avi")], ["a/b"])
    with pytest.raises(InputError, match="no such video"):
        camera_inputs([str(tmp_path / "missing.avi")])
    frames = camera_inputs([str(tmp_path / "frames")])[0]
    assert [n for n, _ in frames.frames()] == [1]


@pytest.mark.parametrize("cell, safe", [
    ("=1+2", "'=1+2"), ("+cmd", "'+cmd"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("cam1", "cam1"), ("-0.5", "-0.5"), (-3, -3), ("", ""),
])
def test_spreadsheet_safe_neutralises_formula_cells_only(cell, safe):
    assert spreadsheet_safe(cell) == safe


def test_write_csv_is_atomic_and_safe(tmp_path):
    path = tmp_path / "x.csv"
    write_csv(str(path), ["name", "=h"], [["=cmd()", 1]])
    assert list(csv.reader(path.open())) == [["name", "'=h"], ["'=cmd()", "1"]]
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]


def test_infer_attributes_csv_neutralises_tracklet_names(tiny_run, tmp_path):
    write_tracklets(tmp_path / "in", [0, 1], frames=2, names={0: "=HYPERLINK(1)", 1: "@id1"})
    assert infer.main(["--run", str(tiny_run), "--out", str(tmp_path / "out"), "--workers", "0", "--backend", "exact",
                       "--attributes-only", str(tmp_path / "in")]) == 0
    rows = list(csv.DictReader((tmp_path / "out" / "attributes.csv").open()))
    assert sorted(r["tracklet"] for r in rows) == ["'=HYPERLINK(1)", "'@id1"]


def test_the_aitl_embedder_pads_batches_for_the_traced_graph_and_gives_the_exact_features(tiny_run):
    """Frames with 1 to 19 people: the frozen graph sees only batches of 1, 2, 4, 8 and 16 crops, and each crop's
    features equal those of the exact forward, whatever the batch it was padded into."""
    trained = load_trained(str(tiny_run), device="cpu")
    exact = AitlEmbedder(TrackletEncoder(trained, build_forward(trained, "", "exact"), workers=0))
    fast = AitlEmbedder(TrackletEncoder(trained, build_forward(trained, "", "fast"), workers=0))
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    for count in (1, 3, 5, 16, 19):
        boxes = [(float(x), float(y), 20.0, 40.0, 1.0) for x, y in zip(rng.integers(0, 100, count), rng.integers(0, 50, count))]
        expected, got = exact(frame, boxes), fast(frame, boxes)
        assert len(got) == count
        np.testing.assert_allclose(np.stack(got), np.stack(expected), atol=1e-4)
    assert sorted(shape[0] for shape in fast.forward.graphs) == [1, 4, 8, 16]  # 19 = 16 + 3 (padded to 4)
    assert [padded_batch(n) for n in range(1, 17)] == [1, 2, 4, 4, 8, 8, 8, 8, 16, 16, 16, 16, 16, 16, 16, 16]
