"""Local pretrained weights: torchvision and torchreid formats, reports and errors (downloads: test_pretrained_download.py)."""
import numpy as np
import pytest
import torch
import torchvision

from aitl_reid.models import PRETRAINED_DIR_ENV, PretrainedWeightsNotFound, build_backbone, load_weights
from aitl_reid.models.asta import asta_resnet18
from aitl_reid.models.weights_download import MIRROR_ENV, fetch_imagenet_weights


@pytest.fixture
def torchvision_resnet18(tmp_path):
    """A randomly initialised torchvision ResNet-18 saved as its plain state_dict (torchvision's format)."""
    torch.manual_seed(0)
    state = torchvision.models.resnet18(weights=None).state_dict()
    path = tmp_path / "resnet18.pth"
    torch.save(state, path)
    return path, state


def test_torchvision_file_loads_every_backbone_tensor_and_reports_the_fc_head(torchvision_resnet18):
    path, state = torchvision_resnet18
    backbone = build_backbone("resnet18", 64, 32)
    report = load_weights(backbone.net, str(path))
    assert report.missing == []
    assert sorted(report.unexpected) == ["fc.bias", "fc.weight"]
    assert torch.equal(backbone.net.layer4[1].conv2.weight, state["layer4.1.conv2.weight"])


def test_pretrained_model_prints_the_load_report(torchvision_resnet18, capsys):
    path, state = torchvision_resnet18
    model = asta_resnet18(5, pretrained=True, pretrained_path=str(path), height=64, width=32)
    assert torch.equal(model.backbone.net.conv1.weight, state["conv1.weight"])
    printed = capsys.readouterr().out
    assert "backbone resnet18: loaded" in printed and "unexpected (ignored): 2: fc.weight, fc.bias" in printed


def test_torchreid_checkpoint_with_module_prefix_and_numpy_metrics_loads(tmp_path, torchvision_resnet18):
    _, state = torchvision_resnet18
    checkpoint = {"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3, "rank1": np.float64(0.5)}
    path = tmp_path / "model.pth.tar-3"
    torch.save(checkpoint, path)
    backbone = build_backbone("resnet18", 64, 32)
    report = load_weights(backbone.net, str(path))
    assert report.missing == [] and torch.equal(backbone.net.bn1.weight, state["bn1.weight"])


def test_weights_are_found_in_the_environment_folder(tmp_path, torchvision_resnet18, monkeypatch):
    monkeypatch.setenv(PRETRAINED_DIR_ENV, str(tmp_path))
    backbone = build_backbone("resnet18", 64, 32, pretrained=True)
    assert torch.equal(backbone.net.conv1.weight, torchvision_resnet18[1]["conv1.weight"])


def test_a_backbone_without_published_weights_explains_how_to_provide_them():
    with pytest.raises(PretrainedWeightsNotFound, match=rf"'mudeep'(.|\n)*never downloads(.|\n)*model.pretrained_path(.|\n)*{PRETRAINED_DIR_ENV}"):
        fetch_imagenet_weights("mudeep")


def test_a_missing_file_in_the_environment_folder_is_an_error_not_a_download(tmp_path, monkeypatch):
    monkeypatch.setenv(PRETRAINED_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(MIRROR_ENV, "http://127.0.0.1:1")  # were it to download, it would stay on this machine
    with pytest.raises(PretrainedWeightsNotFound, match=rf"{tmp_path / 'resnet18.pth'}"):
        build_backbone("resnet18", 64, 32, pretrained=True)


def test_missing_weights_file_is_named_in_the_error(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(PretrainedWeightsNotFound, match="nope.pth"):
        build_backbone("resnet18", 64, 32, pretrained=True, pretrained_path=str(missing))


def test_weights_of_another_architecture_are_rejected(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(ValueError, match="no tensor in .*other.pth matches.*encoder.weight"):
        build_backbone("resnet18", 64, 32, pretrained=True, pretrained_path=str(path))


def test_unreadable_weights_file_is_reported(tmp_path):
    path = tmp_path / "broken.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read .*broken.pth"):
        build_backbone("resnet18", 64, 32, pretrained=True, pretrained_path=str(path))
