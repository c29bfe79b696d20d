"""Video re-ID datasets with tracklet attributes, clip sampling, clip-consistent transforms and loaders.

Importing this package registers ``mars_attr`` and ``dukemtmcvidreid_attr`` with torchreid.
"""
from .datamanager import VideoAttributeDataManager, build_datamanager
from .dataset import VideoAttributeDataset
from .duke import DukeMTMCVidReIDAttr
from .image_io import FrameReadError
from .layout import DatasetNotFoundError
from .mars import MarsAttr
from .schema import AttributeSchema
from .synthetic import generate_synthetic_mars

__all__ = [
    "AttributeSchema",
    "DatasetNotFoundError",
    "DukeMTMCVidReIDAttr",
    "FrameReadError",
    "MarsAttr",
    "VideoAttributeDataManager",
    "VideoAttributeDataset",
    "build_datamanager",
    "generate_synthetic_mars",
]
