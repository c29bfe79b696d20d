"""The structured output every model of this plugin returns in training mode.

One type for ASTA and the temporal-pooling baseline lets the unified loss, the engine and the
figure tools read logits, features, attribute predictions and attention maps by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

import torch


@dataclass
class ReIDOutput:
    """Outputs of one forward pass over clips ``[B, T, C, H, W]``.

    Attributes:
        logits: identity logits ``[B, num_classes]``.
        features: pooled Re-ID feature before the BNNeck ``[B, D]`` (for the metric losses).
        embedding: the feature used at test time ``[B, D]`` (after the BNNeck by default).
        attr_logits: per enabled attribute stream (``id_relevant`` / ``id_irrelevant``), the
            attribute logits ``[B, schema.total_classes(stream)]``.
        attention: per enabled attribute stream, the spatio-temporal attention ``[B, T, h, w]``.
    """

    logits: torch.Tensor
    features: torch.Tensor
    embedding: torch.Tensor
    attr_logits: Dict[str, torch.Tensor] = field(default_factory=dict)
    attention: Dict[str, torch.Tensor] = field(default_factory=dict)
    reid_attention: Optional[torch.Tensor] = None
