"""FLOPs and parameter counts, and the tools/count_flops.py command."""
import runpy
import sys
from pathlib import Path

import pytest
import torch

from aitl_reid.models import build_model, count_flops, count_parameters
from aitl_reid.models.backbones import build_backbone

TOOL = Path(__file__).resolve().parents[1] / "tools" / "count_flops.py"


def test_flops_are_positive_and_asta_costs_more_than_temporal_pooling():
    asta = count_flops(build_model("asta_resnet18", 5, pretrained=False, height=64, width=32), 64, 32, seq_len=2)
    tp = count_flops(build_model("tp_resnet18", 5, pretrained=False, height=64, width=32), 64, 32, seq_len=2)
    assert 0 < tp.gflops < asta.gflops
    assert 0 < tp.params < asta.params
    assert asta.gmacs == asta.gflops / 2


# torchvision's published cost of its ImageNet classifiers at 224x224 ("GFLOPS" in its model table, counted as
# multiply-adds), classification layer fc (2048 or 512 inputs x 1000 classes) included.
TORCHVISION_GMACS_224 = {"resnet50": (4.09, 2048), "resnet18": (1.81, 512)}


@pytest.mark.parametrize("name", sorted(TORCHVISION_GMACS_224))
def test_backbone_cost_matches_torchvision_published_figure(name):
    """An absolute reference: the counter's figure for the ResNet backbone with torchvision's strides (last stride 2)
    plus its 1000-class fc layer equals the published one to its two decimals. Built on the meta device: no weights."""
    published, fc_inputs = TORCHVISION_GMACS_224[name]
    with torch.device("meta"):
        backbone = build_backbone(name, 224, 224, last_stride=2)
    cost = count_flops(backbone, 224, 224, seq_len=1)
    assert round(cost.gmacs + fc_inputs * 1000 / 1e9, 2) == published
    assert cost.gflops == pytest.approx(2 * published, abs=0.02)


def test_default_clip_is_four_frames_of_256x128_and_nothing_is_printed(capsys):
    with torch.device("meta"):
        model = build_model("tp_resnet18", 5, pretrained=False, height=256, width=128)
    assert count_flops(model) == count_flops(model, 256, 128, seq_len=4)
    assert count_flops(model).gflops != count_flops(model, 256, 128, seq_len=5).gflops
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("sizes", [(0, 32, 2), (64, 0, 2), (64, 32, 0)])
def test_an_empty_clip_size_is_refused(sizes):
    model = build_model("tp_resnet18", 5, pretrained=False, height=64, width=32)
    with pytest.raises(ValueError, match=r"height, width and seq_len must be positive, got " + ", ".join(map(str, sizes))):
        count_flops(model, *sizes)


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
