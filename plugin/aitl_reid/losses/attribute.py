"""Attribute loss (the paper's L_BCE in Eq. 4): BCE with logits on one-hot targets per stream.

Missing annotations (-1) are masked out unit by unit through ``AttributeSchema.one_hot``, so they
are never trained as class 0. Each stream's loss is the mean over its valid units; the attribute
loss is the SUM over streams (each stream is its own task, as each has its own classifier), and a
stream with no valid unit in the batch contributes 0 rather than NaN.
"""
from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F
from torch import nn

from ..data.schema import STREAM_GROUPS, AttributeSchema
from .distances import at_least_float32


def check_attribute_batch(attr_logits: Dict[str, torch.Tensor], attrs: torch.Tensor, schema: AttributeSchema) -> None:
    """Raise a ValueError unless ``attrs`` is ``[B, len(schema.names)]`` and each stream's logits ``[B, width]``."""
    if attrs.dim() != 2 or attrs.shape[1] != len(schema.names):
        raise ValueError(
            f"attrs must be [B, {len(schema.names)}] (one column per attribute of schema '{schema.name}'), "
            f"got shape {tuple(attrs.shape)}"
        )
    for stream, logits in attr_logits.items():
        if stream not in STREAM_GROUPS:
            raise ValueError(f"unknown attribute stream '{stream}', expected one of {STREAM_GROUPS}")
        width = schema.total_classes(stream)
        if tuple(logits.shape) != (attrs.shape[0], width):
            raise ValueError(
                f"attr_logits['{stream}'] must be [{attrs.shape[0]}, {width}] for schema '{schema.name}', "
                f"got shape {tuple(logits.shape)}"
            )


def attribute_loss_per_stream(
    attr_logits: Dict[str, torch.Tensor], attrs: torch.Tensor, schema: AttributeSchema
) -> Dict[str, torch.Tensor]:
    """Masked-mean BCE of each stream in ``attr_logits`` against ``attrs [B, len(schema.names)]``."""
    check_attribute_batch(attr_logits, attrs, schema)
    losses = {}
    for stream, logits in attr_logits.items():
        targets, mask = schema.one_hot(attrs, stream)
        with torch.autocast(device_type=logits.device.type, enabled=False):
            x = at_least_float32(logits)
            mask = mask.to(x)
            bce = F.binary_cross_entropy_with_logits(x, targets.to(x), reduction="none")
            losses[stream] = (bce * mask).sum() / mask.sum().clamp(min=1.0)
    return losses


def attribute_loss(attr_logits: Dict[str, torch.Tensor], attrs: torch.Tensor, schema: AttributeSchema) -> torch.Tensor:
    """Sum over streams of :func:`attribute_loss_per_stream`; raises if ``attr_logits`` is empty."""
    if not attr_logits:
        raise ValueError("attribute_loss needs at least one attribute stream's logits, got none")
    return torch.stack(list(attribute_loss_per_stream(attr_logits, attrs, schema).values())).sum()


class AttributeLoss(nn.Module):
    """Module form of :func:`attribute_loss`, bound to one schema."""

    def __init__(self, schema: AttributeSchema) -> None:
        super().__init__()
        self.schema = schema

    def forward(self, attr_logits: Dict[str, torch.Tensor], attrs: torch.Tensor) -> torch.Tensor:
        return attribute_loss(attr_logits, attrs, self.schema)
