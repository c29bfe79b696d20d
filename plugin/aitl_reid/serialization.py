"""Reading and writing files safely.

Reading torch files: ``weights_only=True`` with exactly the numpy types torchreid stores.
torchreid checkpoints keep metrics such as ``rank1`` as numpy scalars, which torch >= 2.6 refuses
under ``weights_only=True``; allowing these few types keeps pickles from running arbitrary code
while old checkpoints still load. Checkpoints and pretrained weights both read through here.

Writing: :func:`atomic_write` leaves a file either as it was or complete (checkpoints, the epoch
log, the synthetic dataset's manifest), never half-written after a kill.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import IO, Any, Iterator

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


@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w", **open_kwargs: Any) -> Iterator[IO]:
    """Open a temporary file next to ``path`` for writing; on success it replaces ``path``.

    ``mode`` is ``"w"`` or ``"wb"``; ``open_kwargs`` go to :func:`open` (``encoding``, ``newline``).
    If the block raises (or the process dies), ``path`` keeps its previous content and the
    temporary file is removed (or, after a kill, left under a ``.tmp-`` name).
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=directory)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
