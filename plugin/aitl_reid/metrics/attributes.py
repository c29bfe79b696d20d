"""Attribute recognition scores: per-attribute accuracy and macro F1, with means per stream group.

Each attribute's prediction is the argmax over its own block of the stream's logits (the blocks
follow the schema order, ``AttributeSchema.blocks``). Rows whose label is -1 are skipped for that
attribute only. Macro F1 averages the classes that occur in the labels or the predictions
(scikit-learn's convention), so a class absent from both does not count as F1 = 0.

Beside each score stands the majority baseline: the same scores for always predicting the class
most frequent in the TRAINING labels. A head that learned nothing beyond the label prior scores
at (or below) its baseline, which a bare accuracy hides for rare classes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch

from ..schema import STREAM_GROUPS, AttributeSchema

NAN = math.nan


@dataclass(frozen=True)
class AttributeScore:
    """Scores of one attribute over the rows where it is annotated (NaN when there are none)."""

    name: str
    group: str
    accuracy: float
    f1: float
    count: int
    majority_accuracy: float = NAN
    majority_f1: float = NAN


@dataclass(frozen=True)
class AttributeReport:
    """Per-attribute scores; group and overall means are over attributes with at least one label."""

    scores: Tuple[AttributeScore, ...]

    def _rows(self, group: str) -> List[AttributeScore]:
        return [s for s in self.scores if s.count > 0 and (not group or s.group == group)]

    def mean(self, group: str = "") -> Tuple[float, float]:
        """Mean (accuracy, F1) over the attributes of ``group`` (all attributes when empty)."""
        rows = self._rows(group)
        if not rows:
            return NAN, NAN
        return sum(s.accuracy for s in rows) / len(rows), sum(s.f1 for s in rows) / len(rows)

    def majority_mean(self, group: str = "") -> Tuple[float, float]:
        """Mean (accuracy, F1) of the majority baseline over the same attributes as :meth:`mean`."""
        rows = self._rows(group)
        if not rows:
            return NAN, NAN
        return sum(s.majority_accuracy for s in rows) / len(rows), sum(s.majority_f1 for s in rows) / len(rows)

    def groups(self) -> List[str]:
        """The stream groups present in the report, in STREAM_GROUPS order."""
        return [g for g in STREAM_GROUPS if any(s.group == g for s in self.scores)]

    def format_table(self) -> str:
        """A fixed-width text table (percent) for the training log, the majority baseline beside each score."""
        width = max([len("attribute")] + [len(s.name) for s in self.scores] + [len(f"mean {g}") for g in STREAM_GROUPS])
        group_width = max(len(g) for g in STREAM_GROUPS)
        head = f"{'attribute':<{width}}  {'group':<{group_width}}  {'n':>6}  {'acc%':>6}  {'maj%':>6}  {'F1%':>6}  {'majF1%':>6}"
        lines = [head, "-" * len(head)]
        for s in self.scores:
            lines.append(f"{s.name:<{width}}  {s.group:<{group_width}}  {s.count:>6d}  {_pct(s.accuracy)}  "
                         f"{_pct(s.majority_accuracy)}  {_pct(s.f1)}  {_pct(s.majority_f1)}")
        lines.append("-" * len(head))
        for label, group in [(f"mean {g}", g) for g in self.groups()] + [("mean (all)", "")]:
            (acc, f1), (maj_acc, maj_f1) = self.mean(group), self.majority_mean(group)
            lines.append(f"{label:<{width}}  {'':<{group_width}}  {'':>6}  {_pct(acc)}  {_pct(maj_acc)}  {_pct(f1)}  {_pct(maj_f1)}")
        lines.append("maj = always the most frequent training class")
        return "\n".join(lines)

    def as_dict(self) -> Dict[str, float]:
        """Flat ``{'attr/<group>/<name>/accuracy': value, ...}`` in [0, 1] for CSV and tensorboard."""
        out: Dict[str, float] = {}
        for s in self.scores:
            key = f"attr/{s.group}/{s.name.replace(' ', '_')}"
            out[f"{key}/accuracy"] = s.accuracy
            out[f"{key}/f1"] = s.f1
            out[f"{key}/majority_accuracy"] = s.majority_accuracy
        for group in self.groups():
            out[f"attr/{group}/mean_accuracy"], out[f"attr/{group}/mean_f1"] = self.mean(group)
            out[f"attr/{group}/majority_accuracy"], out[f"attr/{group}/majority_f1"] = self.majority_mean(group)
        out["attr/mean_accuracy"], out["attr/mean_f1"] = self.mean()
        out["attr/majority_accuracy"], out["attr/majority_f1"] = self.majority_mean()
        return out


def majority_classes(train_attrs: torch.Tensor, schema: AttributeSchema) -> torch.Tensor:
    """The most frequent class of each attribute in ``train_attrs [N, len(names)]`` (-1 where none is labelled).

    Ties go to the lowest class index.
    """
    out = torch.full((len(schema.names),), -1, dtype=torch.long)
    for col, k in enumerate(schema.num_classes):
        labels = train_attrs[:, col].long()
        labels = labels[labels >= 0]
        if labels.numel():
            out[col] = int(torch.bincount(labels, minlength=k).argmax())
    return out


def attribute_recognition_metrics(
    attr_logits: Dict[str, torch.Tensor],
    attrs: torch.Tensor,
    schema: AttributeSchema,
    majority: Optional[torch.Tensor] = None,
) -> AttributeReport:
    """Score every attribute of the streams in ``attr_logits`` against ``attrs [N, len(schema.names)]``.

    ``majority`` (from :func:`majority_classes` on the training labels) adds the baseline scores.
    """
    schema.check_batch(attr_logits, attrs)
    attrs = attrs.detach().cpu().long()
    scores = []
    for group in STREAM_GROUPS:
        if group not in attr_logits:
            continue
        predicted, _ = schema.predict(attr_logits[group].detach().cpu(), group)
        for index, col in enumerate(schema.indices(group)):
            labels = attrs[:, col]
            valid = labels >= 0
            target, k = labels[valid], schema.num_classes[col]
            accuracy, f1 = _score(schema.names[col], predicted[valid, index], target, k)
            baseline = (NAN, NAN)
            if majority is not None and int(majority[col]) >= 0:
                baseline = _score(schema.names[col], torch.full_like(target, int(majority[col])), target, k)
            scores.append(AttributeScore(schema.names[col], group, accuracy, f1, int(target.numel()), *baseline))
    return AttributeReport(tuple(scores))


def _score(name: str, pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> Tuple[float, float]:
    """Accuracy and macro F1 of one attribute's predicted classes against its labels (NaN without labels)."""
    if target.numel() == 0:
        return NAN, NAN
    if int(target.max()) >= num_classes:
        raise ValueError(f"attribute '{name}' has label {int(target.max())} but only {num_classes} classes")
    true_pos = torch.bincount(target[pred == target], minlength=num_classes).double()
    support = torch.bincount(pred, minlength=num_classes) + torch.bincount(target, minlength=num_classes)
    present = support > 0
    f1 = (2.0 * true_pos[present] / support[present]).mean().item()
    return (pred == target).double().mean().item(), f1


def _pct(value: float) -> str:
    return f"{'-':>6}" if math.isnan(value) else f"{100.0 * value:6.2f}"
