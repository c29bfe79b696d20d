"""One process or many: the process group under ``torchrun`` and the few collectives training needs.

``torchrun`` sets ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` in every process it starts; a plain
``python tools/main.py`` sets none and stays a single process with no process group at all. Every
helper here answers for a single process without touching ``torch.distributed``, so the rest of
the code asks ``rank()`` or ``is_main_process()`` instead of testing for a process group.
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Dict, Iterator, List

import torch
import torch.distributed as dist

TORCHRUN_VARIABLES = ("WORLD_SIZE", "RANK", "LOCAL_RANK")


def launched_by_torchrun() -> bool:
    """Whether this process was started by ``torchrun`` (or another launcher setting its variables)."""
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def is_main_process() -> bool:
    """Rank 0, the one process that writes logs, metrics and checkpoints."""
    return rank() == 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0))


@contextlib.contextmanager
def process_group(use_gpu: bool) -> Iterator[None]:
    """Join ``torchrun``'s process group for the block (NCCL on GPUs, gloo on CPUs); nothing without ``torchrun``."""
    if not launched_by_torchrun() or is_distributed():
        yield
        return
    backend = "nccl" if use_gpu and torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend)
    try:
        yield
    finally:
        dist.destroy_process_group()


def device() -> torch.device:
    """Where this process computes: its own GPU under ``torchrun`` (``LOCAL_RANK``), else the first one."""
    return torch.device("cuda", local_rank()) if torch.cuda.is_available() else torch.device("cpu")


def _collective_device() -> torch.device:
    """Where a tensor made for a collective must live: NCCL reduces GPU tensors only, gloo CPU ones."""
    return device() if dist.get_backend() == "nccl" else torch.device("cpu")


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (e.g. which checkpoint to resume), so all ranks decide alike."""
    if not is_distributed():
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def all_gather_objects(obj: Any) -> List[Any]:
    """Every rank's ``obj``, in rank order (CPU objects such as per-shard test features)."""
    if not is_distributed():
        return [obj]
    gathered: List[Any] = [None] * world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def all_gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's ``tensor`` (same shape on all ranks) stacked along dim 0, gradients flowing back to each owner.

    Written as a sum of zero-padded copies so that it needs only ``all_reduce``, which every backend
    (gloo included) differentiates: the gradient each rank receives for its own rows is the sum over
    ranks of the gradients of their losses, as one process computing the global batch would get.
    """
    if not is_distributed():
        return tensor
    size, me = world_size(), rank()
    padded = tensor.new_zeros((size,) + tuple(tensor.shape))
    padded = padded.index_copy(0, torch.tensor([me], device=tensor.device), tensor.unsqueeze(0))
    total = sum_over_processes(padded)
    return total.reshape((size * tensor.shape[0],) + tuple(tensor.shape[1:]))


class _SumOverProcesses(torch.autograd.Function):
    """``all_reduce`` (sum) whose gradient is again the sum over processes of the incoming gradients."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return _summed_copy(tensor)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return _summed_copy(grad)


def _summed_copy(tensor: torch.Tensor) -> torch.Tensor:
    total = tensor.clone(memory_format=torch.contiguous_format)
    dist.all_reduce(total)
    return total


def sum_over_processes(tensor: torch.Tensor) -> torch.Tensor:
    """The sum of ``tensor`` over processes, differentiable (every backend, gloo included); ``tensor`` in one."""
    return _SumOverProcesses.apply(tensor) if is_distributed() else tensor


def all_gather_tensor(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's ``tensor`` (same shape everywhere) concatenated along dim 0, without gradient."""
    if not is_distributed():
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)


def mean_over_processes(values: Dict[str, float]) -> Dict[str, float]:
    """Each number averaged over ranks, in one collective (the loss terms and diagnostics of a step, for the log)."""
    if not is_distributed() or not values:
        return values
    names = sorted(values)
    tensor = torch.tensor([float(values[name]) for name in names], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(tensor)
    return {name: float(total) / world_size() for name, total in zip(names, tensor.tolist())}


def any_process(flag: bool) -> bool:
    """True on every rank when ``flag`` is True on any: a rank that must stop (a NaN loss) stops them all, no hang."""
    if not is_distributed():
        return flag
    tensor = torch.tensor([1 if flag else 0], device=_collective_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())
