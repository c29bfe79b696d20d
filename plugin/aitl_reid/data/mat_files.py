"""A strict reader of numeric matrices in MATLAB v5 ``.mat`` files (the format of MARS's metadata).

``scipy.io.loadmat`` crashes the interpreter (segmentation fault, bus error) on some damaged v5
files: its compiled reader trusts the type codes and sizes in the file. MARS needs one numeric
matrix per file, so this reader walks the file in Python, checks every tag, size and dimension
against the bytes actually there, and raises :class:`MatFileError` (naming the file, the offset and
what to do) for anything else. Files scipy writes (``savemat``, compressed or not) and MATLAB's
``save -v6``/``-v7`` files are read; the v4 and v7.3 (HDF5) formats are refused with a message.
"""
from __future__ import annotations

import struct
import zlib
from typing import Dict, Iterator, Tuple, Union

import numpy as np

from .file_checks import DatasetFileError, shorten

HEADER_BYTES = 128
MAX_DECOMPRESSED = 256 * 2**20  # refuse a compressed element that inflates beyond this (a zip bomb)
_MI_DTYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8"}
_MI_MATRIX, _MI_COMPRESSED, _MI_INT8, _MI_INT32, _MI_UINT32, _MI_UTF8 = 14, 15, 1, 5, 6, 16
_MX_NUMERIC = set(range(6, 16))  # double, single, int8 ... uint64 (logical arrays are uint8 with a flag)
_MX_NAMES = {1: "cell array", 2: "struct", 3: "object", 4: "char array", 5: "sparse matrix", 16: "function handle",
             17: "opaque object"}
_COMPLEX_FLAG = 0x800
_RESAVE = "save it with scipy.io.savemat or MATLAB's save -v7"


class MatFileError(DatasetFileError):
    """A ``.mat`` file cannot be read or does not hold the expected numeric matrix; names the file and variable."""


MatValue = Union[np.ndarray, str]  # a numeric matrix, or the kind of a variable that is not one


def read_mat_matrix(path: str, variable: str) -> np.ndarray:
    """The numeric matrix ``variable`` of a v5 ``.mat`` file, in its stored dtype and MATLAB (column-major) shape."""
    with open(path, "rb") as f:
        data = f.read()
    variables = _variables(path, data)
    if variable not in variables:
        raise MatFileError(f"{path}: no variable '{variable}' (found {sorted(variables)}); is this the right MARS file?")
    value = variables[variable]
    if isinstance(value, str):
        raise MatFileError(f"{path}: variable '{variable}' holds a {value}; expected a numeric matrix")
    return value


def _variables(path: str, data: bytes) -> Dict[str, MatValue]:
    """Every top-level variable: numeric matrices decoded, other kinds named."""
    if data[:4] == b"\x89HDF" or data[HEADER_BYTES:HEADER_BYTES + 4] == b"\x89HDF":
        raise MatFileError(f"{path}: a MATLAB v7.3 (HDF5) file, which is not supported; {_RESAVE}")
    if len(data) < HEADER_BYTES or data[126:128] not in (b"IM", b"MI"):
        raise MatFileError(f"{path}: not a MATLAB v5 .mat file (no v5 header; v4 files are not supported); {_RESAVE}")
    order = "<" if data[126:128] == b"IM" else ">"
    variables: Dict[str, MatValue] = {}
    for mdtype, body, offset in _elements(path, data, HEADER_BYTES, len(data), order):
        if mdtype == _MI_COMPRESSED:
            body = _inflate(path, body, offset)
            inner = list(_elements(path, body, 0, len(body), order, base=offset))
            if len(inner) != 1:
                raise MatFileError(f"{path}: compressed element at byte {offset} holds {len(inner)} elements, expected 1")
            mdtype, body, offset = inner[0]
        if mdtype != _MI_MATRIX:
            raise MatFileError(f"{path}: element at byte {offset} has type {mdtype}, expected a matrix (14)")
        name, value = _matrix(path, body, offset, order)
        variables[name] = value
    return variables


def _elements(path: str, data: bytes, start: int, end: int, order: str, base: int = 0) -> Iterator[Tuple[int, bytes, int]]:
    """``(type, bytes, offset)`` of each data element in ``data[start:end]``, sizes checked (8-byte padding skipped)."""
    position = start
    while position < end:
        offset = base + position
        if end - position < 8:
            raise MatFileError(f"{path}: truncated element tag at byte {offset}; {_RESAVE}")
        first, second = struct.unpack(order + "II", data[position:position + 8])
        if first >> 16:  # small data element: type and size in the first word, up to 4 bytes of data
            mdtype, size = first & 0xFFFF, first >> 16
            if size > 4:
                raise MatFileError(f"{path}: element at byte {offset} declares {size} bytes in a 4-byte small element")
            yield mdtype, data[position + 4:position + 4 + size], offset
            position += 8
            continue
        mdtype, size = first, second
        if size > end - position - 8:
            raise MatFileError(f"{path}: element at byte {offset} declares {size} bytes, only {end - position - 8} follow; "
                               f"the file is cut short or damaged")
        yield mdtype, data[position + 8:position + 8 + size], offset
        position += 8 + size
        if mdtype != _MI_COMPRESSED:
            position += -size % 8


def _inflate(path: str, body: bytes, offset: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(body, MAX_DECOMPRESSED)
    except zlib.error as err:
        raise MatFileError(f"{path}: compressed element at byte {offset} is damaged ({err})") from None
    if inflater.unconsumed_tail:
        raise MatFileError(f"{path}: compressed element at byte {offset} inflates beyond {MAX_DECOMPRESSED} bytes")
    return out


def _matrix(path: str, body: bytes, offset: int, order: str) -> Tuple[str, MatValue]:
    """``(name, value)`` of a matrix element: flags, dimensions, name, then (numeric classes) the real part."""
    parts = list(_elements(path, body, 0, len(body), order, base=offset + 8))
    where = f"{path}: matrix at byte {offset}"
    if len(parts) < 3 or parts[0][0] != _MI_UINT32 or len(parts[0][1]) != 8 or parts[1][0] != _MI_INT32:
        raise MatFileError(f"{where}: malformed header (array flags, dimensions, name expected); {_RESAVE}")
    flags = struct.unpack(order + "I", parts[0][1][:4])[0]
    mx_class = flags & 0xFF
    if len(parts[1][1]) % 4 or len(parts[1][1]) < 8:
        raise MatFileError(f"{where}: {len(parts[1][1])} bytes of dimensions; expected at least two 4-byte sizes")
    dims = np.frombuffer(parts[1][1], dtype=order + "i4")
    if parts[2][0] not in (_MI_INT8, _MI_UTF8):
        raise MatFileError(f"{where}: its name has type {parts[2][0]}, expected text")
    name = parts[2][1].decode("latin-1")
    if mx_class not in _MX_NUMERIC:
        return name, _MX_NAMES.get(mx_class, f"MATLAB class {mx_class}")
    if flags & _COMPLEX_FLAG:
        return name, "complex matrix"
    if (dims < 0).any():
        raise MatFileError(f"{where} ({shorten(name)}): negative dimension in {dims.tolist()}")
    count = int(np.prod(dims.astype(np.int64)))
    if len(parts) != 4 or parts[3][0] not in _MI_DTYPES:
        raise MatFileError(f"{where} ({shorten(name)}): expected one block of numbers after its name; {_RESAVE}")
    mdtype, raw, _ = parts[3]
    dtype = np.dtype(order + _MI_DTYPES[mdtype])
    if len(raw) != count * dtype.itemsize:
        raise MatFileError(f"{where} ({shorten(name)}): {len(raw)} bytes of data for {dims.tolist()} values of "
                           f"{dtype.itemsize} bytes; the file is damaged")
    return name, np.frombuffer(raw, dtype=dtype).reshape(dims.tolist(), order="F")
