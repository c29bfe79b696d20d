"""Counting the reads that make the host wait for the device (host synchronisations), on any device.

On a GPU, ``torch.cuda.set_sync_debug_mode`` reports every synchronising call; a CPU has nothing to
wait for, yet the same code run there shows where a GPU would wait. :func:`count_host_syncs` counts,
on any device, the operations that synchronise on a GPU:

- a tensor's value read as a Python number (``item()``, ``float()``, ``int()``, ``bool()``, ``if t:``):
  ``aten._local_scalar_dense``, and the ops that return a Python value (``equal``, ``allclose``, ``is_nonzero``);
- ``Tensor.tolist()`` and ``Tensor.numpy()``, which read CPU memory without passing the dispatcher;
- a copy from another device to the CPU (``.cpu()``, ``.to("cpu")`` of a GPU tensor);
- operations whose output size depends on the values, which a GPU must report to the host first
  (``nonzero``, boolean-mask indexing, ``masked_select``, ``unique``, ``bincount``, ``repeat_interleave``
  without ``output_size``).

Each counted read keeps its operation and the first caller outside torch, so a test can say where a
read came from. Host-resident tensors read on purpose (torch's Adam keeps its step counter on the host
unless ``capturable``) are counted on a CPU as well: measure with an optimizer that keeps none (SGD).
"""
from __future__ import annotations

import contextlib
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, List, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten
_VALUE_READS = {aten._local_scalar_dense.default, aten.equal.default, aten.allclose.default, aten.is_nonzero.default}
_SIZE_FROM_VALUES = {
    aten.nonzero.default, aten.nonzero_numpy.default, aten.masked_select.default, aten._unique.default,
    aten._unique2.default, aten.unique_dim.default, aten.unique_consecutive.default, aten.bincount.default,
}
_PYTHON_READS = ("tolist", "numpy")
_TORCH_FILES = ("/torch/", "/bench/host_syncs.py", "/contextlib.py")


@dataclass
class SyncLog:
    """The host synchronisations counted so far: (operation, first caller outside torch) each."""

    events: List[Tuple[str, str]] = field(default_factory=list)
    inside_read: bool = False  # within a counted tolist()/numpy(), whose own copy to the CPU is the same read

    @property
    def count(self) -> int:
        return len(self.events)

    def record(self, operation: str) -> None:
        if not self.inside_read:
            self.events.append((operation, _caller()))


def _caller() -> str:
    """``file:line`` of the innermost frame outside torch (the code that asked for the read)."""
    for frame in reversed(traceback.extract_stack()):
        if not any(part in frame.filename for part in _TORCH_FILES):
            return f"{frame.filename}:{frame.lineno}"
    return "?"


def _is_sync(func: Any, args: Tuple[Any, ...], kwargs: dict) -> bool:
    """Whether the operation ``func(*args, **kwargs)`` makes the host wait for a GPU (see the module docstring)."""
    if func in _VALUE_READS or func in _SIZE_FROM_VALUES:
        return True
    if func in (aten.index.Tensor, aten.index_put.default, aten.index_put_.default):
        return any(isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8) for i in args[1] if i is not None)
    if func is aten.repeat_interleave.Tensor or func is aten.repeat_interleave.self_Tensor:
        return kwargs.get("output_size") is None
    if func is aten._to_copy.default:
        target = kwargs.get("device")
        return isinstance(args[0], torch.Tensor) and args[0].device.type != "cpu" and target is not None and \
            torch.device(target).type == "cpu"
    if func is aten.copy_.default:
        return args[0].device.type == "cpu" and args[1].device.type != "cpu"
    return False


class _SyncCounter(TorchDispatchMode):
    """Sees every operation torch dispatches, from Python or from inside torch, and logs the synchronising ones."""

    def __init__(self, log: SyncLog) -> None:
        super().__init__()
        self.log = log

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if _is_sync(func, args, kwargs):
            self.log.record(str(func))
        return func(*args, **kwargs)


@contextlib.contextmanager
def count_host_syncs() -> Iterator[SyncLog]:
    """Count the block's host synchronisations (see the module docstring) into the yielded :class:`SyncLog`."""
    log = SyncLog()
    originals = {name: getattr(torch.Tensor, name) for name in _PYTHON_READS}
    own = {name for name in _PYTHON_READS if name in vars(torch.Tensor)}

    def counted(name: str, original: Callable) -> Callable:
        def read(self: torch.Tensor, *args, **kwargs):
            log.record(f"Tensor.{name}")
            log.inside_read = True
            try:
                return original(self, *args, **kwargs)
            finally:
                log.inside_read = False
        return read

    for name, original in originals.items():
        setattr(torch.Tensor, name, counted(name, original))
    try:
        with _SyncCounter(log):
            yield log
    finally:
        for name, original in originals.items():
            if name in own:
                setattr(torch.Tensor, name, original)
            else:
                delattr(torch.Tensor, name)  # the method inherited from torch's C base class shows through again
