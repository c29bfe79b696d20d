"""Building models by name (one door, through the registry) and from the config."""
import inspect

import pytest
import torch

import aitl_reid
from aitl_reid import _torchreid
from aitl_reid.config import get_default_config
from aitl_reid.models import (PRETRAINED_DIR_ENV, ASTA, PretrainedWeightsNotFound, TemporalPooling, build_asta, build_model,
                              build_model_from_config, build_temporal_pooling)
from aitl_reid.registry import PRETRAINED_DEFAULT
from aitl_reid.schema import DUKE_V2


def small_config(name):
    cfg = get_default_config()
    cfg.model.name = name
    cfg.data.height, cfg.data.width = 64, 32
    return cfg


def test_config_maps_every_asta_key():
    cfg = small_config("asta_resnet18")
    asta = cfg.model.asta
    asta.id_irrelevant_stream = False
    asta.detach_streams = True
    asta.reid_spatial_attention = True
    asta.stream_width, asta.stream_kernel, asta.spatial_kernel, asta.temporal_kernel = 32, 3, 5, 1
    asta.last_stride = 2
    asta.test_feature = "before_bn"
    model = build_model_from_config(cfg, 7, DUKE_V2)
    stream = model.streams["id_relevant"]
    assert isinstance(model, ASTA) and list(model.streams) == ["id_relevant"]
    assert model.detach_streams and model.reid_attention is not None and model.test_feature == "before_bn"
    assert stream.conv[0].out_channels == 32 and stream.conv[0].kernel_size == (3, 3)
    assert stream.attention.spatial.conv.kernel_size == (5, 5) and stream.attention.temporal.kernel_size == (1,)
    assert stream.attention.map_size == (2, 1)  # last stride 2
    assert stream.classifier.out_features == DUKE_V2.total_classes("id_relevant")
    assert model.neck.classifier.out_features == 7


def test_config_builds_the_baseline_without_stream_keys():
    model = build_model_from_config(small_config("tp_resnet18"), 7, DUKE_V2)
    assert isinstance(model, TemporalPooling) and model.feature_dim == 512


def test_config_with_pretrained_path_loads_it(tmp_path):
    cfg = small_config("tp_resnet18")
    cfg.model.pretrained, cfg.model.pretrained_path = True, str(tmp_path / "missing.pth")
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        build_model_from_config(cfg, 7, DUKE_V2)


def test_any_spatial_torchreid_backbone_builds_by_name():
    model = build_model("asta_osnet_x0_25", 3, pretrained=False, height=64, width=32)
    assert model.feature_dim == 3 * 128


@pytest.mark.parametrize("name", ["resnet50", "sta_resnet50", "asta_"])
def test_unknown_model_names_list_the_registered_ones(name):
    with pytest.raises(ValueError, match="asta_<backbone> or tp_<backbone>.*asta_resnet50"):
        build_model(name, 3)


def _signature_default(fn, name="pretrained"):
    return inspect.signature(fn).parameters[name].default


@pytest.mark.parametrize("name", aitl_reid.list_models())
def test_every_registered_name_builds_through_build_model_as_torchreid_builds_it(name):
    torch.manual_seed(0)
    ours = build_model(name, 3, pretrained=False)
    torch.manual_seed(0)
    theirs = _torchreid.models.build_model(name, 3, pretrained=False)
    family = {"asta": ASTA, "tp": TemporalPooling}[name.split("_")[0]]
    assert type(ours) is type(theirs) is family
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    assert all(torch.equal(ours_state[k], theirs_state[k]) for k in ours_state)


@pytest.mark.parametrize("name, family, backbone, channels", [
    ("asta_osnet_x0_25", ASTA, "osnet_x0_25", 128), ("tp_osnet_x0_25", TemporalPooling, "osnet_x0_25", 128),
    ("asta_resnet34", ASTA, "resnet34", 512), ("tp_shufflenet_v2_x0_5", TemporalPooling, "shufflenet_v2_x0_5", 1024),
])
def test_unregistered_backbones_build_by_the_family_rule(name, family, backbone, channels):
    assert not aitl_reid.registry.is_model(name)
    model = build_model(name, 3, pretrained=False, height=64, width=32)
    assert type(model) is family and model.backbone.name == backbone and model.backbone.out_channels == channels


def test_one_pretrained_default_for_every_door(monkeypatch):
    defaults = {_signature_default(_torchreid.models.build_model), _signature_default(build_model), PRETRAINED_DEFAULT}
    defaults |= {_signature_default(aitl_reid.registry.model_entrypoint(n)) for n in aitl_reid.list_models()}
    defaults |= {_signature_default(fn) for fn in (build_asta, build_temporal_pooling)}
    assert defaults == {True}
    monkeypatch.delenv(PRETRAINED_DIR_ENV, raising=False)
    for build in (build_model, _torchreid.models.build_model):  # the default asks both doors for ImageNet weights (no cache, no network: the download error)
        with pytest.raises(PretrainedWeightsNotFound):
            build("tp_resnet18", 3)
