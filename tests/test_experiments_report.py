"""RESULTS.md quotes no absolute path: a record must read the same whichever machine wrote it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from aitl_reid.experiments import summarise_variants
from aitl_reid.experiments.report import OUT, ReportContext, portable_command, portable_path, render_results
from aitl_reid.experiments.summary import RunResult

REPO = Path(__file__).resolve().parents[1]
ABSOLUTE = re.compile(r"(^|[\s`(=])/\w")  # a path rooted at / after a space, quote, bracket or '='


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Commands run from the repository root, as the documented ones do."""
    monkeypatch.chdir(REPO)
    return REPO


def test_absolute_paths_become_repository_relative_or_relative_to_the_written_file(in_repo, tmp_path):
    out_dir = tmp_path / "report"
    assert portable_path(str(in_repo / "datasets" / "synth" / "mars"), str(out_dir)) == "datasets/synth/mars"
    assert portable_path(str(in_repo.parent / "shared" / "paper"), str(out_dir)) == "../shared/paper"
    assert portable_path(str(out_dir / "data" / "mars"), str(out_dir)) == f"{OUT}/data/mars"
    assert portable_path(str(out_dir), str(out_dir)) == OUT
    assert portable_path(str(tmp_path / "runs"), str(out_dir)) == f"{OUT}/../runs"
    assert portable_path("configs/x.yaml", str(out_dir)) == "configs/x.yaml"  # relative: as typed


def test_command_paths_are_made_portable_in_either_option_form(in_repo, tmp_path):
    command = f"python tools/benchmark_synthetic.py --quick --out-dir {tmp_path}/out --results={tmp_path}/R.md train.lr 0.1"
    assert portable_command(command, str(tmp_path)) == (
        "python tools/benchmark_synthetic.py --quick --out-dir OUT/out --results=OUT/R.md train.lr 0.1")


def test_rendered_results_hold_no_absolute_path(in_repo, tmp_path):
    out = tmp_path / "out"
    result = RunResult("Baseline", 1, 2, 0.6, 0.5, 0.02, None, 5.0, str(out / "runs" / "metrics.csv"))
    context = ReportContext(f"python tools/benchmark_synthetic.py --quick --out-dir {out} --results {tmp_path}/R.md",
                            {"root": str(out / "data" / "mars"), "synthetic.num_ids": 12},
                            {"data.height": 64, "model.name": "tp_resnet18"}, str(tmp_path / "curves.png"), 5.0)
    text = render_results(summarise_variants([result], ["Baseline"]), [result], context, str(tmp_path / "R.md"),
                          {"CPU": "test", "OS": "Linux"})
    assert str(tmp_path) not in text
    assert [line for line in text.splitlines() if ABSOLUTE.search(line)] == []
    assert "--quick --out-dir OUT/out --results OUT/R.md" in text
    assert "- root: `OUT/out/data/mars`" in text and "(curves.png)" in text
    assert "`../shared/paper/NOTES.md`" in text
