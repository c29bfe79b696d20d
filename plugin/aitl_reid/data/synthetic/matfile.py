"""Write integer tables as MATLAB ``double`` variables stored in integer form, like the real MARS files.

MATLAB saves an integer-valued double matrix with a compact integer storage type; the real MARS
``info/*.mat`` files are class ``double`` (``scipy.io.whosmat``) holding int32 (track info) or
uint16 (``query_IDX``) data, and ``scipy.io.loadmat`` returns them as those integer arrays.
torchreid's own MARS loader slices frame names with the loaded values, which fails on float64,
so ``scipy.io.savemat`` of a float array would not reproduce the layout. This writer emits the
same encoding (MAT 5, zlib-compressed element, class double, integer data).
"""
from __future__ import annotations

import struct
import zlib

import numpy as np

_MI_INT8, _MI_UINT16, _MI_INT32, _MI_UINT32 = 1, 4, 5, 6
_MI_MATRIX, _MI_COMPRESSED = 14, 15
_MX_DOUBLE_CLASS = 6
_STORAGE = {np.dtype(np.int32): _MI_INT32, np.dtype(np.uint16): _MI_UINT16}
_HEADER_TEXT = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created by: aitl_reid synthetic MARS"


def _element(mi_type: int, payload: bytes) -> bytes:
    """A tagged data element padded to 8 bytes."""
    padding = (-len(payload)) % 8
    return struct.pack("<II", mi_type, len(payload)) + payload + b"\0" * padding


def _matrix(name: str, values: np.ndarray) -> bytes:
    rows, cols = values.shape
    body = (
        _element(_MI_UINT32, struct.pack("<II", _MX_DOUBLE_CLASS, 0))
        + _element(_MI_INT32, struct.pack("<ii", rows, cols))
        + _element(_MI_INT8, name.encode("ascii"))
        + _element(_STORAGE[values.dtype], values.astype(values.dtype.newbyteorder("<")).tobytes(order="F"))
    )
    return struct.pack("<II", _MI_MATRIX, len(body)) + body


def write_integer_double_mat(path: str, name: str, values: np.ndarray) -> None:
    """Save a 2-D integer array as MATLAB variable ``name`` of class double (int32 or uint16 storage)."""
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"{path}: variable '{name}' must be 2-D, got shape {values.shape}")
    if values.dtype not in _STORAGE:
        raise ValueError(f"{path}: variable '{name}' must be int32 or uint16, got {values.dtype}")
    header = _HEADER_TEXT.ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    compressed = zlib.compress(_matrix(name, values), 9)
    with open(path, "wb") as handle:
        handle.write(header + struct.pack("<II", _MI_COMPRESSED, len(compressed)) + compressed)
