"""One writer per folder (issue 28): a command holds an flock on its run or output folder while it writes; a second
one stops at once with status 2 naming the holder, the OS releases the lock when its holder is killed, and a refused
torchrun launch leaves no process behind. Also: a run that never started leaves no folder (issue 27 item 4)."""
import errno
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from aitl_reid import convert, export, infer, track
from aitl_reid.experiments.cli import run as ablation
from aitl_reid import folder_lock
from aitl_reid.folder_lock import LOCK_FILE, FolderBusyError, FolderLock
from test_run_folder import snapshot
from test_train_end_to_end import load_main, read_rows, tiny_run_args, tiny_synthetic_root  # noqa: F401 (fixture)

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "AITL_REID_PROGRESS": "0", "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore",
       "PYTHONPATH": os.pathsep.join([str(REPO / "plugin"), os.environ.get("PYTHONPATH", "")])}
pytestmark = pytest.mark.filterwarnings("ignore:gallery has only")


def holder_of(folder):
    """The lock file's record once its holder has written it (None while there is none)."""
    try:
        return json.loads((Path(folder) / LOCK_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None


def wait_for_holder(folder, process):
    """Wait until ``process`` holds ``folder``'s lock (it wrote its record); returns the record."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        record = holder_of(folder)
        if record and record["pid"] == process.pid:
            return record
        time.sleep(0.05)
    raise AssertionError(f"process {process.pid} never held {folder} (exit status {process.poll()})")


def hold_in_another_process(folder):
    """A process (forked: no interpreter to start) holding ``folder``'s lock until killed; returns its id."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            with FolderLock(str(folder), "data.save_dir"):
                os.write(write, b"held")
                time.sleep(600)
        finally:
            os._exit(0)
    os.close(write)
    assert os.read(read, 4) == b"held"
    os.close(read)
    return pid


def hold_with_a_forked_worker(folder):
    """A process holding ``folder``'s lock that has forked a worker (as a data loader forks its workers); returns
    both process ids."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            with FolderLock(str(folder), "data.save_dir"):
                worker = os.fork()
                if worker == 0:
                    time.sleep(600)
                    os._exit(0)
                os.write(write, str(worker).encode().ljust(16))
                time.sleep(600)
        finally:
            os._exit(0)
    os.close(write)
    worker = int(os.read(read, 16))
    os.close(read)
    return pid, worker


def kill(pid):
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def processes_naming(folder):
    """The processes whose command line names ``folder``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if str(folder).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:  # ended meanwhile
            pass
    return found


# ------------------------------------------------------------------ the lock itself
def test_a_second_lock_is_refused_naming_the_holder_and_changes_nothing(tmp_path):
    folder = tmp_path / "run"
    with FolderLock(str(folder), "data.save_dir"):
        record = holder_of(folder)
        assert record["pid"] == os.getpid() and record["host"] == socket.gethostname()
        assert record["command"] and record["started"]
        before = snapshot(folder)
        with pytest.raises(FolderBusyError) as refused:
            FolderLock(str(folder), "data.save_dir").acquire()
        assert snapshot(folder) == before
    message = str(refused.value)
    assert message.startswith(f"data.save_dir '{folder}' is in use by process {os.getpid()} on host "
                              f"{socket.gethostname()}, started {record['started']}: {record['command']}")
    assert "nothing was written" in message and "another data.save_dir" in message
    assert not folder.exists()  # released: the lock file goes with its holder, and the folder it created, empty
    with FolderLock(str(folder), "data.save_dir"):
        pass


def test_folders_a_lock_created_go_again_when_left_empty_and_others_stay(tmp_path):
    with FolderLock(str(tmp_path / "log" / "run"), "data.save_dir"):
        pass
    assert os.listdir(tmp_path) == []
    with FolderLock(str(tmp_path / "log" / "run"), "data.save_dir"):
        (tmp_path / "log" / "run" / "log.txt").write_text("written")
    assert os.listdir(tmp_path / "log" / "run") == ["log.txt"]
    (tmp_path / "existing").mkdir()
    with FolderLock(str(tmp_path / "existing"), "--out"):
        pass
    assert (tmp_path / "existing").is_dir()


def test_a_killed_holders_forked_worker_does_not_keep_the_lock(tmp_path):
    holder, worker = hold_with_a_forked_worker(tmp_path)
    try:
        with pytest.raises(FolderBusyError, match=f"in use by process {holder} on host"):
            FolderLock(str(tmp_path), "data.save_dir").acquire()
        kill(holder)
        with FolderLock(str(tmp_path), "data.save_dir"):
            os.kill(worker, 0)  # the worker still runs (else this raises)
    finally:
        os.kill(worker, signal.SIGKILL)  # the killed holder's child, now init's: not ours to wait for


def test_without_flock_it_says_so_once_and_goes_on(tmp_path, monkeypatch, capsys):
    def no_flock(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    monkeypatch.setattr(folder_lock, "_warned_unsupported", [])  # as in a fresh process
    with FolderLock(str(tmp_path / "a"), "data.save_dir"), FolderLock(str(tmp_path / "a"), "data.save_dir"):
        (tmp_path / "a" / "log.txt").write_text("written")
    err = capsys.readouterr().err
    assert err.count("warning: cannot lock") == 1 and "does not support flock" in err and "No locks available" in err
    assert os.listdir(tmp_path / "a") == ["log.txt"]


def test_inference_export_conversion_tracking_and_the_ablation_runner_refuse_a_folder_in_use(tmp_path, capsys):
    out = tmp_path / "out"
    with FolderLock(str(out), "--out"):
        before = snapshot(out)
        assert infer.main(["--run", str(tmp_path / "run"), "--out", str(out), "query", "gallery"]) == 2
        assert f"--out '{out}' is in use by process {os.getpid()}" in capsys.readouterr().err
        assert ablation(["--config-file", str(REPO / "configs" / "synthetic_ablation.yaml"), "--output", str(out)]) == 2
        assert f"--output '{out}' is in use by process {os.getpid()}" in capsys.readouterr().err
        (tmp_path / "released.pth").write_bytes(b"read only once --out is free")
        assert convert.main(["--released", str(tmp_path / "released.pth"), "--out", str(out)]) == 2
        assert f"--out '{out}' is in use by process {os.getpid()}" in capsys.readouterr().err
        camera = tmp_path / "cam1"
        camera.mkdir()
        for index in range(2):
            cv2.imwrite(str(camera / f"{index:06d}.jpg"), np.zeros((48, 64, 3), np.uint8))
        assert track.main(["--run", str(tmp_path / "run"), "--out", str(out), str(camera)]) == 2
        assert f"--out '{out}' is in use by process {os.getpid()}" in capsys.readouterr().err
        assert snapshot(out) == before
    with FolderLock(str(tmp_path), "--out", lock_file=".model.onnx.lock"):
        assert export.main(["--run", str(tmp_path / "run"), "--out", str(tmp_path / "model.onnx")]) == 2
        assert f"--out '{tmp_path / 'model.onnx'}' is in use by process {os.getpid()}" in capsys.readouterr().err
        assert export.main(["--run", str(tmp_path / "run"), "--out", str(tmp_path / "other.onnx")]) == 2
        assert "is in use" not in capsys.readouterr().err  # another file in the folder: only the bad --run stops it


# ------------------------------------------------------------------ the trainer
@pytest.fixture(scope="module")
def two_runs_at_once(tiny_synthetic_root, tmp_path_factory):
    """The issue's command pair: a run into a folder, and a second run into it while the first holds it (the first
    stopped with SIGSTOP once it holds the lock, so the second surely starts while the first runs)."""
    folder = tmp_path_factory.mktemp("twice")
    args = tiny_run_args(tiny_synthetic_root, folder, "train.max_epoch", "1", "train.max_iters_per_epoch", "1",
                         "test.eval_freq", "1")
    first = subprocess.Popen([sys.executable, str(REPO / "tools" / "main.py"), *args], env=ENV,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        record = wait_for_holder(folder, first)
        first.send_signal(signal.SIGSTOP)
        second = subprocess.run([sys.executable, str(REPO / "tools" / "main.py"), *args], env=ENV,
                                capture_output=True, text=True, timeout=300)  # a waiting second run would time out
        first.send_signal(signal.SIGCONT)
        out, err = first.communicate(timeout=600)
    finally:
        first.kill()
    return folder, record, second, (first.returncode, out, err)


def test_a_second_run_into_a_folder_in_use_exits_2_naming_the_first(two_runs_at_once):
    folder, record, second, _ = two_runs_at_once
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert (f"data.save_dir '{folder}' is in use by process {record['pid']} on host {record['host']}, "
            f"started {record['started']}: ") in second.stderr
    assert "tools/main.py" in record["command"] and str(folder) in record["command"]


def test_the_first_run_finishes_and_the_folder_holds_its_records_alone(two_runs_at_once):
    folder, _, _, (code, out, err) = two_runs_at_once
    assert code == 0, err[-3000:]
    log = (folder / "log.txt").read_text()
    assert log.count("Show configuration") == 1 and log.count("Done in") == 1
    assert [row["epoch"] for row in read_rows(folder)] == ["1"]
    assert len(list(folder.glob("events.out.tfevents.*"))) == 1
    assert sorted(os.listdir(folder / "model")) == ["model.pth.tar-1"]
    assert not (folder / LOCK_FILE).exists()


def test_after_the_holder_is_killed_resume_auto_continues_without_a_manual_step(two_runs_at_once, tiny_synthetic_root,
                                                                             capsys):
    folder = two_runs_at_once[0]
    args = tiny_run_args(tiny_synthetic_root, folder, "train.max_epoch", "2", "train.max_iters_per_epoch", "1",
                         "test.eval_freq", "1", "model.resume", "auto")
    holder = hold_in_another_process(folder)
    try:
        assert load_main()(args) == 2
        assert f"is in use by process {holder} on host" in capsys.readouterr().err
    finally:
        kill(holder)
    assert holder_of(folder)["pid"] == holder  # the killed holder's file stays; its lock went with it
    assert load_main()(args) == 0
    assert "Resumed from" in capsys.readouterr().out
    assert [row["epoch"] for row in read_rows(folder)] == ["1", "2"]
    assert not (folder / LOCK_FILE).exists()


@pytest.mark.slow
def test_a_torchrun_launch_into_a_folder_in_use_is_refused_and_leaves_no_process(tiny_synthetic_root, tmp_path):
    folder = tmp_path / "busy"
    holder = hold_in_another_process(folder)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
               "aitl_reid.train", *tiny_run_args(tiny_synthetic_root, folder, "train.max_epoch", "1")]
    try:
        result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=300)
        assert result.returncode != 0
        output = result.stdout + result.stderr
        assert f"data.save_dir '{folder}' is in use by process {holder} on host" in output
        assert output.count("is in use by") == 1  # said by rank 0 only
        assert os.listdir(folder) == [LOCK_FILE] and holder_of(folder)["pid"] == holder
        assert processes_naming(folder) == []  # every rank ended
    finally:
        kill(holder)
