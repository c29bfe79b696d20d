"""FLOPs and parameter counts, and the tools/count_flops.py command."""
import runpy
import sys
from pathlib import Path

import pytest

from aitl_reid.models import build_model, count_flops, count_parameters

TOOL = Path(__file__).resolve().parents[1] / "tools" / "count_flops.py"


def test_flops_are_positive_and_asta_costs_more_than_temporal_pooling():
    asta = count_flops(build_model("asta_resnet18", 5, pretrained=False, height=64, width=32), 64, 32, seq_len=2)
    tp = count_flops(build_model("tp_resnet18", 5, pretrained=False, height=64, width=32), 64, 32, seq_len=2)
    assert 0 < tp.gflops < asta.gflops
    assert 0 < tp.params < asta.params
    assert asta.gmacs == asta.gflops / 2


def test_temporal_pooling_flops_grow_linearly_with_clip_length():
    model = build_model("tp_resnet18", 5, pretrained=False, height=64, width=32)
    two, four = count_flops(model, 64, 32, 2).gflops, count_flops(model, 64, 32, 4).gflops
    assert four == pytest.approx(2 * two, rel=1e-3)


def test_parameter_count_includes_the_classifier():
    small, large = (count_parameters(build_model("tp_resnet18", n, pretrained=False, height=64, width=32)) for n in (5, 15))
    assert large - small == 10 * 512


def run_tool(monkeypatch, *args):
    """The tool as a command: its exit status (``sys.exit(main())``)."""
    monkeypatch.setattr(sys, "argv", [str(TOOL), *args])
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(str(TOOL), run_name="__main__")
    return stop.value.code


def table_rows(text):
    return [[cell.strip() for cell in line.split("|")[1:-1]] for line in text.splitlines()
            if line.startswith("| asta") or line.startswith("| tp")]


def test_count_flops_tool_prints_one_table_row_per_model(monkeypatch, capsys):
    args = ["asta_resnet18", "tp_resnet18", "--height", "64", "--width", "32", "--seq-len", "2", "--stream-width", "64"]
    assert run_tool(monkeypatch, *args) == 0
    rows = table_rows(capsys.readouterr().out)
    assert [row[:2] for row in rows] == [["asta_resnet18", "64"], ["tp_resnet18", "-"]]
    tp = count_flops(build_model("tp_resnet18", 625, pretrained=False, height=64, width=32), 64, 32, seq_len=2)
    assert rows[1][2:] == [f"{tp.gflops:.2f}", f"{tp.gmacs:.2f}", f"{tp.params / 1e6:.2f}"]


def test_count_flops_tool_takes_model_and_sizes_from_a_config(monkeypatch, capsys, tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text("model:\n  name: tp_resnet18\ndata:\n  height: 64\n  width: 32\nvideo:\n  seq_len: 2\n")
    assert run_tool(monkeypatch, "--config-file", str(config)) == 0
    out = capsys.readouterr().out
    tp = count_flops(build_model("tp_resnet18", 625, pretrained=False, height=64, width=32), 64, 32, seq_len=2)
    assert "input 64x32, T=2" in out
    assert table_rows(out) == [["tp_resnet18", "-", f"{tp.gflops:.2f}", f"{tp.gmacs:.2f}", f"{tp.params / 1e6:.2f}"]]


def test_count_flops_tool_prints_the_stream_width_a_model_has(monkeypatch, capsys):
    assert run_tool(monkeypatch, "asta_resnet18", "--height", "64", "--width", "32", "--seq-len", "2") == 0
    assert [row[:2] for row in table_rows(capsys.readouterr().out)] == [["asta_resnet18", "512"]]  # ResNet-18's width


def test_count_flops_tool_exits_2_on_an_unknown_model_before_printing_a_table(monkeypatch, capsys):
    assert run_tool(monkeypatch, "asta_resnet18", "vit_tiny", "--height", "64", "--width", "32") == 2
    out, err = capsys.readouterr()
    assert "unknown model 'vit_tiny'" in err
    assert out == ""
