"""bench/footage.py's real-video row (vtest.avi by default): timed on the same detections for both sides in quick
mode, here on a small rendered video standing in for vtest.avi, and skipped with a note where the video is absent."""
import math

import torch

from aitl_reid.footage import camera_inputs
from aitl_reid.inference import TrackletEncoder, load_trained
from aitl_reid.synthetic.footage import render_footage
from bench import footage
from bench.settings import Settings
from inference_data import one_torch_thread  # noqa: F401  (autouse fixture)


def quick_settings(tmp_path, **extra):
    return Settings(quick=True, runs=1, workers=0, workdir=str(tmp_path), log=lambda message: None, **extra)


def test_without_a_run_both_rows_are_skipped_and_an_absent_video_is_named_with_how_to_get_it(tmp_path):
    rows = footage.run(quick_settings(tmp_path))
    assert [row.skipped for row in rows] == ["no trained run given (--footage-run RUN)"] * 2
    assert rows[1].name == "Footage tracking on the same motion detections, vtest.avi"
    missing = str(tmp_path / "vtest.avi")
    [row] = footage.video_rows(quick_settings(tmp_path, footage_video=missing), None, missing)
    assert row.skipped == f"{missing} not found: apt-get install opencv-doc (Debian's vtest.avi), or --footage-video PATH"


def test_the_video_row_times_both_embedders_on_the_start_of_the_video_in_quick_mode(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setattr(footage, "QUICK_VIDEO_FRAMES", 24)  # 10 frames learn the background, then 14 are tracked
    [video] = render_footage(str(tmp_path / "scene"), people=2, cameras=1, frames=40, size=(128, 96), crossing=22)
    trained = load_trained(str(tiny_run))
    with torch.no_grad():
        [row] = footage.video_rows(quick_settings(tmp_path, footage_run=str(tiny_run)),
                                   TrackletEncoder(trained, workers=0), video)
    assert row.name.endswith("cam1.avi (128x96, 24 frames, quick: its start; no ground truth)")
    assert not row.skipped and row.items_per_run == 24
    assert len(row.ours_time.seconds) == len(row.reference_time.seconds) == 1 and math.isfinite(row.ratio[0])
    notes = " ".join(row.notes)
    assert "ours per stage, frames/s: detect" in notes and "end to end (detect + track + identities)" in notes
    assert "than the video's own 10 frames/s" in notes  # the rendered video's rate, not the frame folder's default
    assert "aitl: " in notes and "tracklets (no ground truth)" in notes
    assert camera_inputs([video])[0].fps() == 10.0
