"""Models: ASTA (attribute-driven spatio-temporal attention) and the temporal-pooling baseline.

Importing this package registers ``asta_*`` and ``tp_*`` with torchreid's model factory.
"""
from .asta import ASTA, AttributeStream, build_asta
from .attention import SpatialAttention, SpatioTemporalAttention
from .backbones import SPATIAL_BACKBONES, FrameBackbone, build_backbone
from .base import BNNeck, VideoReIDModel, pool_clip
from .factory import build_model, build_model_from_config, split_model_name
from .flops import ModelCost, count_flops, count_parameters
from .outputs import ReIDOutput
from .pretrained import PRETRAINED_DIR_ENV, LoadReport, PretrainedWeightsNotFound, load_weights
from .sync_batchnorm import SyncBatchNorm, convert_sync_batchnorm
from .temporal_pooling import TemporalPooling, build_temporal_pooling

__all__ = [
    "ASTA", "AttributeStream", "build_asta", "SpatialAttention", "SpatioTemporalAttention",
    "SPATIAL_BACKBONES", "FrameBackbone", "build_backbone", "BNNeck", "VideoReIDModel", "pool_clip",
    "build_model", "build_model_from_config", "split_model_name", "ModelCost", "count_flops",
    "count_parameters", "ReIDOutput", "PRETRAINED_DIR_ENV", "LoadReport", "PretrainedWeightsNotFound",
    "load_weights", "SyncBatchNorm", "convert_sync_batchnorm", "TemporalPooling", "build_temporal_pooling",
]
