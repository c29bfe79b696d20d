"""Checkpoints every epoch, the ones kept, ``model.resume auto``, and failing disks (issue 14 items 0 and 4);
pruning deletes only the current run's checkpoints (issue 19 item 1)."""
import errno
import os
import stat
from importlib import metadata

import pytest
import torch

from aitl_reid import serialization
from aitl_reid.engine import atomic_torch_save, latest_complete_checkpoint, list_checkpoints
from aitl_reid.run_folder import checkpoint_path, prune_checkpoints
from aitl_reid.serialization import WriteError, atomic_write, ensure_writable_dir
from test_train_end_to_end import load_main, read_rows, tiny_run_args, tiny_synthetic_root  # noqa: F401 (fixture)


def write_checkpoints(save_dir, epochs):
    for epoch in epochs:
        atomic_torch_save({"state_dict": {"w": torch.full((2,), float(epoch))}, "epoch": epoch},
                          checkpoint_path(str(save_dir), epoch))


def test_listing_ignores_a_partial_temporary_file_and_foreign_names(tmp_path):
    write_checkpoints(tmp_path, [1, 2])
    (tmp_path / "model" / ".tmp-abc123.tar-3").write_bytes(b"PK\x03\x04 half a checkpoint")
    (tmp_path / "model" / "model.pth.tar-3.bak").write_bytes(b"")
    assert sorted(list_checkpoints(str(tmp_path))) == [1, 2]
    path, checkpoint = latest_complete_checkpoint(str(tmp_path))
    assert path.endswith("model.pth.tar-2") and checkpoint["epoch"] == 2


def test_auto_resume_skips_a_damaged_newest_checkpoint(tmp_path, capsys):
    write_checkpoints(tmp_path, [1, 2, 3])
    newest = tmp_path / "model" / "model.pth.tar-3"
    newest.write_bytes(newest.read_bytes()[:100])  # cut short after the write (a copy that failed)
    path, checkpoint = latest_complete_checkpoint(str(tmp_path))
    assert checkpoint["epoch"] == 2
    assert "skipping checkpoint of epoch 3" in capsys.readouterr().out


def test_no_checkpoint_means_none(tmp_path):
    assert latest_complete_checkpoint(str(tmp_path)) is None


def test_pruning_keeps_the_newest_the_best_and_the_last(tmp_path):
    write_checkpoints(tmp_path, range(1, 7))
    rows = {2: {"mAP": 0.9}, 4: {"mAP": 0.5}, 6: {"mAP": 0.1}}
    assert prune_checkpoints(str(tmp_path), keep=2, rows=rows, owned=range(1, 7)) == [4, 3, 1]
    assert sorted(list_checkpoints(str(tmp_path))) == [2, 5, 6]
    assert prune_checkpoints(str(tmp_path), keep=0, rows=rows, owned=range(1, 7)) == []
    assert sorted(list_checkpoints(str(tmp_path))) == [2, 5, 6]


def test_pruning_never_deletes_a_checkpoint_of_another_run_whatever_its_epoch(tmp_path):
    write_checkpoints(tmp_path, [5, 6, 7])  # an older run's, with higher epochs than the current run's
    write_checkpoints(tmp_path, [1, 2, 3])
    rows = {6: {"mAP": 0.9}, 2: {"mAP": 0.1}}
    assert prune_checkpoints(str(tmp_path), keep=1, rows=rows, owned={1, 2, 3}) == [1]  # 2: this run's best
    assert sorted(list_checkpoints(str(tmp_path))) == [2, 3, 5, 6, 7]


def test_checkpoint_freq_writes_checkpoints_between_evaluations(tiny_synthetic_root, tmp_path):
    save_dir = tmp_path / "run"
    args = tiny_run_args(tiny_synthetic_root, save_dir, "train.max_epoch", "4", "train.checkpoint_freq", "2",
                         "train.keep_checkpoints", "0", "test.eval_freq", "-1")
    assert load_main()(args) == 0
    assert sorted(list_checkpoints(str(save_dir))) == [2, 4]
    # every file of the run has the one mode a new file gets (atomic writes included), and the log no CPU flags
    expected = 0o666 & ~serialization.current_umask()
    modes = {str(p.relative_to(save_dir)): stat.S_IMODE(p.stat().st_mode) for p in save_dir.rglob("*") if p.is_file()}
    assert {"config.yaml", "metrics.csv", "log.txt", "model/model.pth.tar-4"} <= set(modes)
    assert {name: mode for name, mode in modes.items() if mode != expected} == {}
    log = (save_dir / "log.txt").read_text()
    assert "Flags:" not in log and f"[pip] torch=={metadata.version('torch')}" in log  # the environment report, versions first


def test_an_atomic_write_gets_the_mode_of_a_new_file_under_the_umask(tmp_path):
    before = os.umask(0o027)
    try:
        with atomic_write(str(tmp_path / "results.json")) as handle:
            handle.write("{}")
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "results.json").stat().st_mode) == 0o640


def test_resume_auto_starts_fresh_without_checkpoint_then_continues_from_the_newest(tiny_synthetic_root, tmp_path, capsys):
    save_dir = tmp_path / "run"
    main = load_main()
    assert main(tiny_run_args(tiny_synthetic_root, save_dir, "train.max_epoch", "2", "model.resume", "auto")) == 0
    assert "no checkpoint in" in capsys.readouterr().out
    assert main(tiny_run_args(tiny_synthetic_root, save_dir, "train.max_epoch", "3", "model.resume", "auto")) == 0
    out = capsys.readouterr().out
    assert f"Resumed from {save_dir / 'model' / 'model.pth.tar-2'}" in out and "=> Start training" in out
    assert [int(r["epoch"]) for r in read_rows(save_dir)] == [1, 2, 3]


def fail_writes(monkeypatch, suffix):
    """Every atomic write whose temporary file ends with ``suffix`` fails as a full disk does, at fsync."""
    real_fsync = os.fsync

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(suffix):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(serialization.os, "fsync", fsync)


def test_a_full_disk_keeps_the_previous_file_and_removes_the_temporary_one(tmp_path, monkeypatch):
    target = tmp_path / "metrics.csv"
    target.write_text("epoch,loss\n1,0.5\n")
    fail_writes(monkeypatch, ".csv")
    with pytest.raises(WriteError, match=r"cannot write .*metrics.csv: No space left on device; its previous content"):
        with atomic_write(str(target)) as handle:
            handle.write("epoch,loss\n1,0.5\n2,0.4\n")
    assert target.read_text() == "epoch,loss\n1,0.5\n"
    assert os.listdir(tmp_path) == ["metrics.csv"]


@pytest.mark.parametrize("suffix, name", [(".tar-2", "model/model.pth.tar-2"), (".csv", "metrics.csv")])
def test_training_stops_with_a_clear_error_when_a_write_fails(tiny_synthetic_root, tmp_path, monkeypatch, capsys,
                                                              suffix, name):
    save_dir = tmp_path / "run"
    main = load_main()
    assert main(tiny_run_args(tiny_synthetic_root, save_dir, "train.max_epoch", "1")) == 0
    before = (save_dir / "model" / "model.pth.tar-1").read_bytes()
    fail_writes(monkeypatch, suffix)
    code = main(tiny_run_args(tiny_synthetic_root, save_dir, "train.max_epoch", "3", "model.resume", "auto"))
    assert code == 1
    err = capsys.readouterr().err
    assert f"cannot write {save_dir / name}: No space left on device" in err and "model.resume auto" in err
    assert (save_dir / "model" / "model.pth.tar-1").read_bytes() == before
    assert not [f for f in os.listdir(save_dir / "model") if f.startswith(".tmp-")]
    assert [int(r["epoch"]) for r in read_rows(save_dir)] in ([1], [1, 2])  # whole rows only


def read_only_folder(tmp_path):
    """A folder this process cannot write: permission bits for a normal user; for root (who ignores them), sysfs."""
    if os.geteuid() != 0:
        folder = tmp_path / "read_only"
        folder.mkdir()
        folder.chmod(0o555)
        return str(folder)
    return "/sys/aitl-reid-not-writable"


def test_read_only_save_dir_is_reported_at_start_up(tmp_path, capsys):
    folder = read_only_folder(tmp_path)
    with pytest.raises(WriteError, match="data.save_dir .* is not writable"):
        ensure_writable_dir(folder, "data.save_dir")
    code = load_main()(tiny_run_args(tmp_path / "no-data-here", folder, "train.max_epoch", "1"))
    assert code == 2
    err = capsys.readouterr().err
    assert "data.save_dir" in err and "not writable" in err and "required paths not found" not in err


def test_auto_resume_stops_at_a_checkpoint_holding_code_instead_of_falling_back(tmp_path):
    from aitl_reid.engine import CheckpointError
    from test_untrusted_files import write_malicious

    write_checkpoints(tmp_path, [1, 2])
    marker = tmp_path / "ran"
    write_malicious(tmp_path / "model" / "model.pth.tar-3", marker)
    with pytest.raises(CheckpointError, match="could run code"):
        latest_complete_checkpoint(str(tmp_path))
    assert not marker.exists()
