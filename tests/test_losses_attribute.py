"""Masked attribute BCE (loss.attribute.type bce): missing labels (-1) never count, an all-missing batch gives 0."""
import math

import pytest
import torch

from aitl_reid.schema import AttributeSchema
from aitl_reid.losses import AttributeLoss, attribute_loss, attribute_loss_per_stream

# id_relevant: color (3 classes) + bag (2) = 5 units; id_irrelevant: pose (2) = 2 units
TINY = AttributeSchema("tiny", ("color", "bag", "pose"), (3, 2, 2), ("id_relevant", "id_relevant", "id_irrelevant"), ("p", "c", "t"))


def test_zero_logits_give_log2_per_stream_summed_over_streams():
    logits = {"id_relevant": torch.zeros(2, 5), "id_irrelevant": torch.zeros(2, 2)}
    attrs = torch.tensor([[0, 1, 1], [2, 0, 0]])
    per_stream = attribute_loss_per_stream(logits, attrs, TINY, "bce")
    assert per_stream["id_relevant"].item() == pytest.approx(math.log(2), abs=1e-6)
    assert per_stream["id_irrelevant"].item() == pytest.approx(math.log(2), abs=1e-6)
    assert attribute_loss(logits, attrs, TINY, "bce").item() == pytest.approx(2 * math.log(2), abs=1e-6)


def test_mean_over_valid_units_hand_case():
    # pose = class 1: unit 0 (target 0, logit 0) -> ln 2; unit 1 (target 1, logit ln 3) -> -ln .75
    logits = {"id_irrelevant": torch.tensor([[0.0, math.log(3.0)]])}
    expected = (math.log(2) - math.log(0.75)) / 2
    assert attribute_loss(logits, torch.tensor([[0, 0, 1]]), TINY, "bce").item() == pytest.approx(expected, abs=1e-6)


def test_missing_label_row_contributes_nothing():
    # row 1 has color missing: its 3 color units get huge logits that would dominate if counted
    logits = torch.zeros(2, 5)
    logits[1, :3] = 50.0
    attrs = torch.tensor([[0, 1, 0], [-1, 0, 0]])
    loss = attribute_loss({"id_relevant": logits}, attrs, TINY, "bce")
    assert loss.item() == pytest.approx(math.log(2), abs=1e-6)  # 7 valid units, each ln 2


def test_missing_label_is_not_trained_as_class_zero():
    logits = torch.zeros(1, 5, requires_grad=True)
    attribute_loss({"id_relevant": logits}, torch.tensor([[-1, 1, 0]]), TINY, "bce").backward()
    assert logits.grad[0, :3].tolist() == [0.0, 0.0, 0.0]
    assert logits.grad[0, 3] > 0 and logits.grad[0, 4] < 0  # bag = class 1 pushes unit 4 up


def test_all_missing_batch_gives_zero_not_nan_with_finite_gradient():
    logits = {"id_relevant": torch.randn(3, 5, requires_grad=True), "id_irrelevant": torch.randn(3, 2, requires_grad=True)}
    loss = attribute_loss(logits, torch.full((3, 3), -1), TINY, "bce")
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(logits["id_relevant"].grad, torch.zeros(3, 5))


def test_module_matches_function():
    logits = {"id_relevant": torch.randn(2, 5)}
    attrs = torch.tensor([[1, 0, 1], [2, -1, 0]])
    assert AttributeLoss(TINY, "bce")(logits, attrs) == attribute_loss(logits, attrs, TINY, "bce")
    assert AttributeLoss(TINY)(logits, attrs) == attribute_loss(logits, attrs, TINY, "softmax")  # the default


def test_wrong_shapes_and_streams_raise_clear_errors():
    attrs = torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match=r"attr_logits\['id_relevant'\] must be \[2, 5\]"):
        attribute_loss({"id_relevant": torch.zeros(2, 4)}, attrs, TINY)
    with pytest.raises(ValueError, match=r"attrs must be \[B, 3\]"):
        attribute_loss({"id_relevant": torch.zeros(2, 5)}, attrs[:, :2], TINY)
    with pytest.raises(ValueError, match="unknown attribute stream 'colour'"):
        attribute_loss({"colour": torch.zeros(2, 5)}, attrs, TINY)
    with pytest.raises(ValueError, match=r"^attribute_loss needs at least one attribute stream's logits, got none$"):
        attribute_loss({}, attrs, TINY)


def test_a_groups_labels_are_a_view_where_its_columns_are_side_by_side_and_gathered_elsewhere():
    from aitl_reid.losses.attribute import group_labels

    attrs = torch.tensor([[0, 1, 1], [2, 0, 0]])
    relevant = group_labels(attrs, TINY, "id_relevant")
    assert torch.equal(relevant, attrs[:, [0, 1]]) and relevant.data_ptr() == attrs.data_ptr()  # a slice, no copy
    assert group_labels(attrs, TINY, "id_irrelevant").tolist() == [[1], [0]]
    apart = AttributeSchema("apart", ("color", "pose", "bag"), (3, 2, 2), ("id_relevant", "id_irrelevant", "id_relevant"),
                            ("p", "c", "t"))
    assert group_labels(attrs, apart, "id_relevant").tolist() == [[0, 1], [2, 0]]
    assert group_labels(attrs, apart, "id_irrelevant").tolist() == [[1], [0]]
    irrelevant = group_labels(attrs, TINY, "id_irrelevant")  # column 2: a slice too, not from column 0
    assert irrelevant.tolist() == [[1], [0]] and irrelevant.untyped_storage().data_ptr() == attrs.untyped_storage().data_ptr()
    relevant_only = AttributeSchema("rel", ("color", "bag"), (3, 2), ("id_relevant", "id_relevant"), ("p", "c", "t"))
    assert group_labels(attrs[:, :2], relevant_only, "id_irrelevant").shape == (2, 0)  # a group without attributes


def test_float64_logits_give_the_bce_written_out_in_float64():
    """Float64 stays float64 (targets are made in the logits' dtype): the masked mean of -t log s - (1 - t) log(1 - s)."""
    logits = torch.tensor([[0.3, -1.2, 2.0, 0.7, -0.4], [1.1, 0.2, -0.9, -2.0, 0.5]], dtype=torch.float64)
    attrs = torch.tensor([[2, 0, 1], [-1, 1, 0]])  # row 1: color missing, bag = 1
    targets = [[0, 0, 1, 1, 0], [None, None, None, 0, 1]]
    terms = [-math.log(1 / (1 + math.exp(-x))) if t else -math.log(1 - 1 / (1 + math.exp(-x)))
             for row_x, row_t in zip(logits.tolist(), targets) for x, t in zip(row_x, row_t) if t is not None]
    loss = attribute_loss({"id_relevant": logits}, attrs, TINY, "bce")
    assert loss.dtype == torch.float64 and loss.item() == pytest.approx(sum(terms) / len(terms), rel=1e-12)
