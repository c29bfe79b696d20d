"""Reading and writing files safely.

Reading torch files: ``weights_only=True`` with exactly the numpy types torchreid stores.
torchreid checkpoints keep metrics such as ``rank1`` as numpy scalars, which torch >= 2.6 refuses
under ``weights_only=True``; allowing these few types keeps pickles from running arbitrary code
while old checkpoints still load. Checkpoints and pretrained weights both read through here.
A file torch refuses is then read statically (:mod:`.pickle_scan`, never executed) to tell a pickle that refers to
arbitrary Python callables (:class:`UntrustedFileError`) from a damaged or foreign file; neither
message repeats torch's advice to retry with ``weights_only=False``, which would run that code.

Reading text: :func:`read_text` turns a byte that does not decode into the caller's own error,
naming the file and line (attribute CSVs, MARS names files, configs).

Writing: :func:`atomic_write` leaves a file either as it was or complete (checkpoints, the epoch
log, the synthetic dataset's manifest), never half-written after a kill; :func:`write_csv` writes a
CSV that way with every cell passed through :func:`spreadsheet_safe`, so that a name taken from a
user's files (a tracklet folder, a video, a camera) never becomes a formula in a spreadsheet.
"""
from __future__ import annotations

import contextlib
import csv
import os
import pickle
import tempfile
import zipfile
from typing import IO, Any, Iterable, Iterator, Optional, Sequence, Set, Type

import numpy as np
import torch

from .pickle_scan import scan_pickles

try:  # numpy >= 2
    from numpy._core.multiarray import scalar as _numpy_scalar
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import scalar as _numpy_scalar

NUMPY_SAFE_GLOBALS = [_numpy_scalar, np.dtype] + [
    type(np.dtype(t)) for t in (np.float64, np.float32, np.float16, np.int64, np.int32, np.bool_)
]


class UntrustedFileError(ValueError):
    """A file whose pickle refers to Python callables or classes that loading would run; it is never loaded."""


def safe_torch_load(path: str) -> Any:
    """``torch.load`` on CPU with ``weights_only=True``; a refused file raises a ``ValueError`` naming ``path``.

    :class:`UntrustedFileError` (a ``ValueError``) when the pickle refers to objects that could run
    code, else ``ValueError("cannot read <path>: ...")`` (damaged, truncated, not a torch file).
    """
    with torch.serialization.safe_globals(NUMPY_SAFE_GLOBALS):
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:  # torch's text advises weights_only=False: replaced, not chained
            refusal = _refusal(path)
        except Exception as err:  # corrupt zip, truncated, empty, unreadable
            reason = str(err) or f"{type(err).__name__}: the file is empty or cut short"
            raise ValueError(f"cannot read {path}: {reason}") from err
    raise refusal from None


def _refusal(path: str) -> ValueError:
    """Why torch's weights-only unpickler refused ``path``, found by reading its pickles without running them."""
    try:
        scan = scan_pickles(path)
    except (OSError, zipfile.BadZipFile) as err:
        return ValueError(f"cannot read {path}: {err}")
    allowed = _weights_only_globals()
    unsafe = sorted(name for name in scan.globals if name not in allowed)
    if unsafe:
        shown = ", ".join(unsafe[:5]) + (f" and {len(unsafe) - 5} more" if len(unsafe) > 5 else "")
        return UntrustedFileError(
            f"{path} holds Python objects that could run code when loaded (it refers to {shown}), so it was "
            "not loaded. Use files only from sources you trust; to reuse trained weights, re-save just the "
            "tensors from code you trust (torch.save(model.state_dict(), 'weights.pth')) and load that file."
        )
    if scan.error:
        return ValueError(f"cannot read {path}: it is not a file written by torch.save, or it is damaged ({scan.error})")
    return ValueError(
        f"cannot read {path}: its pickle (protocol {scan.protocol}) uses instructions that safe loading does not "
        "accept; re-save it with torch.save and its default pickle protocol"
    )


def _weights_only_globals() -> Set[str]:
    """Names ``torch.load(weights_only=True)`` resolves now: torch's defaults and those marked safe.

    The same two private tables torch's public ``get_unsafe_globals_in_checkpoint`` reads; that
    function itself cannot be used, as it reads only zip files with protocol-2 pickles.
    """
    from torch import _weights_only_unpickler as unpickler

    return set(unpickler._get_allowed_globals()) | set(unpickler._get_user_allowed_globals())


def current_umask() -> int:
    """The process's umask, read without changing it where Linux tells it (``/proc/self/status``); elsewhere set and
    restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w", **open_kwargs: Any) -> Iterator[IO]:
    """Open a temporary file next to ``path`` for writing; on success it replaces ``path``, with the mode
    :func:`open` gives a new file (0666 less the umask), as every other file of a run has.

    ``mode`` is ``"w"`` or ``"wb"``; ``open_kwargs`` go to :func:`open` (``encoding``, ``newline``).
    If the block raises (or the process dies), ``path`` keeps its previous content and the
    temporary file is removed (or, after a kill, left under a ``.tmp-`` name).
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=directory)
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp's 0600 would set these files apart from the rest of a run's
    except OSError as err:
        raise WriteError(f"cannot write {path}: {err.strerror or err}", err.errno) from err
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(err, OSError) and not isinstance(err, WriteError):
            previous = "its previous content is unchanged" if os.path.exists(path) else "no partial file was left"
            raise WriteError(f"cannot write {path}: {err.strerror or err}; {previous}", err.errno) from err
        raise


def read_text(path: str, encoding: str, error: Type[Exception], hint: str) -> str:
    """The whole file decoded as ``encoding``; a byte that does not decode raises ``error`` naming its line."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        before = data[:err.start].decode(encoding, "replace")
        line = before.count("\n") + before.count("\r") - before.count("\r\n") + 1
        raise error(f"{path}, line {line}: byte {data[err.start]:#04x} is not {err.encoding} text; {hint}") from None


class WriteError(OSError):
    """A file could not be written (no space, no permission, read-only disk); the message names it."""

    def __init__(self, message: str, error_number: Optional[int] = None) -> None:
        super().__init__(message)
        self.errno = error_number


def ensure_writable_dir(path: str, key: str) -> None:
    """Fail at start-up, not after the first epoch, when the folder ``key`` names cannot be written.

    Writes and removes a probe file: permission bits alone say nothing for root or read-only mounts.
    """
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        raise WriteError(f"{key} '{path}' is not writable ({err.strerror or err}); give a folder this process can "
                         f"write with {key} PATH", err.errno) from err


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a CSV cell as a formula (OWASP, CSV injection)."""


def spreadsheet_safe(cell: Any) -> Any:
    """``cell`` unchanged, except text starting with one of :data:`FORMULA_STARTS`, which gets a leading ``'``
    (OWASP's advice against CSV injection). Numbers pass as they are: ``-0.5`` is a number, not a formula."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) and not _is_number(cell):
        return "'" + cell
    return cell


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_csv(path: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Write ``header`` and ``rows`` to ``path`` whole or not at all, every text cell made :func:`spreadsheet_safe`."""
    with atomic_write(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([spreadsheet_safe(c) for c in header])
        writer.writerows([spreadsheet_safe(c) for c in row] for row in rows)
    return path
