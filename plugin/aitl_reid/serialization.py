"""Loading torch files safely: ``weights_only=True`` with exactly the numpy types torchreid stores.

torchreid checkpoints keep metrics such as ``rank1`` as numpy scalars, which torch >= 2.6 refuses
under ``weights_only=True``; allowing these few types keeps pickles from running arbitrary code
while old checkpoints still load. Checkpoints and pretrained weights both read through here.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

try:  # numpy >= 2
    from numpy._core.multiarray import scalar as _numpy_scalar
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import scalar as _numpy_scalar

NUMPY_SAFE_GLOBALS = [_numpy_scalar, np.dtype] + [
    type(np.dtype(t)) for t in (np.float64, np.float32, np.float16, np.int64, np.int32, np.bool_)
]


def safe_torch_load(path: str) -> Any:
    """``torch.load`` on CPU with ``weights_only=True``; any failure becomes a ``ValueError`` naming ``path``."""
    try:
        with torch.serialization.safe_globals(NUMPY_SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt, truncated, not a torch file, or a disallowed pickle
        raise ValueError(f"cannot read {path}: {err}") from err
