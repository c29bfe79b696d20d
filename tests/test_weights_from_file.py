"""A model whose weights come from a file is built without ImageNet weights: with ``model.pretrained True`` (base.yaml's
setting) and no network, evaluating a checkpoint works, and downloads nothing."""
import json
import os
from pathlib import Path

import pytest
import torch

from aitl_reid.engine import atomic_torch_save
from aitl_reid.launch import load_config
from aitl_reid.models import build_model_from_config
from aitl_reid.schema import MARS_V2
from aitl_reid.train import main

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.filterwarnings("ignore:gallery has only")
def test_evaluate_only_from_a_checkpoint_needs_no_imagenet_weights_offline(tiny_mars_root, tmp_path):
    """conftest leaves $TORCH_HOME empty and points the weights mirror at a closed port: fetching ImageNet weights for
    resnet18 would end the run with status 2 (tests/test_pretrained_download.py)."""
    args = ["--config-file", str(REPO / "configs" / "asta_aitl_synthetic.yaml"), "model.pretrained", "True",
            "data.root", str(tiny_mars_root), "data.save_dir", str(tmp_path / "eval"), "data.height", "32",
            "data.width", "16", "data.workers", "0", "test.batch_size", "8", "test.evaluate", "True"]
    cfg = load_config(args[1], args[2:])
    torch.manual_seed(0)
    trained = build_model_from_config(cfg, 6, MARS_V2, pretrained=False)  # the tiny tree's 6 training identities
    checkpoint = tmp_path / "model.pth.tar-3"
    atomic_torch_save({"state_dict": trained.state_dict(), "epoch": 3}, str(checkpoint))
    assert main(args + ["model.load_weights", str(checkpoint)]) == 0
    results = json.loads((tmp_path / "eval" / "evaluation_model.pth.tar-3.json").read_text())
    assert results["weights"] == str(checkpoint) and 0 < results["targets"]["mars_attr"]["mAP"] <= 1
    assert not list(Path(os.environ["TORCH_HOME"]).rglob("*.pth"))
