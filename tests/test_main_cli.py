"""tools/main.py as a user meets it: missing data and bad config keys end cleanly with status 2."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAIN = REPO / "tools" / "main.py"


def run_main(*args, cwd=REPO, timeout=120):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, str(MAIN), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_missing_mars_exits_2_naming_paths_without_traceback(tmp_path):
    result = run_main("--config-file", str(REPO / "configs" / "asta_aitl_mars.yaml"),
                      "data.root", str(tmp_path / "nowhere"), "data.save_dir", str(tmp_path / "log"))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert str(tmp_path / "nowhere") in result.stderr
    assert "datasets/README.md" in result.stderr and "synthetic" in result.stderr


def test_unknown_key_exits_2_with_suggestion(tmp_path):
    result = run_main("--config-file", str(REPO / "configs" / "asta_aitl_mars.yaml"), "train.lrr", "0.1")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "did you mean 'train.lr'" in result.stderr
