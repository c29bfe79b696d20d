"""Checkpoints that survive a kill mid-write and load under ``torch.load(weights_only=True)``.

torchreid writes checkpoints with a plain ``torch.save`` under the final name and stores numpy
scalars; here the file is written to a temporary name and renamed, and only tensors and plain
Python numbers are stored. Weights-only loading (``model.load_weights``) is
``aitl_reid.models.load_weights``.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional

import torch
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from ..serialization import atomic_write, safe_torch_load


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable or does not fit the model."""


def atomic_torch_save(obj: Any, path: str) -> None:
    """Write ``obj`` to ``path`` so that ``path`` is either the old file or the complete new one."""
    with atomic_write(path, "wb") as handle:
        torch.save(obj, handle)


def save_checkpoint(state: Dict[str, Any], save_dir: str, epoch: int) -> str:
    """Save ``state`` as ``<save_dir>/model.pth.tar-<epoch>`` (torchreid's naming) atomically."""
    path = os.path.join(save_dir, f"model.pth.tar-{epoch}")
    atomic_torch_save(state, path)
    return path


def load_checkpoint(path: str) -> Dict[str, Any]:
    """A training checkpoint (``state_dict``, ``epoch``, ``optimizer``, ``scheduler``) read safely."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        checkpoint = safe_torch_load(path)
    except ValueError as err:
        raise CheckpointError(str(err)) from err
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} holds no 'state_dict'; expected a checkpoint written by aitl-reid or torchreid")
    return checkpoint


def resume(path: str, model: torch.nn.Module, optimizer: Optional[torch.optim.Optimizer] = None,
           scheduler: Optional[Any] = None) -> int:
    """Restore model, optimizer and scheduler from ``path``; return the epoch to start from."""
    checkpoint = load_checkpoint(path)
    state = dict(checkpoint["state_dict"])
    consume_prefix_in_state_dict_if_present(state, "module.")  # saved from nn.DataParallel
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{path} does not fit the model: {err}") from err
    if optimizer is not None and checkpoint.get("optimizer"):
        optimizer.load_state_dict(checkpoint["optimizer"])
    if scheduler is not None and checkpoint.get("scheduler"):
        scheduler.load_state_dict(checkpoint["scheduler"])
    epoch = int(checkpoint.get("epoch", 0))
    print(f"Resumed from {path} (next epoch {epoch + 1})")
    return epoch
