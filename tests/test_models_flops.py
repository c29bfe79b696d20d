"""FLOPs and parameter counts, and the tools/count_flops.py command."""
import runpy
import sys
from pathlib import Path

import pytest

from aitl_reid.models import build_model, count_flops, count_parameters

TOOL = Path(__file__).resolve().parents[1] / "tools" / "count_flops.py"


def test_flops_are_positive_and_asta_costs_more_than_temporal_pooling():
    asta = count_flops(build_model("asta_resnet18", 5, height=64, width=32), 64, 32, seq_len=2)
    tp = count_flops(build_model("tp_resnet18", 5, height=64, width=32), 64, 32, seq_len=2)
    assert 0 < tp.gflops < asta.gflops
    assert 0 < tp.params < asta.params
    assert asta.gmacs == asta.gflops / 2


def test_temporal_pooling_flops_grow_linearly_with_clip_length():
    model = build_model("tp_resnet18", 5, height=64, width=32)
    two, four = count_flops(model, 64, 32, 2).gflops, count_flops(model, 64, 32, 4).gflops
    assert four == pytest.approx(2 * two, rel=1e-3)


def test_parameter_count_includes_the_classifier():
    small, large = (count_parameters(build_model("tp_resnet18", n, height=64, width=32)) for n in (5, 15))
    assert large - small == 10 * 512


def test_count_flops_tool_prints_one_table_row_per_model(monkeypatch, capsys):
    argv = [str(TOOL), "asta_resnet18", "tp_resnet18", "--height", "64", "--width", "32", "--seq-len", "2", "--stream-width", "64"]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(TOOL), run_name="__main__")
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| asta") or line.startswith("| tp")]
    assert [row.split("|")[1:3] for row in rows] == [[" asta_resnet18 ", " 64 "], [" tp_resnet18 ", " - "]]
