"""Attribute recognition report: per-attribute accuracy and macro F1, means, table and dict."""
import math

import pytest
import torch

from aitl_reid.schema import AttributeSchema
from aitl_reid.metrics import attribute_recognition_metrics, majority_classes

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


# Four attributes, one name with a space, one labelled in a single row, one never labelled: every score
# below is worked out by hand (comments), the table and the dict written out from those numbers.
FOUR = AttributeSchema("four", ("hair color", "bag", "pose", "shoes"), (3, 2, 2, 2),
                       ("id_relevant", "id_relevant", "id_irrelevant", "id_irrelevant"), ("p", "c", "t"))


def _four_report():
    one_hot = lambda preds, k: torch.nn.functional.one_hot(torch.tensor(preds), k).float()  # noqa: E731
    logits = {"id_relevant": torch.cat([one_hot([0, 1, 2], 3), one_hot([1, 1, 0], 2)], 1),
              "id_irrelevant": torch.cat([one_hot([0, 1, 1], 2), one_hot([0, 0, 0], 2)], 1)}
    # hair color: labels [0,1,1], preds [0,1,2]: acc 2/3, F1 (1 + 2/3 + 0) / 3 = 5/9
    # bag: labels [1,0,-], preds [1,1]: acc 1/2, F1 (0 + 2/3) / 2 = 1/3;  pose: label [-,-,1], pred 1: acc 1, F1 1
    attrs = torch.tensor([[0, 1, -1, -1], [1, 0, -1, -1], [1, -1, 1, -1]])
    # majority (training): hair color 1, bag 0, pose 0, shoes none
    # -> hair color acc 2/3, F1 (0 + 4/5) / 2 = 2/5; bag acc 1/2, F1 (2/3 + 0) / 2 = 1/3; pose acc 0, F1 0
    majority = majority_classes(torch.tensor([[1, 0, 0, -1], [1, 1, 0, -1], [0, 0, 1, -1]]), FOUR)
    return attribute_recognition_metrics(logits, attrs, FOUR, majority), majority


def test_majority_is_minus_one_for_an_attribute_never_labelled_in_training():
    assert _four_report()[1].tolist() == [1, 0, 0, -1]


def test_dict_holds_every_score_and_mean_worked_out_by_hand():
    nan = math.nan
    expected = {
        "attr/id_relevant/hair_color/accuracy": 2 / 3, "attr/id_relevant/hair_color/f1": 5 / 9,
        "attr/id_relevant/hair_color/majority_accuracy": 2 / 3,
        "attr/id_relevant/bag/accuracy": 1 / 2, "attr/id_relevant/bag/f1": 1 / 3, "attr/id_relevant/bag/majority_accuracy": 1 / 2,
        "attr/id_irrelevant/pose/accuracy": 1.0, "attr/id_irrelevant/pose/f1": 1.0, "attr/id_irrelevant/pose/majority_accuracy": 0.0,
        "attr/id_irrelevant/shoes/accuracy": nan, "attr/id_irrelevant/shoes/f1": nan,
        "attr/id_irrelevant/shoes/majority_accuracy": nan,
        # group means over labelled attributes only (shoes has none; pose's single label counts)
        "attr/id_relevant/mean_accuracy": 7 / 12, "attr/id_relevant/mean_f1": 4 / 9,
        "attr/id_relevant/majority_accuracy": 7 / 12, "attr/id_relevant/majority_f1": 11 / 30,
        "attr/id_irrelevant/mean_accuracy": 1.0, "attr/id_irrelevant/mean_f1": 1.0,
        "attr/id_irrelevant/majority_accuracy": 0.0, "attr/id_irrelevant/majority_f1": 0.0,
        "attr/mean_accuracy": 13 / 18, "attr/mean_f1": 17 / 27, "attr/majority_accuracy": 7 / 18, "attr/majority_f1": 11 / 45,
    }
    assert _four_report()[0].as_dict() == pytest.approx(expected, nan_ok=True)


def test_table_shows_the_hand_worked_scores_in_percent_and_a_dash_where_there_are_none():
    expected = """\
attribute           group               n    acc%    maj%     F1%  majF1%
-------------------------------------------------------------------------
hair color          id_relevant         3   66.67   66.67   55.56   40.00
bag                 id_relevant         2   50.00   50.00   33.33   33.33
pose                id_irrelevant       1  100.00    0.00  100.00    0.00
shoes               id_irrelevant       0       -       -       -       -
-------------------------------------------------------------------------
mean id_relevant                            58.33   58.33   44.44   36.67
mean id_irrelevant                         100.00    0.00  100.00    0.00
mean (all)                                  72.22   38.89   62.96   24.44
maj = always the most frequent training class"""
    assert _four_report()[0].format_table() == expected


@pytest.mark.parametrize("label", [2, 3])
def test_a_label_beyond_the_attributes_classes_is_an_error_naming_it(label):
    logits = _logits_for([0], [0], [0])
    with pytest.raises(ValueError, match=rf"^attribute 'bag' has label {label} but only 2 classes$"):
        attribute_recognition_metrics(logits, torch.tensor([[0, label, 0]]), TINY)
