"""aitl-reid-convert: a state dict in the released naming becomes a run folder that evaluates, ranks and exports.

The released file is made by the reference of tests/released_reference.py (its parameter names are the
released ones), saved as the released main_baseline.py names its checkpoints.
"""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from aitl_reid import convert, infer
from aitl_reid.inference import load_trained
from aitl_reid.schema import MARS_V2

from inference_data import one_torch_thread  # noqa: F401  (autouse fixture)
from inference_data import write_tracklets
from released_reference import ReleasedVideoModel

HEIGHT, WIDTH, IDENTITIES = 64, 32, 7
SIZE = ["data.height", str(HEIGHT), "data.width", str(WIDTH)]


def released_model(depth: int = 18) -> ReleasedVideoModel:
    torch.manual_seed(3)
    model = ReleasedVideoModel(depth, IDENTITIES, [MARS_V2.total_classes(s) for s in ("id_irrelevant", "id_relevant")],
                               (HEIGHT // 16, WIDTH // 16))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A released checkpoint (DataParallel prefix, as a user's own multi-GPU save has it) and its converted run."""
    root = tmp_path_factory.mktemp("released")
    model = released_model()
    path = root / "rank1_0.512_checkpoint_ep40.pth"
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, path)
    assert convert.main(["--released", str(path), "--out", str(root / "run"), *SIZE]) == 0
    return root, model, path


def test_the_converted_run_gives_the_released_features(released):
    root, model, _ = released
    trained = load_trained(str(root / "run"))
    assert trained.cfg.model.name == "asta_resnet18" and trained.schema.name == "mars_v2"
    assert trained.checkpoint.endswith("model.pth.tar-40")
    clips = torch.randn(3, 4, 3, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        theirs = model(clips)["embedding"]
        ours = trained.model(clips)
    assert (ours - theirs).norm() / theirs.norm() < 1e-4


def test_the_converted_run_ranks_tracklets_with_aitl_reid_infer(released, tmp_path):
    root = released[0]
    write_tracklets(tmp_path / "query", range(4), frames=5, seed=1)
    write_tracklets(tmp_path / "gallery", range(4), frames=7, seed=2)
    assert infer.main(["--run", str(root / "run"), "--out", str(tmp_path / "out"), "--workers", "0", "--backend", "exact",
                       str(tmp_path / "query"), str(tmp_path / "gallery")]) == 0
    with open(tmp_path / "out" / "ranking.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["rank"] == "1"]
    assert len(rows) == 4 and sum(r["gallery"] == r["query"] for r in rows) >= 3  # colours tell the easy identities apart


def test_a_plain_state_dict_converts_too_and_the_epoch_comes_from_the_name(tmp_path):
    path = tmp_path / "rank1_0.3_checkpoint_ep7.pth"
    torch.save(released_model().state_dict(), path)
    assert convert.main(["--released", str(path), "--out", str(tmp_path / "run"), *SIZE]) == 0
    assert (tmp_path / "run" / "model" / "model.pth.tar-7").is_file() and (tmp_path / "run" / "config.yaml").is_file()


def refusal(capsys, *args) -> str:
    assert convert.main(list(args)) == 2
    return capsys.readouterr().err


def test_files_that_are_not_released_state_dicts_are_refused_naming_what_does_not_fit(released, tmp_path, capsys):
    root, model, path = released
    state = model.state_dict()
    extra = tmp_path / "extra.pth"
    torch.save({**state, "center.weight": torch.zeros(2)}, extra)
    assert "'center.weight'" in refusal(capsys, "--released", str(extra), "--out", str(tmp_path / "a"), *SIZE)
    mce = tmp_path / "mce.pth"
    torch.save({**state, "multi_attr_recoger1.attr_recog_modules.0.classifier.weight": torch.zeros(5, 2)}, mce)
    assert "attr_recog_modules" in refusal(capsys, "--released", str(mce), "--out", str(tmp_path / "b"), *SIZE)
    wrapped = tmp_path / "ours.pth"
    torch.save({"state_dict": state, "epoch": 3}, wrapped)
    assert "training checkpoint" in refusal(capsys, "--released", str(wrapped), "--out", str(tmp_path / "c"))
    text = tmp_path / "notes.pth"
    text.write_text("not a torch file")
    assert "notes.pth" in refusal(capsys, "--released", str(text), "--out", str(tmp_path / "d"))
    assert "256 128" in refusal(capsys, "--released", str(path), "--out", str(tmp_path / "e"))  # frame size unset
    assert "holds another run" in refusal(capsys, "--released", str(path), "--out", str(root / "run"), *SIZE)
    assert not any((tmp_path / name).exists() for name in "abcde")


def test_a_missing_tensor_is_named(tmp_path, capsys):
    state = released_model().state_dict()
    del state["multi_attr_recoger2.bn.running_var"]
    path = tmp_path / "cut.pth"
    torch.save(state, path)
    err = refusal(capsys, "--released", str(path), "--out", str(tmp_path / "run"), *SIZE)
    assert "streams.id_relevant.conv.1.running_var" in err and not (tmp_path / "run").exists()
