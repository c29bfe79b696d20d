"""Build this plugin's models by name or from a config.

Names are ``asta_<backbone>`` or ``tp_<backbone>`` with any torchreid backbone that has
``featuremaps()``; the registered names (``asta_resnet50``, ...) are the common ones, but e.g.
``asta_se_resnet50`` builds too.
"""
from __future__ import annotations

from typing import Callable, Dict, Tuple

from torch import nn
from yacs.config import CfgNode

from ..data.schema import AttributeSchema
from ..registry import list_models
from .asta import build_asta
from .temporal_pooling import build_temporal_pooling

_FAMILIES: Dict[str, Callable[..., nn.Module]] = {"asta": build_asta, "tp": build_temporal_pooling}


def split_model_name(name: str) -> Tuple[str, str]:
    """``'asta_resnet50'`` -> ``('asta', 'resnet50')``; the family is ``asta`` or ``tp``."""
    family, _, backbone = name.partition("_")
    if family not in _FAMILIES or not backbone:
        raise ValueError(
            f"unknown model '{name}': names are asta_<backbone> or tp_<backbone> "
            f"(registered: {', '.join(list_models())})"
        )
    return family, backbone


def build_model(name: str, num_classes: int, loss: str = "softmax", pretrained: bool = False, **kwargs) -> nn.Module:
    """Build ``asta_<backbone>`` or ``tp_<backbone>``; ``kwargs`` go to the family's builder."""
    family, backbone = split_model_name(name)
    return _FAMILIES[family](backbone, num_classes, loss=loss, pretrained=pretrained, **kwargs)


def build_model_from_config(cfg: CfgNode, num_classes: int, schema: AttributeSchema) -> nn.Module:
    """Build ``cfg.model.name`` with ``cfg.model.pretrained*``, ``cfg.data.height/width`` and ``cfg.model.asta.*``."""
    family, _ = split_model_name(cfg.model.name)
    asta = cfg.model.asta
    kwargs = dict(
        pretrained=cfg.model.pretrained,
        pretrained_path=cfg.model.pretrained_path,
        height=cfg.data.height,
        width=cfg.data.width,
        last_stride=asta.last_stride,
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
        )
    return build_model(cfg.model.name, num_classes, **kwargs)
