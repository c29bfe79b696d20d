"""A frame that goes bad on disk during training (issue 14 item 3): loader workers stop training with the file's
name, or, with ``data.on_bad_frame skip``, draw another clip of the tracklet and count it."""
import os

import pytest

from aitl_reid import train as trainer
from aitl_reid.data import FrameReadError, build_datamanager
from aitl_reid.data.image_io import frame_error_message
from aitl_reid.engine import list_checkpoints
from test_data_datamanager import tiny_config
from synthetic_trees import tiny_synthetic_tree
from test_train_end_to_end import load_main, read_rows, tiny_run_args


@pytest.fixture
def fresh_synthetic_root(tmp_path):
    """A tiny synthetic tree of this test's own: the test spoils its frames."""
    return tiny_synthetic_tree(tmp_path / "synthetic")


def spoil_tracklets(manager):
    """Overwrite every frame but the first of each training tracklet with bytes that are no image."""
    spoiled = set()
    for paths, *_ in manager.train_loader.dataset.train:
        for path in paths[1:]:
            with open(path, "wb") as handle:
                handle.write(b"\xff\xd8 not a jpeg any more \xff\xd9")
            spoiled.add(path)
    return spoiled


def manager_with_worker(root, on_bad_frame):
    cfg = tiny_config(root)
    cfg.data.workers = 1  # the frame is met inside a loader worker process
    cfg.data.on_bad_frame = on_bad_frame
    return build_datamanager(cfg, use_gpu=False)


def test_a_worker_meeting_a_corrupt_frame_stops_with_the_file_name(tiny_mars_root):
    manager = manager_with_worker(tiny_mars_root, "error")
    spoiled = spoil_tracklets(manager)  # after the dataset was built and checked
    with pytest.raises(FrameReadError) as caught:
        for _ in manager.train_loader:
            pass
    message = frame_error_message(caught.value)
    assert message.startswith("frame ") and "is corrupt or not an image" in message
    assert any(path in message for path in spoiled) and "Traceback" not in message


def test_skip_replaces_the_clip_with_one_from_the_readable_frames_and_reports_the_files(tiny_mars_root):
    manager = manager_with_worker(tiny_mars_root, "skip")
    spoiled = spoil_tracklets(manager)
    batches = list(manager.train_loader)
    met = [path for batch in batches for paths in batch["bad_frames"] for path in paths.splitlines()]
    assert met and set(met) <= spoiled
    assert sum(int(batch["skipped"].sum()) for batch in batches) == len(met)
    assert all(batch["img"].shape[0] == 8 for batch in batches)  # every clip still delivered


def test_skip_fails_clearly_when_no_frame_of_the_tracklet_can_be_read(tiny_mars_root):
    manager = manager_with_worker(tiny_mars_root, "skip")
    dataset = manager.train_loader.dataset
    spoil_tracklets(manager)
    with open(dataset.train[0][0][0], "wb") as handle:
        handle.write(b"")
    with pytest.raises(FrameReadError, match=r"no frame of the tracklet .* can be read \(data.on_bad_frame skip tried"):
        dataset[0]


def test_bad_frame_policy_is_checked(tiny_mars_root):
    cfg = tiny_config(tiny_mars_root)
    cfg.data.on_bad_frame = "ignore"
    with pytest.raises(ValueError, match="data.on_bad_frame must be one of"):
        build_datamanager(cfg, use_gpu=False)


def spoil_after_building(monkeypatch):
    """The trainer's data manager, with a training tracklet spoiled on disk right after it was built."""
    def build(cfg):
        manager = build_datamanager(cfg)
        spoil_tracklets(manager)
        return manager

    monkeypatch.setattr(trainer, "build_datamanager", build)


@pytest.mark.parametrize("policy", ["error", "skip"])
def test_training_with_a_frame_gone_bad(fresh_synthetic_root, tmp_path, monkeypatch, capsys, policy):
    save_dir = tmp_path / "run"
    main = load_main()
    assert main(tiny_run_args(fresh_synthetic_root, save_dir, "train.max_epoch", "1")) == 0
    first = (save_dir / "model" / "model.pth.tar-1").read_bytes()
    spoil_after_building(monkeypatch)
    code = main(tiny_run_args(fresh_synthetic_root, save_dir, "train.max_epoch", "2", "model.resume", "auto",
                              "data.workers", "1", "data.on_bad_frame", policy))
    out, err = capsys.readouterr()
    if policy == "error":
        assert code == 1
        assert err.startswith("error: frame ") and "is corrupt or not an image" in err and "Traceback" not in err
        assert "data.on_bad_frame skip" in err
        assert sorted(list_checkpoints(str(save_dir))) == [1]
        assert (save_dir / "model" / "model.pth.tar-1").read_bytes() == first
    else:
        assert code == 0, err
        assert "met an unreadable frame and were replaced" in out
        assert float(read_rows(save_dir)[-1]["skipped_clips"]) > 0
        assert os.path.isfile(save_dir / "model" / "model.pth.tar-2")
