"""The trainer as a user meets it, through both entries (``tools/main.py`` in a checkout and
``python -m aitl_reid.train`` from the installed package): missing data and bad config keys end
cleanly with status 2, and both entries say the same."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aitl_reid.experiments import TABLE1_VARIANTS, AblationPlan

REPO = Path(__file__).resolve().parents[1]
MARS_CONFIG = str(REPO / "configs" / "asta_aitl_mars.yaml")
ENTRIES = {"tools/main.py": [str(REPO / "tools" / "main.py")], "python -m aitl_reid.train": ["-m", "aitl_reid.train"]}


def run_command(command, cwd=REPO, timeout=120):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def run_main(entry, *args, cwd=REPO):
    return run_command([sys.executable, *ENTRIES[entry], *args], cwd=cwd)


def test_missing_mars_exits_2_naming_paths_without_traceback_and_both_entries_print_the_same(tmp_path):
    results = [run_main(entry, "--config-file", MARS_CONFIG, "data.root", str(tmp_path / "nowhere"),
                        "data.save_dir", str(tmp_path / "log")) for entry in ENTRIES]
    assert [(r.returncode, r.stderr) for r in results] == [(2, results[0].stderr)] * 2
    result = results[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert str(tmp_path / "nowhere") in result.stderr
    assert "aitl-reid-check --layout mars" in result.stderr and "aitl-reid-demo" in result.stderr
    assert "datasets/README.md" not in result.stderr and "make demo" not in result.stderr  # not in an installed package
    assert not (tmp_path / "log").exists()  # the run never started: no run folder, no log.txt (issue 27 item 4)


def test_evaluating_without_data_leaves_an_existing_folder_as_it_was(tmp_path, capsys):
    from aitl_reid.train import main

    save_dir = tmp_path / "log" / "asta_aitl_mars"
    save_dir.mkdir(parents=True)
    (save_dir / "log.txt").write_text("the training log\n")
    code = main(["--config-file", MARS_CONFIG, "data.root", str(tmp_path / "nowhere"), "data.save_dir", str(save_dir),
                 "test.evaluate", "True"])
    assert code == 2 and str(tmp_path / "nowhere") in capsys.readouterr().err
    assert os.listdir(save_dir) == ["log.txt"] and (save_dir / "log.txt").read_text() == "the training log\n"


def test_unknown_key_exits_2_with_suggestion(capsys):
    from aitl_reid.train import main

    assert main(["--config-file", MARS_CONFIG, "train.lrr", "0.1"]) == 2  # a status, not an exception
    assert "did you mean 'train.lr'" in capsys.readouterr().err


def test_ablation_runs_the_installed_trainer_outside_the_repository(tmp_path):
    plan = AblationPlan(MARS_CONFIG, ("data.root", str(tmp_path / "nowhere")), TABLE1_VARIANTS[:1], (1,), str(tmp_path / "runs"))
    command = plan.command(TABLE1_VARIANTS[0], 1)
    assert command[1:3] == ["-m", "aitl_reid.train"] and not any("tools" in part for part in command)
    result = run_command(command, cwd=tmp_path)  # no tools/ here: the package alone must run it
    assert result.returncode == 2, result.stderr
    assert str(tmp_path / "nowhere") in result.stderr and "Traceback" not in result.stderr


def test_installed_console_script_is_the_trainer():
    from importlib.metadata import entry_points

    import aitl_reid.train

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "aitl-reid-train"]
    assert script.load() is aitl_reid.train.command  # the trainer's main, ended by aitl_reid.process_exit
    assert aitl_reid.train.command.__doc__ == aitl_reid.train.main.__doc__


def test_a_finished_run_of_the_old_script_entry_is_reused(tmp_path):
    from aitl_reid.experiments.ablation import train_once

    args = ["--config-file", MARS_CONFIG, "train.seed", "1"]
    (tmp_path / "run.json").write_text(json.dumps({"command": ["/usr/bin/python3", "/repo/tools/main.py", *args],
                                                   "returncode": 0, "seconds": 12.0}))
    record = train_once([sys.executable, "-m", "aitl_reid.train", *args], str(tmp_path), reuse=True)
    assert record.reused and record.seconds == 12.0
