"""Attribute recognition report: per-attribute accuracy and macro F1, means, table and dict."""
import math

import pytest
import torch

from aitl_reid.schema import AttributeSchema
from aitl_reid.metrics import attribute_recognition_metrics

TINY = AttributeSchema("tiny", ("color", "bag", "pose"), (3, 2, 2), ("id_relevant", "id_relevant", "id_irrelevant"), ("p", "c", "t"))


def _logits_for(pred_color, pred_bag, pred_pose):
    """Logits whose argmax per attribute block is the given class."""
    rel = torch.zeros(len(pred_color), 5)
    rel[torch.arange(len(pred_color)), torch.tensor(pred_color)] = 1.0
    rel[torch.arange(len(pred_bag)), 3 + torch.tensor(pred_bag)] = 1.0
    irr = torch.zeros(len(pred_pose), 2)
    irr[torch.arange(len(pred_pose)), torch.tensor(pred_pose)] = 1.0
    return {"id_relevant": rel, "id_irrelevant": irr}


def test_hand_case_accuracy_macro_f1_and_missing_rows():
    # color: labels [0,0,1,2], preds [0,1,1,2] -> acc 3/4; F1 class0 = 2/3, class1 = 2/3, class2 = 1
    # bag:   labels [1,-1,0,1], preds [1,1,1,1] -> row 1 skipped; acc 2/3; F1 class0 = 0, class1 = 4/5
    # pose:  all missing -> NaN, count 0, left out of the means
    logits = _logits_for([0, 1, 1, 2], [1, 1, 1, 1], [0, 0, 0, 0])
    attrs = torch.tensor([[0, 1, -1], [0, -1, -1], [1, 0, -1], [2, 1, -1]])
    report = attribute_recognition_metrics(logits, attrs, TINY)
    color, bag, pose = report.scores
    assert (color.accuracy, color.count) == (pytest.approx(0.75), 4)
    assert color.f1 == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert (bag.accuracy, bag.count) == (pytest.approx(2 / 3), 3)
    assert bag.f1 == pytest.approx((0 + 0.8) / 2)
    assert pose.count == 0 and math.isnan(pose.accuracy)
    assert report.mean("id_relevant")[0] == pytest.approx((0.75 + 2 / 3) / 2)
    assert report.mean()[1] == pytest.approx((color.f1 + bag.f1) / 2)
    assert math.isnan(report.mean("id_irrelevant")[0])


def test_class_absent_from_labels_and_predictions_is_not_counted_in_macro_f1():
    logits = _logits_for([0, 1], [0, 0], [1, 1])
    report = attribute_recognition_metrics(logits, torch.tensor([[0, 0, 1], [1, 0, 1]]), TINY)
    assert report.scores[0].f1 == 1.0  # class 2 of color never appears: not an F1 of 0
    assert report.scores[1].f1 == 1.0


def test_table_and_dict_show_every_attribute_and_the_means():
    logits = _logits_for([0, 1], [0, 1], [1, 0])
    report = attribute_recognition_metrics(logits, torch.tensor([[0, 0, 1], [2, 1, 1]]), TINY)
    table = report.format_table()
    for text in ("color", "bag", "pose", "mean id_relevant", "mean id_irrelevant", "mean (all)", " 50.00", "100.00"):
        assert text in table
    values = report.as_dict()
    assert values["attr/id_relevant/color/accuracy"] == 0.5
    assert values["attr/id_irrelevant/pose/accuracy"] == 0.5
    assert values["attr/id_relevant/mean_accuracy"] == 0.75
    assert values["attr/mean_accuracy"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)


def test_only_the_given_streams_are_scored():
    logits = _logits_for([0], [0], [0])
    report = attribute_recognition_metrics({"id_irrelevant": logits["id_irrelevant"]}, torch.tensor([[0, 0, 0]]), TINY)
    assert [s.name for s in report.scores] == ["pose"]
    assert report.groups() == ["id_irrelevant"]


def test_wrong_logit_width_raises():
    with pytest.raises(ValueError, match=r"attr_logits\['id_relevant'\] must be \[1, 5\]"):
        attribute_recognition_metrics({"id_relevant": torch.zeros(1, 4)}, torch.tensor([[0, 0, 0]]), TINY)


def test_majority_baseline_from_training_labels_beside_each_score():
    from aitl_reid.metrics import majority_classes

    train = torch.tensor([[1, 0, 1], [1, 0, 1], [2, 1, -1], [0, 0, 1]])
    majority = majority_classes(train, TINY)
    assert majority.tolist() == [1, 0, 1]
    # test labels: color [1, 0, 1, 2] -> majority (class 1) accuracy 1/2, macro F1 over classes {0,1,2}: (0 + 2/3 + 0) / 3
    logits = _logits_for([1, 0, 1, 2], [0, 0, 0, 0], [1, 1, 1, 1])
    attrs = torch.tensor([[1, 0, 1], [0, 0, 1], [1, 1, 0], [2, 0, 1]])
    report = attribute_recognition_metrics(logits, attrs, TINY, majority)
    color = report.scores[0]
    assert (color.accuracy, color.majority_accuracy) == (1.0, 0.5)
    assert color.majority_f1 == pytest.approx((2 / 3) / 3)
    assert report.majority_mean("id_irrelevant")[0] == pytest.approx(0.75)
    assert "maj%" in report.format_table()
    assert report.as_dict()["attr/majority_accuracy"] == pytest.approx((0.5 + 0.75 + 0.75) / 3)
    assert math.isnan(attribute_recognition_metrics(logits, attrs, TINY).scores[0].majority_accuracy)
