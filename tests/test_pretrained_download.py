"""ImageNet weights on demand: download into torch.hub's cache, hash check, cache reuse, offline message.

Every file is served by an HTTP server on 127.0.0.1 (tests/weights_server.py); no test reaches beyond this machine.
"""
import os
from pathlib import Path

import pytest
import torch
import torchvision

from aitl_reid import _torchreid
from aitl_reid.models import SPATIAL_BACKBONES, build_backbone, load_weights
from aitl_reid.models.weights_download import (
    MIRROR_ENV, TORCHVISION_ARCHITECTURES, WeightsDownloadError, WeightsSource, fetch, weights_source,
)
from weights_server import cache, cache_files, save_with_sha256_name, served, serving, stopped_server_address  # noqa: F401

REPO = Path(__file__).resolve().parents[1]


def test_torchvision_backbones_use_torchvisions_file_names_in_the_hub_cache(cache):
    resnet50 = weights_source("resnet50")
    assert resnet50 == WeightsSource("https://download.pytorch.org/models/resnet50-0676ba61.pth",
                                     "resnet50-0676ba61.pth", hash_prefix="0676ba61")
    assert resnet50.cache_path == str(cache / "resnet50-0676ba61.pth")
    assert weights_source("resnet50_fc512") == resnet50  # torchreid starts it from ResNet-50's file
    assert weights_source("shufflenet_v2_x1_0").file_name == "shufflenetv2_x1-5666bf0f80.pth"


def test_torchreid_only_backbones_use_torchreids_addresses(cache):
    assert weights_source("osnet_x1_0") == WeightsSource(
        "https://drive.google.com/uc?id=1LaG1EJpHrxdAxKnSCJ_i0u-nbxSAeiFY", "osnet_x1_0_imagenet.pth", via_gdown=True)
    assert weights_source("osnet_ain_x0_25").url == "https://drive.google.com/uc?id=1SxQt2AvmEcgWNhaRb2xC4rP6ZwVDP0Wt"
    assert weights_source("se_resnet50_fc512") == WeightsSource(
        "http://data.lip6.fr/cadene/pretrainedmodels/se_resnet50-ce0d4300.pth", "se_resnet50-ce0d4300.pth")
    assert weights_source("xception").file_name == "xception-43020ad28.pth"


def test_only_backbones_nobody_publishes_weights_for_have_no_source():
    assert [name for name in SPATIAL_BACKBONES if weights_source(name) is None] == [
        "mobilenetv2_x1_0", "mobilenetv2_x1_4", "mudeep"]


@pytest.mark.parametrize("name", ["resnet18", "shufflenet_v2_x1_5"])
def test_the_torchvision_file_fills_every_backbone_tensor(name, tmp_path):
    path = tmp_path / "tv.pth"
    torch.save(torchvision.models.get_model(TORCHVISION_ARCHITECTURES[name]).state_dict(), path)
    assert load_weights(build_backbone(name, 64, 32).net, str(path)).missing == []


def test_download_lands_in_the_hub_cache_hash_checked_and_is_reused_offline(cache, served):
    torch.manual_seed(0)
    file, prefix = save_with_sha256_name(torchvision.models.resnet18().state_dict(), served, "resnet18")
    with serving(served) as address:
        source = WeightsSource(f"{address}/{file.name}", file.name, hash_prefix=prefix)
        assert fetch(source) == str(cache / file.name)
    assert cache_files(cache) == [file.name] and (cache / file.name).read_bytes() == file.read_bytes()
    assert fetch(source) == str(cache / file.name)  # the server has stopped: the cached file is used


def test_hash_mismatch_is_refused_and_leaves_nothing(cache, served, monkeypatch):
    torch.save(torchvision.models.resnet18().state_dict(), served / "resnet18-f37072fd.pth")  # not torchvision's file
    with serving(served) as address:
        monkeypatch.setenv(MIRROR_ENV, address)
        with pytest.raises(WeightsDownloadError, match="sha256 does not match"):
            build_backbone("resnet18", 64, 32, pretrained=True)
    assert cache_files(cache) == []


def test_offline_the_message_names_the_address_the_cache_path_and_pretrained_path(cache, tmp_path, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, stopped_server_address(tmp_path))
    with pytest.raises(WeightsDownloadError) as raised:
        build_backbone("resnet18", 64, 32, pretrained=True)
    message = str(raised.value)
    assert f"{os.environ[MIRROR_ENV]}/resnet18-f37072fd.pth" in message and "Connection refused" in message
    assert f"by hand (it is then used without any network):\n  {cache / 'resnet18-f37072fd.pth'}\n" in message
    assert "model.pretrained_path" in message
    assert cache_files(cache) == []


def test_torchreid_only_weights_come_through_gdown_and_are_reused_offline(cache, served, monkeypatch):
    torch.manual_seed(0)
    state = _torchreid.model_factory()["osnet_x0_25"](num_classes=1, pretrained=False).state_dict()
    torch.save(state, served / "osnet_x0_25.pth")
    urls = _torchreid.models.osnet.pretrained_urls
    with serving(served) as address:
        monkeypatch.setitem(urls, "osnet_x0_25", f"{address}/osnet_x0_25.pth")
        downloaded = build_backbone("osnet_x0_25", 64, 32, pretrained=True)
    assert cache_files(cache) == ["osnet_x0_25_imagenet.pth"]  # torchreid's file name
    reused = build_backbone("osnet_x0_25", 64, 32, pretrained=True)  # the server has stopped
    for backbone in (downloaded, reused):
        assert torch.equal(backbone.net.conv1.conv.weight, state["conv1.conv.weight"])


def test_a_corrupt_download_is_removed_and_reported(cache, served, monkeypatch):
    (served / "page.html").write_text("<html>Google Drive - quota exceeded</html>")
    with serving(served) as address:
        monkeypatch.setitem(_torchreid.models.osnet.pretrained_urls, "osnet_x0_25", f"{address}/page.html")
        with pytest.raises(WeightsDownloadError, match=rf"{address}/page.html: what it sent is not a torch weights file"):
            build_backbone("osnet_x0_25", 64, 32, pretrained=True)
    assert cache_files(cache) == []


def test_the_trainer_offline_exits_2_with_the_message_and_no_traceback(cache, tmp_path, tiny_mars_root, monkeypatch,
                                                                       capsys):
    """The trainer's entry point in this process: a status, not an exception (which would be a traceback)."""
    from aitl_reid.train import main

    mirror = stopped_server_address(tmp_path)
    monkeypatch.setenv(MIRROR_ENV, mirror)
    monkeypatch.chdir(tmp_path)
    status = main(["--config-file", str(REPO / "configs" / "asta_aitl_synthetic.yaml"), "model.pretrained", "True",
                   "data.root", str(tiny_mars_root), "data.save_dir", str(tmp_path / "log"), "data.height", "64",
                   "data.width", "32", "data.workers", "0"])
    result = capsys.readouterr()
    assert status == 2, result.err
    assert f"error: cannot download the weights file resnet18-f37072fd.pth from {mirror}/resnet18-f37072fd.pth" in result.err
    assert str(cache / "resnet18-f37072fd.pth") in result.err and "model.pretrained_path" in result.err
    assert cache_files(cache) == []
