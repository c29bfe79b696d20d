"""What ASTA and the temporal-pooling baseline share: pooling, the BNNeck head and the output contract.

Sharing them keeps the paper's comparison fair (same neck, same classifier, same test feature)
and gives the engine one behaviour: train mode returns a :class:`ReIDOutput`; eval mode returns
the test feature ``[B, D]`` so torchreid's own evaluation works, or the full output on request.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Dict, Optional, Tuple, Union

import torch
from torch import nn

from .backbones import FrameBackbone
from .outputs import ReIDOutput

TEST_FEATURES: Tuple[str, ...] = ("after_bn", "before_bn")


ATTENTION_POOLINGS: Tuple[str, ...] = ("mean", "normalised")


def pool_clip(maps: torch.Tensor, weights: Optional[torch.Tensor] = None, pooling: str = "mean") -> torch.Tensor:
    """Average ``[B, T, C, h, w]`` over time and space, optionally weighted by ``[B, T, h, w]``: ``[B, C]``.

    ``pooling="mean"``: the weights multiply the features before a plain mean, as in the paper's
    "attention-weighted feature, then spatio-temporal average pooling". ``"normalised"``: a weighted
    mean (weights divided by their sum over the clip), so only where the attention is high relative
    to the rest of the clip counts. With the plain mean, attention that is LOW on the person encodes
    the person just as well through a sign-flipped classifier (the pooled feature is the plain mean
    minus the person part), so nothing makes the map follow the person; the weighted mean is a convex
    combination of positions and has no such mirror solution.
    """
    if weights is None:
        return maps.mean(dim=(1, 3, 4))
    weighted = torch.einsum("btchw,bthw->bc", maps, weights)
    if pooling == "normalised":
        return weighted / weights.sum(dim=(1, 2, 3)).clamp(min=1e-6).unsqueeze(1)
    if pooling != "mean":
        raise ValueError(f"attention pooling must be one of {ATTENTION_POOLINGS}, got {pooling!r}")
    t, h, w = weights.shape[1:]
    return weighted / (t * h * w)


class BNNeck(nn.Module):
    """BatchNorm1d with a frozen bias, then a bias-free identity classifier (Luo et al.'s BNNeck).

    The metric losses read the feature before the BatchNorm, cross-entropy the one after it.
    """

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(dim)
        self.bn.bias.requires_grad_(False)
        self.classifier = nn.Linear(dim, num_classes, bias=False)
        nn.init.normal_(self.classifier.weight, std=0.001)

    def forward(self, features: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(normalised feature, identity logits)``."""
        normalised = self.bn(features)
        return normalised, self.classifier(normalised)


class VideoReIDModel(nn.Module, ABC):
    """A clip model with a BNNeck head; subclasses compute the pooled feature and extras.

    Args:
        backbone: per-frame feature extractor.
        feature_dim: size ``D`` of the pooled Re-ID feature.
        num_classes: training identities.
        test_feature: ``"after_bn"`` (default) or ``"before_bn"``: what eval mode returns and what
            ``ReIDOutput.embedding`` holds.
    """

    def __init__(self, backbone: FrameBackbone, feature_dim: int, num_classes: int, test_feature: str = "after_bn") -> None:
        super().__init__()
        if test_feature not in TEST_FEATURES:
            raise ValueError(f"test_feature must be one of {TEST_FEATURES}, got {test_feature!r}")
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
        self.backbone = backbone
        self.feature_dim = feature_dim
        self.test_feature = test_feature
        self.neck = BNNeck(feature_dim, num_classes)

    @abstractmethod
    def compute(self, clips: torch.Tensor) -> ReIDOutput:
        """The full output for clips ``[B, T, C, H, W]``."""

    def forward(self, clips: torch.Tensor, full_output: bool = False) -> Union[ReIDOutput, torch.Tensor]:
        """Train mode (or ``full_output=True``): :class:`ReIDOutput`; eval mode: the test feature ``[B, D]``."""
        out = self.compute(clips)
        if self.training or full_output:
            return out
        return out.embedding

    def _output(
        self,
        features: torch.Tensor,
        attr_logits: Optional[Dict[str, torch.Tensor]] = None,
        attention: Optional[Dict[str, torch.Tensor]] = None,
        reid_attention: Optional[torch.Tensor] = None,
    ) -> ReIDOutput:
        normalised, logits = self.neck(features)
        return ReIDOutput(
            logits=logits,
            features=features,
            embedding=normalised if self.test_feature == "after_bn" else features,
            attr_logits=attr_logits or {},
            attention=attention or {},
            reid_attention=reid_attention,
        )
