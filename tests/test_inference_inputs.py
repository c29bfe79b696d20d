"""Inputs of the inference tools: tracklet folders (numeric frame order), videos with MOTChallenge
tracks cropped into tracklets, and a clear error naming the file (and line) for every bad input."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from aitl_reid.inference import InputError, TrackletEncoder, crop_video_tracks, load_trained, read_input, read_tracklet_folders
from aitl_reid.inference.inputs import natural_key, read_mot_tracks
from inference_data import one_torch_thread  # noqa: F401  (autouse fixture)
from inference_data import make_run, write_tracklets, write_video


def _touch_frames(folder: Path, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        cv2.imwrite(str(folder / name), np.zeros((8, 4, 3), np.uint8))


def test_frames_are_ordered_by_their_numbers_not_as_text(tmp_path):
    _touch_frames(tmp_path / "t7", ["f10.jpg", "f2.jpg", "f1.jpg", "F3.png"])
    _touch_frames(tmp_path / "t10", ["0001.jpg"])
    tracklets = read_tracklet_folders(str(tmp_path))
    assert [t.name for t in tracklets] == ["t7", "t10"]
    assert [Path(f).name for f in tracklets[0].frames] == ["f1.jpg", "f2.jpg", "F3.png", "f10.jpg"]
    assert natural_key("cam2_f9.jpg") < natural_key("cam2_f10.jpg") < natural_key("cam10_f1.jpg")


def test_a_folder_holding_frames_is_one_tracklet_and_hidden_files_are_ignored(tmp_path):
    _touch_frames(tmp_path / "solo", ["2.jpg", "1.jpg"])
    (tmp_path / "solo" / ".DS_Store").write_text("x")
    (tracklet,) = read_tracklet_folders(str(tmp_path / "solo"))
    assert tracklet.name == "solo" and [Path(f).name for f in tracklet.frames] == ["1.jpg", "2.jpg"]


def test_empty_folders_are_named(tmp_path):
    (tmp_path / "all" / "empty_one").mkdir(parents=True)
    with pytest.raises(InputError, match=r"all/empty_one: empty tracklet folder"):
        read_tracklet_folders(str(tmp_path / "all"))
    (tmp_path / "nothing").mkdir()
    with pytest.raises(InputError, match=r"nothing: empty folder"):
        read_tracklet_folders(str(tmp_path / "nothing"))


def test_unknown_frame_format_names_the_file(tmp_path):
    _touch_frames(tmp_path / "t1", ["1.jpg"])
    (tmp_path / "t1" / "2.gif").write_bytes(b"GIF89a")
    with pytest.raises(InputError, match=r"t1/2.gif: unknown frame format '.gif'"):
        read_tracklet_folders(str(tmp_path))


def test_unknown_input_format_and_missing_tracks_are_named(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(InputError, match=r"notes.txt: unknown input format"):
        read_input(str(notes), str(tmp_path / "crops"))
    video = tmp_path / "cam.avi"
    video.write_bytes(b"not a video")
    with pytest.raises(InputError, match=r"cam.avi: its tracks file .*cam.txt was not found"):
        read_input(str(video), str(tmp_path / "crops"))
    (tmp_path / "cam.txt").write_text("1,1,0,0,10,10\n")
    with pytest.raises(InputError, match=r"cam.avi: cannot open the video \(unknown format or codec"):
        read_input(str(video), str(tmp_path / "crops"))


@pytest.mark.parametrize("workers", [0, 1])
def test_unreadable_frame_names_the_file_even_from_a_loader_worker(tmp_path, workers):
    run = make_run(tmp_path / "run")
    write_tracklets(tmp_path / "in", [0, 1], frames=3)
    (tmp_path / "in" / "id1" / "2.jpg").write_bytes(b"\xff\xd8 truncated")
    encoder = TrackletEncoder(load_trained(str(run)), batch_size=2, workers=workers, progress=False)
    with pytest.raises(InputError) as err:
        encoder.encode(read_tracklet_folders(str(tmp_path / "in")))
    assert str(err.value).startswith(f"frame {tmp_path / 'in' / 'id1' / '2.jpg'} is a truncated JPEG")
    assert "Traceback" not in str(err.value)


def test_mot_lines_with_an_unknown_format_name_file_and_line(tmp_path):
    tracks = tmp_path / "tracks.txt"
    tracks.write_text("1,1,10,10,20,40,1,-1,-1,-1\n\n2;1;10;10;20;40\n")
    with pytest.raises(InputError, match=r"tracks.txt:3: unknown format, expected MOTChallenge 'frame, id, x, y, w, h"):
        read_mot_tracks(str(tracks))
    tracks.write_text("1,1,10,10,0,40\n")
    with pytest.raises(InputError, match=r"tracks.txt:1: box width and height must be positive"):
        read_mot_tracks(str(tracks))
    tracks.write_text("")
    with pytest.raises(InputError, match=r"tracks.txt: no tracks"):
        read_mot_tracks(str(tracks))
    boxes = read_mot_tracks(str(_write(tmp_path / "ok.txt", "3 7 1.5 2 10 20 0.9\n")))  # space-separated also reads
    assert (boxes[0].frame, boxes[0].track, boxes[0].x, boxes[0].h, boxes[0].line) == (3, 7, 1.5, 20.0, 1)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_video_is_cropped_into_one_tracklet_per_track(tmp_path):
    video, tracks = tmp_path / "cam1.avi", tmp_path / "cam1.txt"
    write_video(video, tracks, identities=[0, 2, 5], frames=6)
    with open(tracks, "a") as handle:  # a box reaching past the right border is clipped to the frame
        handle.write("6,9,230,10,20,30,1,-1,-1,-1\n")
    tracklets = crop_video_tracks(str(video), str(tracks), str(tmp_path / "crops"))
    assert [t.name for t in tracklets] == ["cam1_0001", "cam1_0003", "cam1_0006", "cam1_0009"]
    assert [len(t.frames) for t in tracklets] == [6, 6, 6, 1]
    assert [Path(f).name for f in tracklets[0].frames] == [f"{n:06d}.jpg" for n in range(1, 7)]
    assert cv2.imread(tracklets[0].frames[0]).shape == (64, 32, 3)
    assert cv2.imread(tracklets[3].frames[0]).shape == (30, 10, 3)  # x 230..240 of a 240-wide frame


def test_track_outside_the_image_and_past_the_video_end_name_file_and_line(tmp_path):
    video, tracks = tmp_path / "cam1.avi", tmp_path / "cam1.txt"
    write_video(video, tracks, identities=[0], frames=4)
    good = tracks.read_text()
    tracks.write_text(good + "2,5,300,10,20,30,1,-1,-1,-1\n")
    with pytest.raises(InputError, match=r"cam1.txt:5: track 5 in frame 2 is outside the image \(box x=300 .*frame 240x160\)"):
        crop_video_tracks(str(video), str(tracks), str(tmp_path / "crops"))
    tracks.write_text(good + "9,1,10,10,20,30,1,-1,-1,-1\n")
    with pytest.raises(InputError, match=r"cam1.txt:5: frame 9 is past the end of .*cam1.avi \(4 frames\)"):
        crop_video_tracks(str(video), str(tracks), str(tmp_path / "crops2"))
