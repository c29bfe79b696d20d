"""ASTA and the temporal-pooling baseline: shapes, switches, frame order, gradients, torchreid factory."""
import pytest
import torch

import aitl_reid
from aitl_reid import _torchreid
from aitl_reid.schema import DEFAULT_SCHEMA, MARS_V1
from aitl_reid.models import ASTA, PRETRAINED_DIR_ENV, PretrainedWeightsNotFound, ReIDOutput, TemporalPooling, build_model

H, W = 64, 32  # 4 x 2 feature maps
CLASSES = 5


def tiny(name, **kwargs):
    torch.manual_seed(0)
    return build_model(name, CLASSES, pretrained=False, height=H, width=W, **kwargs)


def clips(batch=2, frames=3):
    torch.manual_seed(1)
    return torch.randn(batch, frames, 3, H, W)


@pytest.mark.parametrize("name", aitl_reid.list_models())
def test_registered_model_returns_documented_shapes_in_train_and_eval(name):
    model = tiny(name)
    channels = model.backbone.out_channels
    streams = ("id_relevant", "id_irrelevant") if name.startswith("asta_") else ()
    x = clips(batch=2, frames=2)

    out = model.train()(x)
    assert isinstance(out, ReIDOutput)
    assert out.logits.shape == (2, CLASSES)
    assert out.features.shape == out.embedding.shape == (2, (1 + len(streams)) * channels)
    assert {k: v.shape for k, v in out.attr_logits.items()} == {s: (2, DEFAULT_SCHEMA.total_classes(s)) for s in streams}
    assert {k: v.shape for k, v in out.attention.items()} == {s: (2, 2, 4, 2) for s in streams}

    model.eval()
    with torch.no_grad():
        feature = model(x)
        full = model(x, full_output=True)
    assert feature.shape == (2, (1 + len(streams)) * channels)
    assert isinstance(full, ReIDOutput) and torch.equal(full.embedding, feature)
    assert set(full.attr_logits) == set(streams)


def test_torchreid_build_model_builds_plugin_models_for_256x128():
    model = _torchreid.models.build_model("asta_resnet18", CLASSES, loss="triplet", pretrained=False, use_gpu=False)
    assert isinstance(model, ASTA)
    assert model.streams["id_relevant"].attention.map_size == (16, 8)
    assert isinstance(_torchreid.models.build_model("tp_resnet18", CLASSES, pretrained=False), TemporalPooling)


def test_torchreid_default_pretrained_fetches_imagenet_weights(monkeypatch):
    monkeypatch.delenv(PRETRAINED_DIR_ENV, raising=False)  # conftest: empty torch cache, a mirror nobody serves
    with pytest.raises(PretrainedWeightsNotFound, match=r"resnet18-f37072fd\.pth(.|\n)*model.pretrained_path"):
        _torchreid.models.build_model("tp_resnet18", CLASSES)


def test_eval_output_is_the_pooled_feature_before_bn_when_asked():
    model = tiny("asta_resnet18", test_feature="before_bn").eval()
    with torch.no_grad():
        full = model(clips(), full_output=True)
        assert torch.equal(model(clips()), full.features)
    with pytest.raises(ValueError, match="test_feature must be one of"):
        tiny("tp_resnet18", test_feature="after_neck")


def test_attention_values_lie_in_unit_interval():
    out = tiny("asta_resnet18", reid_spatial_attention=True).train()(10 * clips())
    for attention in list(out.attention.values()) + [out.reid_attention]:
        assert attention.min() >= 0 and attention.max() <= 1
    assert out.reid_attention.shape == (2, 3, 4, 2)


@pytest.mark.parametrize("relevant, irrelevant", [(True, True), (True, False), (False, True), (False, False)])
def test_switching_a_stream_off_shrinks_the_feature_by_one_backbone_width(relevant, irrelevant):
    model = tiny("asta_resnet18", id_relevant_stream=relevant, id_irrelevant_stream=irrelevant)
    out = model.train()(clips())
    assert out.features.shape == (2, 512 * (1 + relevant + irrelevant))
    assert set(out.attr_logits) == set(out.attention) == {g for g, on in (("id_relevant", relevant), ("id_irrelevant", irrelevant)) if on}


def test_stream_for_a_group_missing_from_the_schema_is_rejected():
    with pytest.raises(ValueError, match="id_irrelevant stream is enabled but schema 'mars_v1'.*id_irrelevant_stream False"):
        tiny("asta_resnet18", schema=MARS_V1)
    assert tiny("asta_resnet18", schema=MARS_V1, id_irrelevant_stream=False).feature_dim == 1024


def test_stream_width_sets_the_size_preserving_conv_channels():
    stream = tiny("asta_resnet18", stream_width=64).streams["id_relevant"]
    assert stream.conv[0].out_channels == 64 and stream.attention.spatial.conv.in_channels == 64
    assert stream.classifier.in_features == 512  # the attention still weights the backbone features


def test_reordering_frames_changes_asta_attention_but_not_the_baseline_feature():
    order = [2, 0, 3, 1]
    x = clips(batch=1, frames=4)
    asta = tiny("asta_resnet18", temporal_init="default").eval()  # a random temporal conv mixes frames from the start
    starts_frame_wise = tiny("asta_resnet18", temporal_init="identity").eval()
    tp = tiny("tp_resnet18").eval()
    with torch.no_grad():
        attention = asta(x, full_output=True).attention["id_relevant"]
        reordered = asta(x[:, order], full_output=True).attention["id_relevant"]
        assert not torch.allclose(reordered, attention[:, order], atol=1e-4)
        attention = starts_frame_wise(x, full_output=True).attention["id_relevant"]
        reordered = starts_frame_wise(x[:, order], full_output=True).attention["id_relevant"]
        assert torch.allclose(reordered, attention[:, order], atol=1e-5)  # identity init: no mixing until trained
        assert torch.allclose(tp(x[:, order]), tp(x), atol=1e-5)


def test_identity_loss_reaches_the_backbone():
    model = tiny("asta_resnet18", detach_streams=True).train()
    model(clips()).logits.sum().backward()
    assert model.backbone.net.conv1.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("detach", [False, True])
def test_attribute_loss_reaches_the_backbone_only_without_detach(detach):
    model = tiny("asta_resnet18", detach_streams=detach).train()
    out = model(clips())
    sum(logits.sum() for logits in out.attr_logits.values()).backward()
    grads = [p.grad for p in model.backbone.parameters()]
    reached = any(g is not None and g.abs().sum() > 0 for g in grads)
    assert reached is not detach
    assert model.streams["id_relevant"].conv[0].weight.grad.abs().sum() > 0


def test_bnneck_bias_is_frozen_and_the_identity_classifier_has_no_bias():
    neck = tiny("tp_resnet18").neck
    assert not neck.bn.bias.requires_grad and neck.classifier.bias is None


def test_input_of_another_size_than_built_for_is_rejected():
    model = tiny("asta_resnet18")
    with pytest.raises(ValueError, match="built for 4x2 feature maps, got 8x4"):
        model(torch.randn(1, 2, 3, 2 * H, 2 * W))


def test_unfused_streams_leave_the_baseline_feature_and_still_predict_attributes():
    model = tiny("asta_resnet18", fuse_attention=False)
    out = model.train()(clips())
    assert out.features.shape == (2, 512)
    assert set(out.attr_logits) == {"id_relevant", "id_irrelevant"}
    out.attr_logits["id_relevant"].sum().backward()
    assert model.backbone.net.conv1.weight.grad.abs().sum() > 0  # the attribute loss trains the backbone


def test_without_reid_stream_the_feature_is_only_the_attention_weighted_copies():
    model = tiny("asta_resnet18", reid_stream=False, id_irrelevant_stream=False)
    out = model.train()(clips())
    assert out.features.shape == (2, 512)
    maps = model.backbone(clips())
    attention = out.attention["id_relevant"]
    expected = (maps * attention.unsqueeze(2)).sum(dim=(1, 3, 4)) / attention.sum(dim=(1, 2, 3)).unsqueeze(1)
    torch.testing.assert_close(out.features, expected)  # the default pooling: attention-weighted mean


@pytest.mark.parametrize("options", [dict(fuse_attention=False), dict(id_relevant_stream=False, id_irrelevant_stream=False),
                                     dict(reid_spatial_attention=True)])
def test_without_reid_stream_an_empty_or_contradictory_feature_is_rejected(options):
    with pytest.raises(ValueError, match="reid_stream"):
        tiny("asta_resnet18", reid_stream=False, **options)
