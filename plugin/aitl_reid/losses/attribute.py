"""Attribute loss (the paper's L_BCE in Eq. 4), in two forms, and the loss of the label prior.

``"bce"`` (paper, released code): BCE with logits on the one-hot targets of a stream, the mean over
its valid units. ``"softmax"``: one cross-entropy per attribute over its own block of class units,
the mean over the valid (tracklet, attribute) pairs. The softmax form treats an attribute with k
classes as one decision instead of k independent ones, and its mean over attributes instead of
over ~40 units gives each attribute a k-times stronger pull on the shared layers (docs/FIDELITY.md).

Missing annotations (-1) never count. The attribute loss is the SUM over streams (each stream is
its own task with its own classifier); a stream with no valid label in the batch contributes 0.
"""
from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F
from torch import nn

from ..schema import AttributeSchema
from .distances import at_least_float32

ATTRIBUTE_LOSSES = ("bce", "softmax")
DEFAULT_ATTRIBUTE_LOSS = "softmax"  # cfg.loss.attribute.type's default too (a test keeps them equal)
_PRIOR_EPS = 1e-6  # keeps the prior's logits finite for a class never seen in training


def check_form(form: str) -> str:
    if form not in ATTRIBUTE_LOSSES:
        raise ValueError(f"loss.attribute.type must be one of {ATTRIBUTE_LOSSES}, got '{form}'")
    return form


def group_labels(attrs: torch.Tensor, schema: AttributeSchema, group: str) -> torch.Tensor:
    """The columns of ``attrs`` ``[B, len(schema.names)]`` that belong to ``group``, ``[B, len(schema.indices(group))]``.

    Every released schema keeps a group's attributes side by side, and then this is a slice (a view). Indexing a GPU
    tensor with a Python list would first copy the list to the device and wait for that copy; other schemas'
    columns are gathered with an index sent without waiting.
    """
    cols = schema.indices(group)
    start = cols[0] if cols else 0
    if cols == list(range(start, start + len(cols))):
        return attrs[:, start:start + len(cols)]
    return attrs.index_select(1, torch.tensor(cols).to(attrs.device, non_blocking=True))


def _bce(logits: torch.Tensor, attrs: torch.Tensor, schema: AttributeSchema, stream: str) -> torch.Tensor:
    targets, mask = schema.one_hot(attrs, stream)
    mask = mask.to(logits)
    bce = F.binary_cross_entropy_with_logits(logits, targets.to(logits), reduction="none")
    return (bce * mask).sum() / mask.sum().clamp(min=1.0)


def _softmax_ce(logits: torch.Tensor, attrs: torch.Tensor, schema: AttributeSchema, stream: str) -> torch.Tensor:
    total, count = logits.new_zeros(()), logits.new_zeros(())
    for col, block in schema.blocks(stream):
        labels = attrs[:, col]
        valid = labels >= 0
        ce = F.cross_entropy(logits[:, block], labels.clamp(min=0), reduction="none")
        total = total + (ce * valid.to(ce)).sum()
        count = count + valid.sum()
    return total / count.clamp(min=1.0)


def attribute_loss_per_stream(
    attr_logits: Dict[str, torch.Tensor], attrs: torch.Tensor, schema: AttributeSchema, form: str = DEFAULT_ATTRIBUTE_LOSS
) -> Dict[str, torch.Tensor]:
    """Masked loss of each stream in ``attr_logits`` against ``attrs [B, len(schema.names)]``."""
    schema.check_batch(attr_logits, attrs)
    per_stream = _softmax_ce if check_form(form) == "softmax" else _bce
    losses = {}
    for stream, logits in attr_logits.items():
        with torch.autocast(device_type=logits.device.type, enabled=False):
            losses[stream] = per_stream(at_least_float32(logits), attrs, schema, stream)
    return losses


def attribute_loss(
    attr_logits: Dict[str, torch.Tensor], attrs: torch.Tensor, schema: AttributeSchema, form: str = DEFAULT_ATTRIBUTE_LOSS
) -> torch.Tensor:
    """Sum over streams of :func:`attribute_loss_per_stream`; raises if ``attr_logits`` is empty."""
    if not attr_logits:
        raise ValueError("attribute_loss needs at least one attribute stream's logits, got none")
    return torch.stack(list(attribute_loss_per_stream(attr_logits, attrs, schema, form).values())).sum()


def prior_logits(attrs: torch.Tensor, schema: AttributeSchema, stream: str, form: str = DEFAULT_ATTRIBUTE_LOSS) -> torch.Tensor:
    """Constant logits ``[total_classes]`` that predict each class with its frequency in ``attrs``.

    For BCE each unit's logit is ``log(p / (1 - p))``; for softmax each block holds ``log(p)``.
    Frequencies are over the annotated rows of each attribute (-1 skipped).
    """
    parts = []
    for col, block in schema.blocks(stream):
        labels = attrs[:, col].long()
        counts = torch.bincount(labels[labels >= 0], minlength=block.stop - block.start).double()
        p = (counts / counts.sum().clamp(min=1.0)).clamp(_PRIOR_EPS, 1.0 - _PRIOR_EPS)
        parts.append(torch.log(p) if check_form(form) == "softmax" else torch.log(p / (1.0 - p)))
    return torch.cat(parts).float() if parts else torch.zeros(0)


def prior_attribute_loss(attrs: torch.Tensor, schema: AttributeSchema, streams, form: str = DEFAULT_ATTRIBUTE_LOSS) -> Dict[str, float]:
    """Per stream, the loss of always predicting the label frequencies of ``attrs`` (the prior), on ``attrs``.

    A stream whose training loss stays at this value has learned nothing beyond the label prior.
    """
    attrs = attrs.long()
    logits = {s: prior_logits(attrs, schema, s, form).expand(attrs.shape[0], -1) for s in streams}
    return {s: float(v) for s, v in attribute_loss_per_stream(logits, attrs, schema, form).items()}


class AttributeLoss(nn.Module):
    """Module form of :func:`attribute_loss`, bound to one schema and form."""

    def __init__(self, schema: AttributeSchema, form: str = DEFAULT_ATTRIBUTE_LOSS) -> None:
        super().__init__()
        self.schema = schema
        self.form = check_form(form)

    def forward(self, attr_logits: Dict[str, torch.Tensor], attrs: torch.Tensor) -> torch.Tensor:
        return attribute_loss(attr_logits, attrs, self.schema, self.form)
