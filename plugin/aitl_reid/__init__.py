"""aitl_reid: AITL and ASTA for attribute-assisted video person re-identification, a torchreid plugin.

Importing this package registers its datasets and models with torchreid (idempotently), so
``torchreid.models.build_model('asta_resnet50', ...)`` and
``torchreid.data.datasets.init_video_dataset('mars_attr', ...)`` work after ``import aitl_reid``.
"""
from . import config, data, engine, losses, metrics, models, registry
from .registry import list_datasets, list_models
from .serialization import UntrustedFileError

__version__ = "0.1.0"
__all__ = ["config", "data", "engine", "losses", "metrics", "models", "registry", "list_models", "list_datasets",
           "UntrustedFileError"]
