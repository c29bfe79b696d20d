"""The figure tools (tools/visualize_attention.py, plot_curves.py, flops_map.py, visualize_ranks.py)
write readable PNGs from tiny runs, and their building blocks behave as documented."""
import re
from pathlib import Path

import numpy as np
import pytest

from aitl_reid.data import build_datamanager
from aitl_reid.engine import EpochLog
from aitl_reid.launch import load_config, run_cli
from aitl_reid.viz.cli import int_list
from aitl_reid.viz.curves import read_epoch_series
from aitl_reid.viz.flops_map import final_map
from aitl_reid.viz.frames import overlay_heatmap
from tool_modules import load_tool
from aitl_reid.viz.ranks import ranked_rows
from aitl_reid.run_folder import RunError
from aitl_reid.viz.run import default_checkpoint, select_tracklets

REPO = Path(__file__).resolve().parents[1]
SYNTHETIC_CONFIG = str(REPO / "configs" / "asta_aitl_synthetic.yaml")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tool_main(name):
    return load_tool(name).main


def assert_png(path):
    data = Path(path).read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000


def tiny_overrides(root, save_dir, model="asta_resnet18"):
    return ["model.name", model, "data.root", str(root), "data.save_dir", str(save_dir), "data.height", "32",
            "data.width", "16", "data.workers", "0", "video.seq_len", "2", "test.max_clips", "2", "train.batch_size", "8"]


def write_metrics(path, dvdp, maps):
    log = EpochLog(str(path))
    for epoch, value in enumerate(dvdp, start=1):
        log.update(epoch, {"loss": 1.0, "dvdp": value})
    for epoch, value in maps.items():
        log.update(epoch, {"mAP": value, "rank1": value})
    return path


# ------------------------------------------------------------------ the tools on tiny runs
def drawn_tracklets(out):
    """(split position, pid) of each tracklet the attention tool reports having drawn, in order."""
    found = re.findall(r"drawn: query #(\d+)  pid (\d+)", out)
    return [(int(position), int(pid)) for position, pid in found]


def test_visualize_attention_draws_chosen_pids_with_random_weights(tiny_mars_root, tmp_path, capsys):
    out = tmp_path / "attention.png"
    args = ["--config-file", SYNTHETIC_CONFIG, "--random-weights", "--pid", "4,2", "--out", str(out)]
    assert tool_main("visualize_attention")(args + tiny_overrides(tiny_mars_root, tmp_path / "run")) == 0
    assert_png(out)
    drawn = drawn_tracklets(capsys.readouterr().out)
    assert [pid for _, pid in drawn] == [4, 2]
    # each is its pid's first query tracklet
    cfg = load_config(SYNTHETIC_CONFIG, tiny_overrides(tiny_mars_root, tmp_path / "run"))
    tracklets = build_datamanager(cfg, use_gpu=False).test_dataset["mars_attr"]["query"]
    assert drawn == [(next(i for i, t in enumerate(tracklets) if t[1] == pid), pid) for pid in (4, 2)]


def test_visualize_attention_rejects_a_model_without_attribute_streams(tiny_mars_root, tmp_path):
    args = ["--config-file", SYNTHETIC_CONFIG, "--random-weights", "--out", str(tmp_path / "a.png")]
    overrides = tiny_overrides(tiny_mars_root, tmp_path / "run", model="tp_resnet18")
    with pytest.raises(ValueError, match="no attribute streams"):
        tool_main("visualize_attention")(args + overrides)


def test_visualize_ranks_writes_a_grid_with_random_weights(tiny_mars_root, tmp_path):
    args = ["--config-file", SYNTHETIC_CONFIG, "--random-weights", "--topk", "4"]
    assert tool_main("visualize_ranks")(args + tiny_overrides(tiny_mars_root, tmp_path / "run")) == 0
    assert_png(tmp_path / "run" / "ranks.png")


def test_tools_without_a_checkpoint_end_with_a_message_not_a_traceback(tiny_mars_root, tmp_path, capsys):
    args = ["--config-file", SYNTHETIC_CONFIG] + tiny_overrides(tiny_mars_root, tmp_path / "untrained")
    assert run_cli(tool_main("visualize_attention"), args) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_plot_curves_draws_two_runs(tmp_path):
    with_aitl = write_metrics(tmp_path / "a.csv", [0.08, 0.05, 0.03], {3: 0.6})
    without = write_metrics(tmp_path / "b.csv", [0.08, 0.075, 0.075], {3: 0.5})
    out = tmp_path / "curves.png"
    assert tool_main("plot_curves")([f"with AITL={with_aitl}", f"without AITL={without}", "--out", str(out)]) == 0
    assert_png(out)


def test_plot_curves_reads_a_config_as_its_runs_metrics_csv(tmp_path):
    write_metrics(tmp_path / "run" / "metrics.csv", [0.09, 0.07], {2: 0.4})
    config = tmp_path / "run.yaml"
    config.write_text(f"_BASE_: {SYNTHETIC_CONFIG}\ndata:\n  save_dir: {tmp_path / 'run'}\n")
    assert tool_main("plot_curves")([f"demo={config}"]) == 0
    assert_png(tmp_path / "run" / "dvdp_map.png")


def test_plot_curves_reads_a_packaged_config_name_as_its_runs_metrics_csv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the demo config's data.save_dir, log/demo, is relative to the current folder
    write_metrics(tmp_path / "log" / "demo" / "metrics.csv", [0.09, 0.07], {2: 0.4})
    assert tool_main("plot_curves")(["demo=demo", "--out", str(tmp_path / "curves.png")]) == 0
    assert_png(tmp_path / "curves.png")


def test_plot_curves_rejects_a_run_without_dvdp(tmp_path):
    empty = write_metrics(tmp_path / "a.csv", [], {1: 0.5})
    with pytest.raises(ValueError, match="no 'dvdp' values"):
        tool_main("plot_curves")([f"run={empty}", "--out", str(tmp_path / "c.png")])


def test_flops_map_places_runs_from_their_configs_and_metrics(tmp_path, capsys):
    metrics = write_metrics(tmp_path / "m.csv", [0.1, 0.1], {1: 0.2, 2: 0.25})
    out = tmp_path / "flops.png"
    args = ["--run", "demo", SYNTHETIC_CONFIG, str(metrics), "--out", str(out)]
    assert tool_main("flops_map")(args) == 0
    assert_png(out)
    assert "mAP 25.0 %" in capsys.readouterr().out


@pytest.mark.slow
def test_tools_work_on_a_trained_runs_outputs(tiny_mars_root, tmp_path):
    """The demo's path: train, then draw from the run's metrics.csv and latest checkpoint."""
    run = tmp_path / "run"
    overrides = tiny_overrides(tiny_mars_root, run) + ["train.max_epoch", "2", "train.max_iters_per_epoch", "2",
                                                       "train.print_freq", "100", "test.batch_size", "8"]
    assert tool_main("main")(["--config-file", SYNTHETIC_CONFIG] + overrides) == 0
    assert tool_main("plot_curves")([f"ASTA + AITL={run / 'metrics.csv'}"]) == 0
    assert tool_main("visualize_attention")(["--config-file", SYNTHETIC_CONFIG] + overrides) == 0
    assert tool_main("flops_map")(["--run", "demo", SYNTHETIC_CONFIG, str(run / "metrics.csv"), "--out",
                                   str(run / "flops.png")]) == 0
    for name in ("dvdp_map.png", "attention.png", "flops.png"):
        assert_png(run / name)


# ------------------------------------------------------------------ building blocks
def test_final_map_is_the_last_evaluated_epoch_in_percent(tmp_path):
    metrics = write_metrics(tmp_path / "m.csv", [0.1] * 5, {2: 0.3, 4: 0.45})
    assert final_map(str(metrics)) == pytest.approx(45.0)
    assert read_epoch_series(str(metrics), "mAP") == ([2, 4], [0.3, 0.45])


def test_default_checkpoint_is_the_latest_by_epoch_number(tmp_path):
    for epoch in (2, 9, 10):
        (tmp_path / "model").mkdir(exist_ok=True)
        (tmp_path / "model" / f"model.pth.tar-{epoch}").write_bytes(b"")
    assert default_checkpoint(str(tmp_path)).endswith("model.pth.tar-10")
    with pytest.raises(RunError, match="no checkpoint .*--random-weights"):
        default_checkpoint(str(tmp_path / "elsewhere"))


def test_select_tracklets_by_index_pid_or_default():
    tracklets = [((), 5, 0), ((), 7, 1), ((), 5, 2), ((), 9, 0)]
    assert select_tracklets(tracklets, indices=[3, 0]) == [3, 0]
    assert select_tracklets(tracklets, pids=[9, 5]) == [3, 0]
    assert select_tracklets(tracklets, count=2) == [0, 1]
    with pytest.raises(ValueError, match="person id"):
        select_tracklets(tracklets, pids=[4])
    with pytest.raises(ValueError, match="out of range"):
        select_tracklets(tracklets, indices=[4])


def test_ranked_rows_skip_same_identity_same_camera_and_sort_by_distance():
    query = [((), 1, 0)]
    gallery = [((), 1, 0), ((), 2, 1), ((), 1, 1), ((), 3, 0)]
    distmat = np.array([[0.0, 0.3, 0.2, 0.1]])
    (row,) = ranked_rows(distmat, query, gallery, [0], topk=2)
    assert [g[1] for g in row.gallery] == [3, 1]
    assert row.distances == [0.1, 0.2]


def test_overlay_heatmap_upsamples_and_blends_half_and_half():
    frame = np.zeros((8, 4, 3), dtype=np.uint8)
    heat = np.array([[0.0], [1.0]])
    out = overlay_heatmap(frame, heat)
    assert out.shape == (8, 4, 3)
    assert out[0, 0, 2] > out[0, 0, 0]  # low attention: blue end of the colormap
    assert out[-1, 0, 0] > out[-1, 0, 2]  # high attention: red end
    assert out.max() <= 128  # half of the colour over a black frame


def test_int_list_parses_comma_separated_ids():
    assert int_list("3,7, 12") == [3, 7, 12]


def test_loss_balance_prints_each_terms_backbone_gradient_for_both_attribute_forms(tiny_mars_root, tmp_path, capsys):
    args = ["--config-file", SYNTHETIC_CONFIG, "--batches", "1", *tiny_overrides(tiny_mars_root, tmp_path / "run")]
    assert tool_main("loss_balance")(args) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("term"))
    assert lines[header].split() == ["term", "bce", "softmax"]
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in lines[header + 1:header + 6]}
    assert set(rows) == {"loss_x", "loss_t", "loss_aitl_id_relevant", "loss_aitl_id_irrelevant", "loss_attr"}
    assert rows["loss_x"][0] == rows["loss_x"][1] > 0  # same seed: same weights and batches for both forms
    assert all(v > 0 for v in rows["loss_attr"])
