"""Build this plugin's models by name or from a config: the one door is :func:`build_model`.

Names resolve through the registry (:func:`aitl_reid.registry.model_entrypoint`): the registered
names (``asta_resnet50``, ...) are the common ones, and ``asta_<backbone>`` or ``tp_<backbone>``
builds for any torchreid backbone with ``featuremaps()`` (e.g. ``asta_se_resnet50``).
"""
from __future__ import annotations

from typing import Optional

from torch import nn
from yacs.config import CfgNode

from ..registry import PRETRAINED_DEFAULT, model_entrypoint, split_model_name
from ..schema import AttributeSchema


def build_model(name: str, num_classes: int, loss: str = "softmax", pretrained: bool = PRETRAINED_DEFAULT,
                **kwargs) -> nn.Module:
    """Build the model ``name`` (see the module docstring); ``kwargs`` go to its builder (size,
    schema, ASTA switches). Same model, same defaults as ``torchreid.models.build_model(name, ...)``."""
    return model_entrypoint(name)(num_classes, loss=loss, pretrained=pretrained, **kwargs)


def build_model_from_config(cfg: CfgNode, num_classes: int, schema: AttributeSchema,
                            pretrained: Optional[bool] = None) -> nn.Module:
    """Build ``cfg.model.name`` with ``cfg.model.pretrained*``, ``cfg.data.height/width`` and ``cfg.model.asta.*``.

    ``pretrained`` overrides ``cfg.model.pretrained``: False where the weights come from a file anyway (a resumed
    checkpoint, ``model.load_weights``), so that ImageNet weights are not fetched only to be overwritten.
    """
    family, _ = split_model_name(cfg.model.name)
    asta = cfg.model.asta
    kwargs = dict(
        pretrained=cfg.model.pretrained if pretrained is None else pretrained,
        pretrained_path=cfg.model.pretrained_path,
        height=cfg.data.height,
        width=cfg.data.width,
        last_stride=asta.last_stride,
        stem_relu=asta.stem_relu,
        test_feature=asta.test_feature,
        schema=schema,
    )
    if family == "asta":
        kwargs.update(
            id_relevant_stream=asta.id_relevant_stream,
            id_irrelevant_stream=asta.id_irrelevant_stream,
            detach_streams=asta.detach_streams,
            reid_spatial_attention=asta.reid_spatial_attention,
            stream_width=asta.stream_width,
            stream_kernel=asta.stream_kernel,
            spatial_kernel=asta.spatial_kernel,
            temporal_kernel=asta.temporal_kernel,
            fuse_attention=asta.fuse_attention,
            reid_stream=asta.reid_stream,
            attribute_bn=asta.attribute_bn,
            attention_norm=asta.attention_norm,
            temporal_init=asta.temporal_init,
            attention_pooling=asta.attention_pooling,
            detach_fused_attention=asta.detach_fused_attention,
            stream_conv_bias=asta.stream_conv_bias,
            fused_copy_input=asta.fused_copy_input,
            fused_order=asta.fused_order,
            init=asta.init,
        )
    return build_model(cfg.model.name, num_classes, **kwargs)
