"""Video re-ID datasets with tracklet attributes, clip sampling, clip-consistent transforms and loaders.

The synthetic dataset's renderer is :mod:`aitl_reid.synthetic`, imported only by what renders.

Importing this package registers ``mars_attr`` and ``dukemtmcvidreid_attr`` with torchreid.
"""
from ..schema import AttributeSchema
from .attributes_csv import AttributeCSVError
from .datamanager import VideoAttributeDataManager, build_datamanager, check_dataset_files
from .dataset import VideoAttributeDataset
from .duke import DukeMTMCVidReIDAttr
from .file_checks import DatasetFileError, DatasetNotFoundError
from .image_io import FrameReadError
from .mars import MarsAttr
from .mat_files import MatFileError

__all__ = [
    "AttributeCSVError",
    "AttributeSchema",
    "DatasetFileError",
    "DatasetNotFoundError",
    "DukeMTMCVidReIDAttr",
    "FrameReadError",
    "MarsAttr",
    "MatFileError",
    "VideoAttributeDataManager",
    "VideoAttributeDataset",
    "build_datamanager",
    "check_dataset_files",
]
