"""Unified loss (Eq. 4): term names, weights, the released-code switches and config wiring."""
import pytest
import torch

from aitl_reid.config import get_default_config
from aitl_reid.schema import AttributeSchema
from aitl_reid.losses import (
    UnifiedLoss, aitl_loss, attribute_loss, batch_hard_triplet_loss, build_unified_loss,
    cross_entropy_label_smooth, dvdp, itl_loss,
)
from aitl_reid.losses.distances import pairwise_distance
from aitl_reid.losses.intra_identity import intra_identity_triplet, true_attribute_distance
from aitl_reid.models.outputs import ReIDOutput

TINY = AttributeSchema("tiny", ("color", "bag", "pose"), (3, 2, 2), ("id_relevant", "id_relevant", "id_irrelevant"), ("p", "c", "t"))
PIDS = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
ATTRS = torch.tensor([[i % 3, i % 2, (i // 2) % 2] for i in range(9)])


def _output(streams=("id_relevant", "id_irrelevant"), seed=0):
    gen = torch.Generator().manual_seed(seed)
    features = torch.randn(9, 8, generator=gen, requires_grad=True)
    attr_logits = {s: torch.randn(9, TINY.total_classes(s), generator=gen, requires_grad=True) for s in streams}
    return ReIDOutput(logits=torch.randn(9, 3, generator=gen, requires_grad=True), features=features,
                      embedding=features.detach(), attr_logits=attr_logits)


def test_default_terms_have_stable_names_and_sum_to_the_total():
    out = _output()
    total, terms = UnifiedLoss(TINY)(out, PIDS, ATTRS)
    assert list(terms) == ["loss_x", "loss_t", "loss_aitl_id_relevant", "loss_aitl_id_irrelevant", "loss_attr",
                           "loss_attr_id_relevant", "loss_attr_id_irrelevant", "dvdp"]
    assert all(not t.requires_grad for t in terms.values())
    per_stream = terms["loss_attr_id_relevant"] + terms["loss_attr_id_irrelevant"]
    assert terms["loss_attr"].item() == pytest.approx(per_stream.item(), abs=1e-6)
    expected = sum(v for k, v in terms.items() if k in ("loss_x", "loss_t", "loss_attr") or k.startswith("loss_aitl"))
    assert total.item() == pytest.approx(expected.item(), abs=1e-6)
    assert terms["dvdp"].item() > 0  # logged but not in the total


def test_terms_equal_the_standalone_losses():
    out = _output()
    _, terms = UnifiedLoss(TINY, attribute_form="bce")(out, PIDS, ATTRS)
    assert terms["loss_x"] == cross_entropy_label_smooth(out.logits, PIDS, 0.1)
    assert terms["loss_t"] == batch_hard_triplet_loss(out.features, PIDS, 0.3)
    rel = aitl_loss(out.features, PIDS, torch.sigmoid(out.attr_logits["id_relevant"]))
    assert terms["loss_aitl_id_relevant"] == rel
    assert terms["loss_attr"] == attribute_loss(out.attr_logits, ATTRS, TINY, "bce")
    assert terms["dvdp"] == dvdp(out.features, PIDS)


def test_attribute_input_logits_uses_raw_logits_for_selection():
    out = _output()
    _, terms = UnifiedLoss(TINY, attribute_input="logits", aitl_distance="euclidean", attribute_distance="euclidean",
                           include_anchor=True)(out, PIDS, ATTRS)
    expected = aitl_loss(out.features, PIDS, out.attr_logits["id_irrelevant"], 0.0, "euclidean", True)
    assert terms["loss_aitl_id_irrelevant"] == expected
    logits = out.attr_logits["id_relevant"]
    probabilities = torch.cat([logits[:, block].softmax(1) for _, block in TINY.blocks("id_relevant")], 1)
    expected = aitl_loss(out.features, PIDS, logits, 0.0, "euclidean", True)
    assert terms["loss_aitl_id_relevant"] == expected
    assert expected != aitl_loss(out.features, PIDS, probabilities, 0.0, "euclidean", True)  # probabilities choose others here


def test_the_attribute_distance_chooses_the_positives_and_the_feature_distance_measures_them():
    """The released code: cosine between features, Euclidean between attribute logits (two separate keys)."""
    out = _output()
    _, terms = UnifiedLoss(TINY, attribute_input="logits", aitl_distance="cosine", attribute_distance="euclidean",
                           include_anchor=True)(out, PIDS, ATTRS)
    logits = out.attr_logits["id_irrelevant"]
    feature_dist = pairwise_distance(out.features, "cosine")
    chooser = pairwise_distance(logits, "euclidean")
    expected = intra_identity_triplet(feature_dist, chooser, PIDS, 0.0, include_anchor=True)
    assert terms["loss_aitl_id_irrelevant"] == expected
    assert expected == aitl_loss(out.features, PIDS, logits, 0.0, "cosine", True, attribute_distance="euclidean")
    assert expected != aitl_loss(out.features, PIDS, logits, 0.0, "cosine", True)  # cosine selection differs here


@pytest.mark.parametrize("weight_key, term", [("weight_x", "loss_x"), ("weight_t", "loss_t"), ("attribute_weight", "loss_attr")])
def test_zero_weight_removes_exactly_that_term(weight_key, term):
    full, terms = UnifiedLoss(TINY)(_output(), PIDS, ATTRS)
    without, _ = UnifiedLoss(TINY, **{weight_key: 0.0})(_output(), PIDS, ATTRS)
    assert without.item() == pytest.approx(full.item() - terms[term].item(), abs=1e-6)


def test_aitl_weight_scales_each_aitl_term():
    full, terms = UnifiedLoss(TINY)(_output(), PIDS, ATTRS)
    doubled, _ = UnifiedLoss(TINY, aitl_weight=2.0)(_output(), PIDS, ATTRS)
    aitl = terms["loss_aitl_id_relevant"] + terms["loss_aitl_id_irrelevant"]
    assert aitl.item() > 0
    assert doubled.item() == pytest.approx(full.item() + aitl.item(), abs=1e-6)


def test_average_triplets_averages_batch_hard_and_aitl_terms():
    total, terms = UnifiedLoss(TINY, average_triplets=True)(_output(), PIDS, ATTRS)
    triplets = (terms["loss_t"] + terms["loss_aitl_id_relevant"] + terms["loss_aitl_id_irrelevant"]) / 3
    assert total.item() == pytest.approx((terms["loss_x"] + triplets + terms["loss_attr"]).item(), abs=1e-6)


def test_feature_selection_gives_one_itl_term():
    out = _output()
    _, terms = UnifiedLoss(TINY, aitl_selection="feature")(out, PIDS, ATTRS)
    assert "loss_itl" in terms and not any(k.startswith("loss_aitl") for k in terms)
    assert terms["loss_itl"] == itl_loss(out.features, PIDS)
    total, terms = UnifiedLoss(TINY, aitl_selection="feature", aitl_distance="euclidean", attribute_enabled=False)(out, PIDS)
    assert terms["loss_itl"] == itl_loss(out.features, PIDS, distance="euclidean") != itl_loss(out.features, PIDS)
    assert total.item() == pytest.approx((terms["loss_x"] + terms["loss_t"] + terms["loss_itl"]).item(), abs=1e-6)  # counted


def test_label_smoothing_off_is_torchs_plain_cross_entropy():
    out = _output()
    _, terms = UnifiedLoss(TINY, label_smooth=0.0, aitl_enabled=False, attribute_enabled=False)(out, PIDS)
    assert terms["loss_x"].item() == pytest.approx(torch.nn.functional.cross_entropy(out.logits, PIDS).item(), abs=1e-6)


def test_an_unknown_attribute_stream_is_named():
    out = _output(streams=("id_relevant",))
    out.attr_logits["colour"] = out.attr_logits["id_relevant"]
    with pytest.raises(ValueError, match=r"^attr_logits has unknown stream\(s\) \['colour'\], expected names from "
                                         r"\('id_relevant', 'id_irrelevant'\)$"):
        UnifiedLoss(TINY)(out, PIDS, ATTRS)


@pytest.mark.parametrize("processes", [2, 3])
def test_under_torchrun_each_process_ranks_its_rows_against_the_global_batch(monkeypatch, processes):
    """Simulated processes (their collectives replaced by slices of one global batch): each process's batch-hard term
    has its own rows as anchors and every row as a candidate, and their mean is the term of the global batch."""
    from aitl_reid.losses import unified

    gen = torch.Generator().manual_seed(3)
    features, pids = torch.randn(12, 8, generator=gen, dtype=torch.float64), torch.arange(6).repeat_interleave(2)
    n = 12 // processes
    loss = UnifiedLoss(TINY, triplet_margin=0.5, triplet_distance="euclidean", aitl_enabled=False, attribute_enabled=False)

    def output(rows):
        return ReIDOutput(logits=torch.zeros(len(pids[rows]), 6), features=features[rows], embedding=features[rows], attr_logits={})

    whole = batch_hard_triplet_loss(features, pids, 0.5, "euclidean")
    assert loss.unweighted_terms(output(slice(None)), pids)["loss_t"] == whole  # one process
    per_process = []
    for me in range(processes):
        rows = slice(me * n, (me + 1) * n)
        gather = lambda local, full, rows=rows: torch.cat([full[:rows.start], local, full[rows.stop:]])  # noqa: E731
        monkeypatch.setattr(unified.distributed, "world_size", lambda: processes)
        monkeypatch.setattr(unified.distributed, "rank", lambda me=me: me)
        monkeypatch.setattr(unified.distributed, "all_gather_with_grad", lambda x, gather=gather: gather(x, features))
        monkeypatch.setattr(unified.distributed, "all_gather_tensor", lambda x, gather=gather: gather(x, pids))
        per_process.append(loss.unweighted_terms(output(rows), pids[rows])["loss_t"])
        assert per_process[-1] == batch_hard_triplet_loss(features, pids, 0.5, "euclidean", anchors=rows)
    assert len(set(value.item() for value in per_process)) == processes  # the processes' terms differ...
    assert (sum(per_process) / processes).item() == pytest.approx(whole.item(), rel=1e-12)  # ...and average to the whole


def test_disabled_terms_are_absent():
    _, terms = UnifiedLoss(TINY, aitl_enabled=False, attribute_enabled=False)(_output(streams=()), PIDS)
    assert list(terms) == ["loss_x", "loss_t", "dvdp"]


def test_aitl_by_attribute_without_attribute_logits_names_the_config_keys():
    with pytest.raises(ValueError, match=r"^loss\.aitl\.selection='attribute' needs attribute predictions, but the model returned no "
                                         r"attr_logits\. Use a model with an attribute stream \(model\.asta\.id_relevant_stream / "
                                         r"model\.asta\.id_irrelevant_stream\), or set loss\.aitl\.selection to 'annotated' \(oracle\) "
                                         r"or 'feature' \(ITL\), or loss\.aitl\.enabled=False\.$"):
        UnifiedLoss(TINY, attribute_enabled=False)(_output(streams=()), PIDS)
    with pytest.raises(ValueError, match=r"^loss\.attribute\.enabled=True, but the model returned no attr_logits; set "
                                         r"loss\.attribute\.enabled=False for a model without attribute streams\.$"):
        UnifiedLoss(TINY, aitl_selection="feature")(_output(streams=()), PIDS, ATTRS)
    with pytest.raises(ValueError, match=r"^loss\.attribute\.enabled=True needs the batch's attribute labels \(attrs\), got None$"):
        UnifiedLoss(TINY, aitl_selection="feature")(_output(), PIDS)


def test_single_stream_model_gets_one_aitl_term():
    _, terms = UnifiedLoss(TINY)(_output(streams=("id_relevant",)), PIDS, ATTRS)
    assert [k for k in terms if k.startswith("loss_aitl")] == ["loss_aitl_id_relevant"]


def test_total_backpropagates_into_features_logits_and_attribute_logits():
    out = _output()
    total, _ = UnifiedLoss(TINY)(out, PIDS, ATTRS)
    total.backward()
    assert out.features.grad.abs().sum() > 0
    assert out.logits.grad.abs().sum() > 0
    assert out.attr_logits["id_relevant"].grad.abs().sum() > 0


def test_build_from_config_reads_every_loss_key():
    """Every key set to a value that is not UnifiedLoss's default, so a key left unread shows."""
    cfg = get_default_config()
    cfg.merge_from_list([
        "loss.softmax.label_smooth", False, "loss.triplet.margin", 0.5, "loss.triplet.distance", "euclidean",
        "loss.triplet.weight_t", 0.7, "loss.triplet.weight_x", 0.6, "loss.aitl.enabled", False, "loss.aitl.weight", 0.4,
        "loss.aitl.margin", 0.2, "loss.aitl.selection", "feature", "loss.aitl.distance", "euclidean",
        "loss.aitl.attribute_distance", "euclidean", "loss.aitl.attribute_input", "logits", "loss.aitl.include_anchor", True,
        "loss.aitl.average_triplets", True, "loss.attribute.enabled", False, "loss.attribute.weight", 0.25,
        "loss.attribute.type", "bce",
    ])
    loss = build_unified_loss(cfg, TINY)
    expected = dict(
        label_smooth=0.0, triplet_margin=0.5, triplet_distance="euclidean", weight_t=0.7, weight_x=0.6, aitl_enabled=False,
        aitl_weight=0.4, aitl_margin=0.2, aitl_selection="feature", aitl_distance="euclidean", attribute_distance="euclidean",
        attribute_input="logits", include_anchor=True, average_triplets=True, attribute_enabled=False, attribute_weight=0.25,
        attribute_form="bce",
    )
    assert {name: getattr(loss, name) for name in expected} == expected and loss.schema is TINY
    assert build_unified_loss(get_default_config(), TINY).label_smooth == 0.1


def test_bad_switch_values_raise():
    with pytest.raises(ValueError, match="loss.aitl.selection"):
        UnifiedLoss(TINY, aitl_selection="attributes")
    with pytest.raises(ValueError, match="loss.aitl.attribute_input"):
        UnifiedLoss(TINY, attribute_input="probs")
    with pytest.raises(ValueError, match="unknown distance"):
        UnifiedLoss(TINY, triplet_distance="l2")


def test_bce_form_selects_aitl_positives_by_per_unit_sigmoid():
    out = _output(seed=1)  # a case where per-unit sigmoids and per-attribute softmaxes choose different positives
    _, terms = UnifiedLoss(TINY, attribute_form="bce")(out, PIDS, ATTRS)
    logits = out.attr_logits["id_relevant"]
    assert terms["loss_aitl_id_relevant"] == aitl_loss(out.features, PIDS, torch.sigmoid(logits))
    probs = torch.cat([logits[:, :3].softmax(1), logits[:, 3:].softmax(1)], 1)
    assert terms["loss_aitl_id_relevant"] != aitl_loss(out.features, PIDS, probs)


def test_softmax_form_selects_aitl_positives_by_per_attribute_class_probabilities():
    out = _output()
    _, terms = UnifiedLoss(TINY)(out, PIDS, ATTRS)  # the default form: softmax
    logits = out.attr_logits["id_relevant"]
    probs = torch.cat([logits[:, :3].softmax(1), logits[:, 3:].softmax(1)], 1)  # colour block, bag block
    assert terms["loss_aitl_id_relevant"] == aitl_loss(out.features, PIDS, probs)
    assert terms["loss_attr"] == attribute_loss(out.attr_logits, ATTRS, TINY, "softmax")


def test_config_and_code_share_the_attribute_loss_default():
    from aitl_reid.losses.attribute import DEFAULT_ATTRIBUTE_LOSS

    assert get_default_config().loss.attribute.type == DEFAULT_ATTRIBUTE_LOSS


# Controls of the ablation (issue 20): each changes only how AITL picks its positives.

def _all_but_aitl(terms):
    return {k: v for k, v in terms.items() if not k.startswith("loss_aitl")}


def test_annotated_selection_picks_positives_by_the_labels_and_changes_nothing_else():
    out = _output()
    _, predicted = UnifiedLoss(TINY)(out, PIDS, ATTRS)
    _, oracle = UnifiedLoss(TINY, aitl_selection="annotated")(out, PIDS, ATTRS)
    assert _all_but_aitl(oracle) == _all_but_aitl(predicted)
    for stream in ("id_relevant", "id_irrelevant"):
        labels = ATTRS[:, TINY.indices(stream)]  # the share of differing labels is the oracle's distance
        expected = intra_identity_triplet(
            pairwise_distance(out.features, "cosine"), true_attribute_distance(labels), PIDS)
        assert oracle[f"loss_aitl_{stream}"] == expected
    assert any(oracle[k] != predicted[k] for k in ("loss_aitl_id_relevant", "loss_aitl_id_irrelevant"))


def test_annotated_selection_runs_without_attribute_streams_and_needs_labels():
    out = _output(streams=())
    _, terms = UnifiedLoss(TINY, aitl_selection="annotated", attribute_enabled=False)(out, PIDS, ATTRS)
    assert {"loss_aitl_id_relevant", "loss_aitl_id_irrelevant"} <= set(terms)
    with pytest.raises(ValueError, match=r"^loss\.aitl\.selection='annotated' needs the batch's attribute labels \(attrs\), got None$"):
        UnifiedLoss(TINY, aitl_selection="annotated", attribute_enabled=False)(out, PIDS, None)


def test_shuffled_selection_is_aitl_on_attribute_vectors_permuted_across_the_batch():
    out = _output()
    torch.manual_seed(3)
    _, placebo = UnifiedLoss(TINY, aitl_selection="shuffled")(out, PIDS, ATTRS)
    torch.manual_seed(3)
    order = [torch.randperm(9) for _ in ("id_relevant", "id_irrelevant")]
    _, predicted = UnifiedLoss(TINY)(out, PIDS, ATTRS)
    assert _all_but_aitl(placebo) == _all_but_aitl(predicted)
    for stream, perm in zip(("id_relevant", "id_irrelevant"), order):
        probs = torch.cat([out.attr_logits[stream][:, b].softmax(1) for _, b in TINY.blocks(stream)], 1)
        assert placebo[f"loss_aitl_{stream}"] == aitl_loss(out.features, PIDS, probs[perm])
    assert any(placebo[k] != predicted[k] for k in ("loss_aitl_id_relevant", "loss_aitl_id_irrelevant"))


def test_config_selection_values_are_checked():
    with pytest.raises(ValueError, match="must be one of .*'annotated', 'shuffled'"):
        UnifiedLoss(TINY, aitl_selection="oracle")
