"""Signs of whether the attribute streams and their attention learn, logged per epoch (never trained on).

A stream that predicts only the label frequencies has a training loss at the prior loss; an attention
whose values sit at 0 or 1 passes no gradient through its sigmoid; an AITL whose attribute-chosen
positive agrees with the annotated attributes no more often than chance selects blindly. Each of these
is measured on the training batches and averaged over the epoch by :class:`EpochMeans`.
"""
from __future__ import annotations

from typing import Dict, Mapping

import torch

from ..losses import UnifiedLoss
from ..models.outputs import ReIDOutput
from ..schema import AttributeSchema

ALIVE_RANGE = (0.05, 0.95)  # an attention value outside it sits where the sigmoid passes almost no gradient
_ANCHORS, _AGREE, _CHANCE = "aitl_anchors_", "aitl_agree_", "aitl_chance_"


def attention_alive_fraction(attention: torch.Tensor) -> float:
    """Fraction of attention values strictly inside :data:`ALIVE_RANGE` (saturation diagnostic)."""
    low, high = ALIVE_RANGE
    return float(((attention > low) & (attention < high)).float().mean())


def attribute_accuracy(logits: torch.Tensor, attrs: torch.Tensor, schema: AttributeSchema, group: str) -> float:
    """Fraction of the annotated (row, attribute) pairs of ``group`` whose predicted class is right (NaN if none)."""
    predicted, _ = schema.predict(logits.detach(), group)
    labels = attrs[:, schema.indices(group)]
    valid = labels >= 0
    return float((predicted == labels)[valid].float().mean()) if bool(valid.any()) else float("nan")


def batch_diagnostics(output: ReIDOutput, pids: torch.Tensor, attrs: torch.Tensor, schema: AttributeSchema,
                      criterion: UnifiedLoss) -> Dict[str, float]:
    """Per-batch attribute accuracy and attention liveness per stream, and AITL's selection agreement counts."""
    values: Dict[str, float] = {}
    for stream, logits in output.attr_logits.items():
        values[f"attr_train_acc_{stream}"] = attribute_accuracy(logits, attrs, schema, stream)
    for stream, attention in output.attention.items():
        values[f"attn_alive_{stream}"] = attention_alive_fraction(attention.detach())
    if output.reid_attention is not None:
        values["attn_alive_reid"] = attention_alive_fraction(output.reid_attention.detach())
    if output.attr_logits and criterion.aitl_enabled and criterion.aitl_selection == "attribute":
        values.update(criterion.selection_diagnostics(output, pids, attrs))
    return values


class EpochMeans:
    """Running per-epoch means of logged values; a NaN (nothing to measure in that batch) is skipped.

    :meth:`means` adds each stream's prior loss beside its training loss and turns AITL's per-batch
    counts into the epoch's agreement rate, chance rate and number of informative anchors.
    """

    def __init__(self, attribute_prior: Mapping[str, float]) -> None:
        self.attribute_prior = dict(attribute_prior)
        self.reset()

    def reset(self) -> None:
        self._sums: Dict[str, float] = {}
        self._counts: Dict[str, int] = {}

    def add(self, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            if value == value:
                self._sums[name] = self._sums.get(name, 0.0) + value
                self._counts[name] = self._counts.get(name, 0) + 1

    def means(self) -> Dict[str, float]:
        counted = (_ANCHORS, _AGREE, _CHANCE)  # per-batch counts: summed over the epoch, then divided below
        means = {name: total / self._counts[name] for name, total in self._sums.items() if not name.startswith(counted)}
        for stream, prior in self.attribute_prior.items():
            if f"loss_attr_{stream}" in means:
                means[f"prior_attr_{stream}"] = prior
        for name in [n for n in self._sums if n.startswith(_ANCHORS)]:
            stream, anchors = name[len(_ANCHORS):], self._sums[name]
            if anchors > 0:
                means[f"aitl_agreement_{stream}"] = self._sums[_AGREE + stream] / anchors
                means[_CHANCE + stream] = self._sums[_CHANCE + stream] / anchors
                means[name] = anchors
        return means
