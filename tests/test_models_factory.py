"""Building models by name and from the config."""
import pytest

from aitl_reid.config import get_default_config
from aitl_reid.data.schema import DUKE_V2
from aitl_reid.models import ASTA, TemporalPooling, build_model, build_model_from_config


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
    model = build_model("asta_osnet_x0_25", 3, height=64, width=32)
    assert model.feature_dim == 3 * 128


@pytest.mark.parametrize("name", ["resnet50", "sta_resnet50", "asta_"])
def test_unknown_model_names_list_the_registered_ones(name):
    with pytest.raises(ValueError, match="asta_<backbone> or tp_<backbone>.*asta_resnet50"):
        build_model(name, 3)
