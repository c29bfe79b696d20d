"""One process or many: the process group under ``torchrun`` and the few collectives training needs.

``torchrun`` sets ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` in every process it starts; a plain
``python tools/main.py`` sets none and stays a single process with no process group at all. Every
helper here answers for a single process without touching ``torch.distributed``, so the rest of
the code asks ``rank()`` or ``is_main_process()`` instead of testing for a process group.
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Dict, Iterator, List, TypeVar

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn

TORCHRUN_VARIABLES = ("WORLD_SIZE", "RANK", "LOCAL_RANK")
T = TypeVar("T")


class RefusedOnMainProcess(ValueError):
    """Rank 0 refused to go on (bad input, a folder in use); the other ranks raise this with its message."""


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


def backend() -> str:
    """The process group's backend ("nccl", "gloo", ...), "" in a single process."""
    return str(dist.get_backend()) if is_distributed() else ""


def uses_nccl() -> bool:
    """Whether the processes talk through NCCL (GPUs). Then torch's own differentiable all-gather and SyncBatchNorm
    (CUDA kernels) serve; with gloo (CPUs), where torch offers neither, this plugin's serve (``all_gather_with_grad``,
    :mod:`aitl_reid.models.sync_batchnorm`)."""
    return backend() == "nccl"


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


def main_process_decides(decide: Callable[[], T]) -> T:
    """``decide()`` run by rank 0 alone (the only process that writes), its outcome shared: every rank returns its
    result, or every rank raises (rank 0 its ``ValueError``/``OSError``, the others :class:`RefusedOnMainProcess`
    with its message), so that no rank is left waiting on one that stopped. In one process, just ``decide()``."""
    if not is_distributed():
        return decide()
    result: Any = None
    refusal, error = "", None
    if is_main_process():
        try:
            result = decide()
        except (ValueError, OSError) as err:
            refusal, error = str(err) or type(err).__name__, err
    result, refusal = broadcast_object((result, refusal))
    if error is not None:
        raise error
    if refusal:
        raise RefusedOnMainProcess(refusal)
    return result


def all_gather_objects(obj: Any) -> List[Any]:
    """Every rank's ``obj``, in rank order (CPU objects such as per-shard test features)."""
    if not is_distributed():
        return [obj]
    gathered: List[Any] = [None] * world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def all_gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's ``tensor`` (same shape on all ranks) stacked along dim 0, gradients flowing back to each owner:
    the gradient each rank receives for its own rows is the sum over ranks of the gradients of their losses, as one
    process computing the global batch would get.

    Under NCCL, torch's differentiable ``all_gather`` (one gather of ``processes x`` the tensor). Elsewhere (gloo,
    whose all-gather torch does not differentiate), a sum of zero-padded copies, which needs only ``all_reduce``.
    """
    if not is_distributed():
        return tensor
    if uses_nccl():
        return torch.cat(dist_nn.all_gather(tensor.contiguous()))
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
    """Each number averaged over ranks, in one collective (a count of the epoch, for the log)."""
    if not is_distributed() or not values:
        return values
    names = sorted(values)
    tensor = torch.tensor([float(values[name]) for name in names], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(tensor)
    return {name: float(total) / world_size() for name, total in zip(names, tensor.tolist())}


def summed_to_host(tensor: torch.Tensor) -> List[float]:
    """The sum over ranks of a 1-D ``tensor`` (this rank's alone in one process), read by the host: one collective
    and one device-to-host transfer, the one place where a training step waits for the device."""
    if is_distributed():
        tensor = tensor.to(_collective_device())
        dist.all_reduce(tensor)
    return tensor.tolist()


def broadcast_state(module: torch.nn.Module) -> None:
    """Every parameter and buffer of ``module`` replaced by rank 0's (nothing in one process): what rank 0 holds is
    what its checkpoint saves. Without ``train.sync_bn`` each process's batch norm statistics follow its own batches,
    so this makes every process evaluate the saved model."""
    if not is_distributed():
        return
    with torch.no_grad():
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)
