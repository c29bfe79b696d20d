"""One door to torchreid, so the package-index build and upstream source installs both work.

The package-index build (0.2.5) nests the toolbox under ``torchreid.reid`` and re-exports its
sub-packages as attributes; an upstream source install exposes them directly. Both provide the
attributes used here, so nothing in ``aitl_reid`` imports a torchreid sub-module path.
"""
from __future__ import annotations

import warnings
from typing import Any, Dict

# torchreid warns at import that its Cython ranking is unavailable. This package ranks with its own
# evaluate_rank (aitl_reid.metrics), so the notice only confuses; filtered here, where torchreid is
# imported, so that no entry point needs to repeat it.
warnings.filterwarnings("ignore", message="Cython evaluation", category=UserWarning)

import torchreid  # noqa: E402

models = torchreid.models
data = torchreid.data
engine = torchreid.engine
utils = torchreid.utils
metrics = torchreid.metrics
losses = torchreid.losses
optim = torchreid.optim


def video_dataset_registry() -> Dict[str, Any]:
    """torchreid's module-level dict of video datasets (name -> class)."""
    return getattr(data.datasets, "__video_datasets")


def model_factory() -> Dict[str, Any]:
    """torchreid's module-level dict of model builders (name -> callable)."""
    return getattr(models, "__model_factory")
