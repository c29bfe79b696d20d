"""tools/main.py trains the synthetic dataset end to end on CPU: the attribute loss goes down, the CSV is written."""
import csv
from pathlib import Path

import pytest

from synthetic_trees import tiny_synthetic_tree
from tool_modules import load_tool

REPO = Path(__file__).resolve().parents[1]


def load_main():
    return load_tool("main").main


@pytest.fixture(scope="module")
def tiny_synthetic_root(tmp_path_factory):
    return tiny_synthetic_tree(tmp_path_factory.mktemp("synthetic"))


def tiny_run_args(root, save_dir, *extra):
    return ["--config-file", str(REPO / "configs" / "asta_aitl_synthetic.yaml"),
            "data.root", str(root), "data.save_dir", str(save_dir), "data.height", "64", "data.width", "32",
            "data.workers", "0", "train.batch_size", "8", "sampler.num_instances", "4", "train.warmup_epochs", "0",
            "train.lr", "0.001", "train.print_freq", "100", "test.batch_size", "32", *extra]


@pytest.fixture(scope="module")
def trained_run(tiny_synthetic_root, tmp_path_factory):
    """Five epochs of the demo config on the tiny tree, evaluated after epochs 2, 4 and 5."""
    save_dir = tmp_path_factory.mktemp("run")
    code = load_main()(tiny_run_args(tiny_synthetic_root, save_dir, "train.max_epoch", "5", "test.eval_freq", "2"))
    return code, save_dir


def read_rows(save_dir):
    with open(save_dir / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_main_trains_attribute_loss_goes_down_and_metrics_csv_has_dvdp_map_and_diagnostics(trained_run):
    code, save_dir = trained_run
    assert code == 0
    rows = read_rows(save_dir)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5]
    # the far-near gap of cosine distances (in [0, 2]) among positives: 0 or a repeated value would be a stuck metric
    dvdp = [float(r["dvdp"]) for r in rows]
    assert all(0 < value < 2 for value in dvdp) and len(set(dvdp)) == len(dvdp)
    assert {"loss_x", "loss_t", "loss_aitl_id_relevant", "loss_aitl_id_irrelevant", "loss_attr"} <= set(rows[0])
    diagnostics = {"loss_attr_id_relevant", "prior_attr_id_relevant", "prior_attr_id_irrelevant", "attr_train_acc_id_relevant",
                   "attn_alive_id_relevant", "attn_alive_id_irrelevant"}
    assert diagnostics <= set(rows[0])
    assert {"attr_acc", "attr_acc_majority", "attr_f1", "attr_f1_majority"} <= {k for k, v in rows[-1].items() if v}
    assert "maj%" in (save_dir / "attributes_mars_attr.txt").read_text()
    # from the label prior (where the attribute biases start) the attribute loss falls as the streams learn
    assert float(rows[-1]["loss_attr"]) < float(rows[0]["loss_attr"])
    assert [bool(r["mAP"]) for r in rows] == [False, True, False, True, True]
    assert (save_dir / "log.txt").read_text().count("Attribute recognition") == 3
    assert (save_dir / "model" / "model.pth.tar-5").is_file()


@pytest.mark.slow
def test_evaluate_only_and_resume_from_a_checkpoint(trained_run, tiny_synthetic_root, tmp_path):
    main = load_main()
    checkpoint = trained_run[1] / "model" / "model.pth.tar-4"
    assert main(tiny_run_args(tiny_synthetic_root, tmp_path / "eval", "test.evaluate", "True",
                              "model.load_weights", str(checkpoint))) == 0
    assert "mAP" in (tmp_path / "eval" / "test.log").read_text()
    resumed = tmp_path / "resumed"
    assert main(tiny_run_args(tiny_synthetic_root, resumed, "train.max_epoch", "5", "model.resume", str(checkpoint))) == 0
    assert [int(r["epoch"]) for r in read_rows(resumed)] == [5]
