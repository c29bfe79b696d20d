"""Building torchreid backbones as per-frame feature extractors."""
import pytest
import torch

from aitl_reid import _torchreid
from aitl_reid.models import SPATIAL_BACKBONES, build_backbone
from aitl_reid.models.backbones import set_last_stride


def test_resnet50_gives_2048x16x8_maps_at_256x128_with_last_stride_one():
    backbone = build_backbone("resnet50", 256, 128)
    assert (backbone.out_channels, backbone.map_size) == (2048, (16, 8))


def test_last_stride_two_halves_the_map_size():
    assert build_backbone("resnet18", 64, 32, last_stride=1).map_size == (4, 2)
    assert build_backbone("resnet18", 64, 32, last_stride=2).map_size == (2, 1)


def test_osnet_keeps_its_own_sixteenth_resolution_and_refuses_last_stride_two():
    assert build_backbone("osnet_x1_0", 64, 32).map_size == (4, 2)
    net = _torchreid.model_factory()["osnet_x0_25"](num_classes=1, pretrained=False)
    with pytest.raises(ValueError, match="needs a ResNet-style layer4"):
        set_last_stride(net, 2, "osnet_x0_25")


def test_frame_backbone_maps_every_frame_of_every_clip():
    backbone = build_backbone("resnet18", 64, 32).eval()
    clips = torch.randn(2, 3, 3, 64, 32)
    with torch.no_grad():
        maps = backbone(clips)
        single = backbone.net.featuremaps(clips[1, 2:3])
    assert maps.shape == (2, 3, 512, 4, 2)
    assert torch.allclose(maps[1, 2], single[0], atol=1e-5)


def test_classification_heads_are_removed_from_the_backbone():
    backbone = build_backbone("osnet_x1_0", 64, 32)
    assert backbone.net.classifier is None and backbone.net.fc is None


def test_backbone_without_featuremaps_is_rejected_with_the_working_list():
    with pytest.raises(ValueError, match=r"'densenet121'.*no featuremaps\(\).*these work: resnet18.*osnet_x1_0"):
        build_backbone("densenet121", 64, 32)


@pytest.mark.parametrize("name, reason", [("no_such_net", "torchreid has no model"), ("asta_resnet18", "aitl_reid model")])
def test_unknown_or_plugin_names_are_rejected_as_backbones(name, reason):
    with pytest.raises(ValueError, match=reason):
        build_backbone(name, 64, 32)


def test_clips_must_be_five_dimensional():
    backbone = build_backbone("resnet18", 64, 32)
    with pytest.raises(ValueError, match=r"expected clips \[B, T, C, H, W\]"):
        backbone(torch.randn(2, 3, 64, 32))


def test_every_listed_spatial_backbone_is_a_torchreid_model():
    factory = _torchreid.model_factory()
    assert [n for n in SPATIAL_BACKBONES if n not in factory] == []


def test_a_torchreid_model_whose_featuremaps_return_a_tuple_is_rejected():
    """resnet50mid has featuremaps(), but it returns a tuple: no single map for the attention to weigh."""
    with pytest.raises(ValueError, match=r"'resnet50mid'.*does not return one 4-D tensor"):
        build_backbone("resnet50mid", 64, 32)
