"""One run per folder, finished runs stay finished, evaluation outside the training records, logs that survive
any spelling of a path (issue 19 items 1-4): the run-folder module alone, then the trainer end to end."""
import hashlib
import json
import os
import re
import time

import pytest
import torch

import aitl_reid
from aitl_reid.config import ConfigError
from aitl_reid.engine import atomic_torch_save
from aitl_reid.launch import load_config
from aitl_reid.run_folder import (RunError, checkpoint_path, find_checkpoint, held_run, move_run_aside, prepare_run_dir,
                                  read_metrics, same_path)
from aitl_reid.train import run_log
from test_package_structure import _imported_modules, _package_files
from test_train_end_to_end import load_main, read_rows, tiny_run_args, tiny_synthetic_root  # noqa: F401 (fixture)

MAX_EPOCH = "2"
pytestmark = pytest.mark.filterwarnings("ignore:gallery has only")


def old_run(folder, epochs=(5, 6, 7)):
    """A folder as an earlier run left it: small checkpoints, metrics.csv, log.txt and tensorboard events."""
    for epoch in epochs:
        atomic_torch_save({"state_dict": {"w": torch.full((2,), float(epoch))}, "epoch": epoch},
                          checkpoint_path(str(folder), epoch))
    (folder / "metrics.csv").write_text("epoch,loss,mAP\n" + "".join(f"{e},1.0,0.{e}\n" for e in epochs))
    (folder / "log.txt").write_text("the earlier run's log\n")
    (folder / "events.out.tfevents.1.host").write_bytes(b"earlier events")
    return folder


def snapshot(folder):
    """Every file under ``folder``: its content's hash and its modification time."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                digest = hashlib.sha1(handle.read()).hexdigest()
            found[os.path.relpath(path, folder)] = (digest, os.stat(path).st_mtime_ns)
    return found


# ------------------------------------------------------------------ the run-folder module
def test_a_folder_holding_another_run_is_refused_naming_the_folder_and_the_three_choices(tmp_path):
    folder = old_run(tmp_path / "run")
    before = snapshot(folder)
    assert held_run(str(folder)) == "checkpoints of epochs 5, 6, 7 and 3 epoch row(s) in metrics.csv"
    long_run = old_run(tmp_path / "long", epochs=range(1, 9))
    assert held_run(str(long_run)) == "checkpoints of epochs 1 to 8, 8 files and 8 epoch row(s) in metrics.csv"
    with pytest.raises(RunError) as refused:
        prepare_run_dir(str(folder), "refuse", continuing=False)
    message = str(refused.value)
    assert f"data.save_dir '{folder}' holds another run" in message
    assert all(choice in message for choice in ("model.resume auto", "data.save_dir NEW_FOLDER",
                                                "train.existing_run move_aside"))
    assert prepare_run_dir(str(folder), "refuse", continuing=True) == ""
    assert prepare_run_dir(str(tmp_path / "empty"), "refuse", continuing=False) == ""
    with pytest.raises(ConfigError, match="train.existing_run must be one of"):
        prepare_run_dir(str(folder), "overwrite", continuing=True)
    assert snapshot(folder) == before


def test_moving_aside_keeps_every_file_in_a_folder_dated_by_the_runs_last_write(tmp_path):
    folder = old_run(tmp_path / "run")
    os.utime(folder / "metrics.csv", (1e9, 1e9))  # 2001-09-09, local time
    for name in ("log.txt", "events.out.tfevents.1.host", "model"):
        os.utime(folder / name, (1e9 - 60, 1e9 - 60))
    for path in (folder / "model").iterdir():
        os.utime(path, (1e9 - 60, 1e9 - 60))
    before = snapshot(folder)
    done = prepare_run_dir(str(folder), "move_aside", continuing=False)
    (moved,) = os.listdir(folder)
    assert moved == "previous-run-" + time.strftime("%Y%m%d-%H%M%S", time.localtime(1e9))
    assert snapshot(folder / moved) == before
    assert done == (f"train.existing_run move_aside: the earlier run in '{folder}' (checkpoints of epochs 5, 6, 7 and "
                    f"3 epoch row(s) in metrics.csv) was moved to '{folder / moved}'")
    old_run(folder, epochs=(1,))  # a second earlier run: moved beside the first, which stays as it is
    second = move_run_aside(str(folder))
    assert sorted(os.listdir(folder)) == sorted([moved, os.path.basename(second)])
    assert snapshot(folder / moved) == before and sorted(os.listdir(os.path.join(second, "model"))) == ["model.pth.tar-1"]


def test_paths_are_the_same_however_spelled(tmp_path, monkeypatch):
    (tmp_path / "run").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "run")
    monkeypatch.chdir(tmp_path)
    assert same_path("run", str(tmp_path / "run")) and same_path("./link/", "run/../run")
    assert not same_path("run", str(tmp_path))


def test_latest_and_best_checkpoints_of_a_run(tmp_path):
    old_run(tmp_path, epochs=(2, 9, 10))
    assert find_checkpoint(str(tmp_path), "latest").endswith("model.pth.tar-10")
    assert find_checkpoint(str(tmp_path), "best").endswith("model.pth.tar-9")  # mAP 0.9, against 0.2 and 0.10
    assert read_metrics(str(tmp_path / "metrics.csv"))[9] == {"loss": 1.0, "mAP": 0.9}


def test_the_engine_uses_inference_and_nothing_of_inference_the_run_folder_or_evaluation_uses_the_engine():
    package_dir = os.path.dirname(aitl_reid.__file__)
    shared = [(os.path.join(package_dir, f"{name}.py"), "aitl_reid") for name in ("run_folder", "evaluation")]
    imports = {os.path.relpath(path, package_dir): _imported_modules(path, package)
               for path, package in [*_package_files("inference"), *shared]}
    assert "inference/encoder.py" in imports
    back = {path: sorted(m for m in found if m.startswith("aitl_reid.engine")) for path, found in imports.items()}
    assert {path: found for path, found in back.items() if found} == {}
    assert not [m for path in ("run_folder.py", "evaluation.py") for m in imports[path]
                if m.startswith("aitl_reid.inference")]


SPELLINGS = {"relative": "run/model/model.pth.tar-1", "through a link": "link/model/model.pth.tar-1"}


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_log_of_a_run_resumed_by_another_spelling_of_its_path_continues_after_its_checkpoint(
        tmp_path, monkeypatch, spelling):
    base = os.path.realpath(tmp_path)
    save_dir = os.path.join(base, "run")
    os.makedirs(save_dir)
    os.symlink(save_dir, os.path.join(base, "link"))
    kept = f"Show configuration\nepoch 1: loss 1.0\nCheckpoint saved to {save_dir}/model/model.pth.tar-1\n"
    with open(os.path.join(save_dir, "log.txt"), "w") as handle:
        handle.write(kept + "epoch: [2/2][1/4] a line of the epoch that was lost\n")
    monkeypatch.chdir(base)
    cfg = load_config(opts=["data.save_dir", save_dir])
    with run_log(cfg, (SPELLINGS[spelling], {})) as begin_writing:
        begin_writing()
        print("Resumed from the checkpoint")
    with open(os.path.join(save_dir, "log.txt")) as handle:
        assert handle.read() == kept + "Resumed from the checkpoint\n"


def test_a_new_run_appends_to_a_log_already_in_its_folder(tmp_path):
    (tmp_path / "log.txt").write_text("an earlier attempt that stopped before its first epoch\n")
    with run_log(load_config(opts=["data.save_dir", str(tmp_path)]), None) as begin_writing:
        print("Show configuration")
        begin_writing()
        print("epoch 1")
    assert (tmp_path / "log.txt").read_text() == ("an earlier attempt that stopped before its first epoch\n"
                                                  "Show configuration\nepoch 1\n")


def test_a_run_that_stops_before_writing_its_records_leaves_no_log(tmp_path):
    with run_log(load_config(opts=["data.save_dir", str(tmp_path)]), None):
        print("Show configuration")
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ the trainer on a finished run
@pytest.fixture(scope="module")
def finished_run(tiny_synthetic_root, tmp_path_factory):
    """A run of two one-iteration epochs, evaluated after the last one only."""
    save_dir = tmp_path_factory.mktemp("finished")
    args = tiny_run_args(tiny_synthetic_root, save_dir, "train.max_epoch", MAX_EPOCH, "train.max_iters_per_epoch", "1")
    assert load_main()(args) == 0
    return save_dir


def test_a_job_requeued_after_its_last_epoch_exits_0_and_writes_nothing(finished_run, tiny_synthetic_root, capsys):
    before = snapshot(finished_run)
    args = tiny_run_args(tiny_synthetic_root, finished_run, "train.max_epoch", MAX_EPOCH, "train.max_iters_per_epoch",
                         "1", "model.resume", "auto")
    assert load_main()(args) == 0
    assert snapshot(finished_run) == before
    out = capsys.readouterr().out
    assert f"model.pth.tar-{MAX_EPOCH} holds epoch {MAX_EPOCH} and train.max_epoch is {MAX_EPOCH}: the run is finished" in out


def test_a_new_run_in_the_folder_of_another_is_refused_with_status_2(finished_run, tiny_synthetic_root, capsys):
    before = snapshot(finished_run)
    args = tiny_run_args(tiny_synthetic_root, finished_run, "train.max_epoch", MAX_EPOCH, "train.max_iters_per_epoch", "1")
    assert load_main()(args) == 2
    err = capsys.readouterr().err
    assert f"data.save_dir '{finished_run}' holds another run (checkpoints of epochs 1, 2" in err
    assert "model.resume auto" in err and "train.existing_run move_aside" in err and "Traceback" not in err
    assert snapshot(finished_run) == before


def test_evaluate_only_in_the_training_folder_leaves_the_training_records(finished_run, tiny_synthetic_root):
    before = snapshot(finished_run)
    weights = finished_run / "model" / f"model.pth.tar-{MAX_EPOCH}"
    args = tiny_run_args(tiny_synthetic_root, finished_run, "test.evaluate", "True", "model.load_weights", str(weights))
    assert load_main()(args) == 0
    after = snapshot(finished_run)
    assert {name: after.get(name) for name in before} == before  # metrics.csv, config.yaml, checkpoints, events, log
    assert set(after) - set(before) == {"test.log", f"evaluation_model.pth.tar-{MAX_EPOCH}.json"}
    results = json.loads((finished_run / f"evaluation_model.pth.tar-{MAX_EPOCH}.json").read_text())
    assert results["weights"] == str(weights)
    trained = read_rows(finished_run)[-1]  # the same weights, evaluated at the end of training
    assert results["targets"]["mars_attr"]["mAP"] == pytest.approx(float(trained["mAP"]), rel=1e-4)
    assert results["targets"]["mars_attr"]["attr_acc"] == pytest.approx(float(trained["attr_acc"]), rel=1e-4)
    assert "attr/mean_accuracy" in results["targets"]["mars_attr"]["attributes"]
    assert f"query + gallery, model.pth.tar-{MAX_EPOCH}) **" in (finished_run / "test.log").read_text()


# ------------------------------------------------------------------ moving an earlier run aside
def test_a_run_moving_an_earlier_run_aside_keeps_both_and_its_own_checkpoints(tiny_synthetic_root, tmp_path, capsys):
    folder = old_run(tmp_path / "run")
    before = snapshot(folder)
    args = tiny_run_args(tiny_synthetic_root, folder, "train.max_epoch", "1", "train.max_iters_per_epoch", "1",
                         "train.keep_checkpoints", "3", "train.existing_run", "move_aside")
    assert load_main()(args) == 0
    (moved,) = [name for name in os.listdir(folder) if name.startswith("previous-run-")]
    assert snapshot(folder / moved) == before
    assert sorted(os.listdir(folder / "model")) == ["model.pth.tar-1"]
    assert [int(row["epoch"]) for row in read_rows(folder)] == [1]
    out = capsys.readouterr().out
    assert f"was moved to '{folder / moved}'" in out
    assert re.search(r"train.existing_run move_aside: .*was moved", (folder / "log.txt").read_text())
