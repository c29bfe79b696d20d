"""Attribute heads that learn (issue 10): softmax form, label prior, BatchNorm head, prior bias, live attention."""
import math
from types import SimpleNamespace

import pytest
import torch

from aitl_reid.config import get_default_config
from aitl_reid.engine import init_attribute_bias
from aitl_reid.engine.diagnostics import attention_alive_fraction, attribute_accuracy
from aitl_reid.losses import attribute_loss, attribute_loss_per_stream, prior_attribute_loss, prior_logits
from aitl_reid.models.asta import AttributeStream
from aitl_reid.models.attention import SpatioTemporalAttention
from aitl_reid.schema import AttributeSchema

# id_relevant: color (3 classes) + bag (2) = 5 units; id_irrelevant: pose (2) = 2 units
TINY = AttributeSchema("tiny", ("color", "bag", "pose"), (3, 2, 2), ("id_relevant", "id_relevant", "id_irrelevant"), ("p", "c", "t"))


def entropy(*probs):
    return -sum(p * math.log(p) for p in probs if p > 0)


def test_schema_blocks_and_predict_read_each_attribute_from_its_own_units():
    assert TINY.blocks("id_relevant") == [(0, slice(0, 3)), (1, slice(3, 5))]
    logits = torch.tensor([[0.0, 2.0, 0.0, 1.0, 0.0]])
    classes, probs = TINY.predict(logits, "id_relevant", "softmax")
    assert classes.tolist() == [[1, 0]]
    assert probs[0, 0].item() == pytest.approx(math.exp(2) / (math.exp(2) + 2))
    assert probs[0, 1].item() == pytest.approx(math.exp(1) / (math.exp(1) + 1))
    _, sigmoid = TINY.predict(logits, "id_relevant", "bce")
    assert sigmoid[0, 0].item() == pytest.approx(1 / (1 + math.exp(-2)))


def test_softmax_form_zero_logits_give_log_k_averaged_over_attributes():
    logits = {"id_relevant": torch.zeros(2, 5), "id_irrelevant": torch.zeros(2, 2)}
    attrs = torch.tensor([[0, 1, 1], [2, 0, 0]])
    per_stream = attribute_loss_per_stream(logits, attrs, TINY, "softmax")
    assert per_stream["id_relevant"].item() == pytest.approx((math.log(3) + math.log(2)) / 2, abs=1e-6)
    assert per_stream["id_irrelevant"].item() == pytest.approx(math.log(2), abs=1e-6)


def test_softmax_form_hand_case_and_missing_labels_do_not_count():
    # row 0: color=2 with logits (0, 0, ln 2) -> -ln(2/4); bag missing. row 1: color missing, bag=1 with (0, ln 3) -> -ln(3/4)
    logits = torch.tensor([[0.0, 0.0, math.log(2), 50.0, -50.0], [9.0, -9.0, 9.0, 0.0, math.log(3)]], requires_grad=True)
    attrs = torch.tensor([[2, -1, 0], [-1, 1, 0]])
    loss = attribute_loss({"id_relevant": logits}, attrs, TINY, "softmax")
    assert loss.item() == pytest.approx((-math.log(0.5) - math.log(0.75)) / 2, abs=1e-6)
    loss.backward()
    assert logits.grad[0, 3:].tolist() == [0.0, 0.0]  # bag of row 0 missing: no gradient
    assert logits.grad[1, :3].tolist() == [0.0, 0.0, 0.0]  # color of row 1 missing
    assert logits.grad[0, :3].sum().item() == pytest.approx(0.0, abs=1e-7)  # a softmax block's gradient sums to 0
    assert logits.grad[0, 2] < 0 and logits.grad[1, 4] < 0  # the true class is pushed up


def test_softmax_form_with_a_single_label_is_its_cross_entropy():
    # only bag of row 0 is annotated (class 0) with logits (ln 3, 0): -ln(3/4), not halved
    logits = torch.tensor([[0.0, 0.0, 0.0, math.log(3), 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    loss = attribute_loss({"id_relevant": logits}, torch.tensor([[-1, 0, -1], [-1, -1, -1]]), TINY, "softmax")
    assert loss.item() == pytest.approx(-math.log(0.75), abs=1e-6)


def test_unknown_form_is_named():
    with pytest.raises(ValueError, match="loss.attribute.type must be one of"):
        attribute_loss({"id_irrelevant": torch.zeros(1, 2)}, torch.tensor([[0, 0, 0]]), TINY, "focal")


@pytest.mark.parametrize("form", ["bce", "softmax"])
def test_prior_loss_is_the_label_entropy(form):
    # pose labels 0,0,0,1 -> p = (.75, .25): softmax CE and the mean BCE of its two units are both H(p)
    attrs = torch.tensor([[0, 0, 0], [0, 1, 0], [1, 0, 0], [2, -1, 1]])
    prior = prior_attribute_loss(attrs, TINY, ["id_irrelevant", "id_relevant"], form)
    assert prior["id_irrelevant"] == pytest.approx(entropy(0.75, 0.25), abs=1e-6)
    color, bag = entropy(0.5, 0.25, 0.25), entropy(2 / 3, 1 / 3)  # bag: one missing label
    if form == "softmax":
        assert prior["id_relevant"] == pytest.approx((4 * color + 3 * bag) / 7, abs=1e-6)
    else:
        # BCE units: colour units have p = .5, .25, .25; bag units 2/3, 1/3 (each unit's BCE is its binary entropy)
        units = 4 * (entropy(0.5, 0.5) + 2 * entropy(0.25, 0.75)) + 3 * 2 * entropy(2 / 3, 1 / 3)
        assert prior["id_relevant"] == pytest.approx(units / (4 * 3 + 3 * 2), abs=1e-6)


def test_prior_logits_reproduce_the_frequencies():
    attrs = torch.tensor([[0, 0, 0], [0, 1, 0], [1, 0, 0], [2, 1, 1]])
    softmax = prior_logits(attrs, TINY, "id_relevant", "softmax")
    assert softmax[:3].softmax(0).tolist() == pytest.approx([0.5, 0.25, 0.25], abs=1e-6)
    assert torch.sigmoid(prior_logits(attrs, TINY, "id_irrelevant", "bce")).tolist() == pytest.approx([0.75, 0.25], abs=1e-6)


def test_prior_logits_stay_finite_for_classes_never_or_always_seen():
    """Frequencies are kept in [1e-6, 1 - 1e-6]: colour labelled once (class 1; class 2, the last, never seen), bag always 1."""
    attrs = torch.tensor([[1, 1, -1], [-1, 1, -1]])
    lo, hi = 1e-6, 1 - 1e-6
    p = [lo, hi, lo, lo, hi]  # colour's three classes, then bag's two
    softmax = prior_logits(attrs, TINY, "id_relevant", "softmax")
    assert softmax.tolist() == pytest.approx([math.log(v) for v in p], rel=1e-6)
    bce = prior_logits(attrs, TINY, "id_relevant", "bce")
    assert bce.tolist() == pytest.approx([math.log(v / (1 - v)) for v in p], rel=1e-6)
    relevant_only = AttributeSchema("rel", ("color", "bag"), (3, 2), ("id_relevant", "id_relevant"), ("p", "c", "t"))
    assert prior_logits(attrs[:, :2], relevant_only, "id_irrelevant").shape == (0,)  # a group without attributes


def test_attribute_stream_head_switch():
    released = AttributeStream(8, (2, 1), 5, head_bn=False)
    learning = AttributeStream(8, (2, 1), 5, head_bn=True)
    assert isinstance(released.head, torch.nn.ReLU) and isinstance(learning.head, torch.nn.BatchNorm1d)
    attention, logits = learning(torch.rand(3, 4, 8, 2, 1))
    assert attention.shape == (3, 4, 2, 1) and logits.shape == (3, 5)


def test_batchnorm_head_removes_the_common_mode_of_nonnegative_features():
    """Pooled features = big shared offset + small clip-specific part: the BN head sees only the latter."""
    stream = AttributeStream(8, (1, 1), 2, head_bn=True).train()
    torch.manual_seed(0)
    maps = 5.0 + 0.1 * torch.randn(16, 1, 8, 1, 1)
    normalised = stream.head(maps.flatten(1))
    assert normalised.mean(0).abs().max().item() < 1e-5
    assert normalised.std(0, unbiased=False).mean().item() == pytest.approx(1.0, abs=1e-2)


def test_score_norm_keeps_attention_alive_where_large_scores_saturate_it():
    torch.manual_seed(0)
    maps = torch.rand(4, 3, 6, 4, 2)
    fractions = {}
    for norm in (False, True):
        module = SpatioTemporalAttention(6, (4, 2), score_norm=norm, temporal_init="identity").train()
        with torch.no_grad():
            module.spatial.conv.weight.mul_(200.0)  # what grown weights do to the scores
        fractions[norm] = attention_alive_fraction(module(maps))
    assert fractions[False] < 0.3
    assert fractions[True] > 0.9


def test_identity_temporal_init_passes_the_spatial_scores_through():
    torch.manual_seed(0)
    maps = torch.rand(2, 3, 6, 4, 2)
    module = SpatioTemporalAttention(6, (4, 2), temporal_init="identity")
    expected = torch.sigmoid(module.spatial.scores(maps))
    assert torch.allclose(module(maps), expected, atol=1e-6)
    with pytest.raises(ValueError, match="temporal_init must be one of"):
        SpatioTemporalAttention(6, (4, 2), temporal_init="zeros")


def test_attention_alive_fraction_counts_values_strictly_inside():
    values = torch.tensor([0.0, 0.04, 0.05, 0.3, 0.5, 0.95, 0.96, 1.0])
    assert attention_alive_fraction(values) == pytest.approx(2 / 8)


def test_training_attribute_accuracy_skips_missing_labels():
    logits = torch.tensor([[0.0, 2.0, 0.0, 1.0, 0.0], [3.0, 0.0, 0.0, 0.0, 1.0]])
    attrs = torch.tensor([[1, 1, 0], [0, -1, 0]])  # row 0: colour right, bag wrong; row 1: colour right, bag missing
    assert attribute_accuracy(logits, attrs, TINY, "id_relevant") == pytest.approx(2 / 3)
    assert math.isnan(attribute_accuracy(logits, torch.full((2, 3), -1), TINY, "id_relevant"))


@pytest.mark.parametrize("form", ["bce", "softmax"])
def test_prior_bias_init_makes_the_untrained_head_predict_the_prior(form):
    cfg = get_default_config()
    cfg.loss.attribute.type = form
    attrs = torch.tensor([[0, 0, 0], [0, 1, 0], [1, 0, 0], [2, 1, 1]])
    model = SimpleNamespace(streams={"id_relevant": AttributeStream(8, (1, 1), 5), "id_irrelevant": AttributeStream(8, (1, 1), 2)})
    assert init_attribute_bias(cfg, model, SimpleNamespace(train_attrs=attrs, attribute_schema=TINY))
    logits = {g: s.classifier.bias.detach().expand(4, -1) for g, s in model.streams.items()}  # zero features
    expected = prior_attribute_loss(attrs, TINY, list(model.streams), form)
    got = attribute_loss_per_stream(logits, attrs, TINY, form)
    assert {g: v.item() for g, v in got.items()} == pytest.approx(expected, abs=1e-5)
    cfg.model.asta.attribute_prior_bias = False
    assert not init_attribute_bias(cfg, model, SimpleNamespace(train_attrs=attrs, attribute_schema=TINY))


def test_short_training_run_brings_each_stream_below_its_prior_loss(tmp_path):
    """The real model, loss and engine step on a small fixed batch: the heads fit it well beyond the label prior."""
    from aitl_reid.engine import AITLEngine
    from aitl_reid.losses import UnifiedLoss
    from aitl_reid.models.asta import build_asta

    torch.manual_seed(0)
    clips = torch.randn(8, 2, 3, 32, 16)
    pids = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    attrs = torch.stack([torch.randint(0, k, (8,)) for k in TINY.num_classes], 1)
    model = build_asta("resnet18", 2, pretrained=False, height=32, width=16, schema=TINY, attribute_bn=True, attention_norm=True,
                       temporal_init="identity")
    manager = SimpleNamespace(train_loader=[], test_loader={}, targets=["toy"], sources=["toy"],
                              attribute_schema=TINY, train_attrs=attrs)
    cfg = get_default_config()
    init_attribute_bias(cfg, model, manager)
    criterion = UnifiedLoss(TINY, attribute_form="softmax")
    engine = AITLEngine(manager, model, torch.optim.Adam(model.parameters(), lr=1e-3), criterion, use_gpu=False,
                        save_dir=str(tmp_path))
    for _ in range(30):
        summary = engine.forward_backward({"img": clips, "pid": pids, "attrs": attrs})
    for stream, prior in engine.epoch_means.attribute_prior.items():
        assert summary[f"loss_attr_{stream}"] < 0.5 * prior, (stream, summary[f"loss_attr_{stream}"], prior)


def test_normalised_attention_pooling_is_a_weighted_mean_and_mean_pooling_is_not():
    from aitl_reid.models.base import pool_clip

    maps = torch.tensor([2.0, 6.0, 4.0, 8.0]).reshape(1, 1, 1, 2, 2)  # one frame, one channel, 2 x 2 positions
    weights = torch.tensor([1.0, 0.0, 0.5, 0.0]).reshape(1, 1, 2, 2)
    assert pool_clip(maps, weights, "normalised").item() == pytest.approx((2 + 0.5 * 4) / 1.5)
    assert pool_clip(maps, weights, "mean").item() == pytest.approx((2 + 0.5 * 4) / 4)
    assert pool_clip(maps, 3 * weights, "normalised").item() == pytest.approx(pool_clip(maps, weights, "normalised").item())
    with pytest.raises(ValueError, match="attention pooling must be one of"):
        pool_clip(maps, weights, "max")


@pytest.mark.parametrize("detach", [False, True])
def test_detached_fusion_leaves_the_attention_to_the_attribute_losses(detach):
    from aitl_reid.models.asta import build_asta

    torch.manual_seed(0)
    model = build_asta("resnet18", 3, pretrained=False, height=32, width=16, schema=TINY, detach_fused_attention=detach)
    out = model.train()(torch.randn(4, 2, 3, 32, 16))
    out.features.sum().backward()  # a Re-ID loss only
    spatial = model.streams["id_relevant"].attention.spatial.conv.weight.grad
    assert (spatial is None or not spatial.any()) == detach


def test_model_class_defaults_equal_the_config_defaults():
    """torchreid.models.build_model('asta_...') and a config-built model get the same heads and attention."""
    import inspect

    from aitl_reid.models.asta import ASTA

    asta = get_default_config().model.asta
    params = inspect.signature(ASTA.__init__).parameters
    for key in ("attribute_bn", "attention_norm", "temporal_init", "attention_pooling", "detach_fused_attention",
                "detach_streams", "reid_spatial_attention", "stream_width", "stream_kernel", "fuse_attention"):
        assert params[key].default == asta[key], key
