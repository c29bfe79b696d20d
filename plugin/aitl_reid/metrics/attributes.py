"""Attribute recognition scores: per-attribute accuracy and macro F1, with means per stream group.

Each attribute's prediction is the argmax over its own block of the stream's logits (the blocks
follow the schema order, as in ``AttributeSchema.one_hot``). Rows whose label is -1 are skipped for
that attribute only. Macro F1 averages the classes that occur in the labels or the predictions
(scikit-learn's convention), so a class absent from both does not count as F1 = 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Tuple

import torch

from ..data.schema import STREAM_GROUPS, AttributeSchema
from ..losses.attribute import check_attribute_batch


@dataclass(frozen=True)
class AttributeScore:
    """Scores of one attribute over the rows where it is annotated (NaN when there are none)."""

    name: str
    group: str
    accuracy: float
    f1: float
    count: int


@dataclass(frozen=True)
class AttributeReport:
    """Per-attribute scores; group and overall means are over attributes with at least one label."""

    scores: Tuple[AttributeScore, ...]

    def mean(self, group: str = "") -> Tuple[float, float]:
        """Mean (accuracy, F1) over the attributes of ``group`` (all attributes when empty)."""
        rows = [s for s in self.scores if s.count > 0 and (not group or s.group == group)]
        if not rows:
            return math.nan, math.nan
        return sum(s.accuracy for s in rows) / len(rows), sum(s.f1 for s in rows) / len(rows)

    def groups(self) -> List[str]:
        """The stream groups present in the report, in STREAM_GROUPS order."""
        return [g for g in STREAM_GROUPS if any(s.group == g for s in self.scores)]

    def format_table(self) -> str:
        """A fixed-width text table (accuracy and F1 in percent) for the training log."""
        width = max([len("attribute")] + [len(s.name) for s in self.scores] + [len(f"mean {g}") for g in STREAM_GROUPS])
        group_width = max(len(g) for g in STREAM_GROUPS)
        lines = [f"{'attribute':<{width}}  {'group':<{group_width}}  {'n':>6}  {'acc%':>6}  {'F1%':>6}"]
        lines.append("-" * len(lines[0]))
        for s in self.scores:
            lines.append(f"{s.name:<{width}}  {s.group:<{group_width}}  {s.count:>6d}  {_pct(s.accuracy)}  {_pct(s.f1)}")
        lines.append("-" * len(lines[0]))
        for label, group in [(f"mean {g}", g) for g in self.groups()] + [("mean (all)", "")]:
            acc, f1 = self.mean(group)
            lines.append(f"{label:<{width}}  {'':<{group_width}}  {'':>6}  {_pct(acc)}  {_pct(f1)}")
        return "\n".join(lines)

    def as_dict(self) -> Dict[str, float]:
        """Flat ``{'attr/<group>/<name>/accuracy': value, ...}`` in [0, 1] for CSV and tensorboard."""
        out: Dict[str, float] = {}
        for s in self.scores:
            key = f"attr/{s.group}/{s.name.replace(' ', '_')}"
            out[f"{key}/accuracy"] = s.accuracy
            out[f"{key}/f1"] = s.f1
        for group in self.groups():
            out[f"attr/{group}/mean_accuracy"], out[f"attr/{group}/mean_f1"] = self.mean(group)
        out["attr/mean_accuracy"], out["attr/mean_f1"] = self.mean()
        return out


def attribute_recognition_metrics(
    attr_logits: Dict[str, torch.Tensor], attrs: torch.Tensor, schema: AttributeSchema
) -> AttributeReport:
    """Score every attribute of the streams in ``attr_logits`` against ``attrs [N, len(schema.names)]``."""
    check_attribute_batch(attr_logits, attrs, schema)
    attrs = attrs.detach().cpu().long()
    scores = []
    for group in STREAM_GROUPS:
        if group not in attr_logits:
            continue
        logits = attr_logits[group].detach().cpu()
        offset = 0
        for col in schema.indices(group):
            k = schema.num_classes[col]
            labels = attrs[:, col]
            valid = labels >= 0
            pred = logits[valid, offset : offset + k].argmax(1)
            scores.append(_score(schema.names[col], group, pred, labels[valid], k))
            offset += k
    return AttributeReport(tuple(scores))


def _score(name: str, group: str, pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> AttributeScore:
    """Accuracy and macro F1 of one attribute's predicted classes against its labels."""
    count = int(target.numel())
    if count == 0:
        return AttributeScore(name, group, math.nan, math.nan, 0)
    if int(target.max()) >= num_classes:
        raise ValueError(f"attribute '{name}' has label {int(target.max())} but only {num_classes} classes")
    true_pos = torch.bincount(target[pred == target], minlength=num_classes).double()
    support = torch.bincount(pred, minlength=num_classes) + torch.bincount(target, minlength=num_classes)
    present = support > 0
    f1 = (2.0 * true_pos[present] / support[present]).mean().item()
    return AttributeScore(name, group, (pred == target).double().mean().item(), f1, count)


def _pct(value: float) -> str:
    return f"{'-':>6}" if math.isnan(value) else f"{100.0 * value:6.2f}"
