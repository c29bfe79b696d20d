"""Checkpoints that survive a kill mid-write and load safely under ``torch.load(weights_only=True)``.

torchreid writes checkpoints with a plain ``torch.save`` under the final name and stores numpy
scalars, which torch >= 2.6 refuses to load by default; here the file is written to a temporary
name and renamed, and only tensors and plain Python numbers are stored.
"""
from __future__ import annotations

import os
import tempfile
from typing import Any, Dict, Optional

import numpy as np
import torch


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable or does not fit the model."""


def atomic_torch_save(obj: Any, path: str) -> None:
    """Write ``obj`` to ``path`` so that ``path`` is either the old file or the complete new one."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pth", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_checkpoint(state: Dict[str, Any], save_dir: str, epoch: int) -> str:
    """Save ``state`` as ``<save_dir>/model.pth.tar-<epoch>`` (torchreid's naming) atomically."""
    path = os.path.join(save_dir, f"model.pth.tar-{epoch}")
    atomic_torch_save(state, path)
    return path


def _numpy_scalar_globals() -> list:
    """The numpy types a torchreid checkpoint's ``rank1`` scalar needs to unpickle."""
    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import scalar
    return [scalar, np.dtype] + [type(np.dtype(t)) for t in (np.float64, np.float32, np.int64, np.int32)]


def load_checkpoint(path: str) -> Dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; numpy scalars of old torchreid files are allowed."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with torch.serialization.safe_globals(_numpy_scalar_globals()):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt, truncated or not a torch file
        raise CheckpointError(f"cannot read checkpoint {path}: {err}") from err
    if isinstance(checkpoint, dict) and "state_dict" not in checkpoint and all(
        isinstance(v, torch.Tensor) for v in checkpoint.values()
    ):
        checkpoint = {"state_dict": checkpoint}
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} holds no 'state_dict'; expected a checkpoint written by aitl-reid or torchreid")
    return checkpoint


def _strip_module_prefix(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    return {k[7:] if k.startswith("module.") else k: v for k, v in state_dict.items()}


def load_weights(model: torch.nn.Module, path: str) -> Dict[str, list]:
    """Copy matching weights from a checkpoint into ``model``; report what did not match.

    Shape mismatches (e.g. an identity classifier trained on another dataset) are skipped and
    reported, so weights can move between datasets.
    """
    state = _strip_module_prefix(load_checkpoint(path)["state_dict"])
    own = model.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    skipped = sorted(k for k in state if k in own and own[k].shape != state[k].shape)
    unexpected = sorted(k for k in state if k not in own)
    missing = sorted(k for k in own if k not in matched)
    if not matched:
        raise CheckpointError(f"{path}: no weight matches the model ({len(state)} keys in the file)")
    own.update(matched)
    model.load_state_dict(own)
    print(f"Loaded {len(matched)}/{len(own)} tensors from {path}")
    for label, keys in (("shape mismatch, skipped", skipped), ("not in model", unexpected), ("not in file", missing)):
        if keys:
            print(f"  {label} ({len(keys)}): {', '.join(keys[:8])}{' ...' if len(keys) > 8 else ''}")
    return {"missing": missing, "unexpected": unexpected, "skipped": skipped}


def resume(path: str, model: torch.nn.Module, optimizer: Optional[torch.optim.Optimizer] = None,
           scheduler: Optional[Any] = None) -> int:
    """Restore model, optimizer and scheduler; return the epoch to start from."""
    checkpoint = load_checkpoint(path)
    try:
        model.load_state_dict(_strip_module_prefix(checkpoint["state_dict"]))
    except RuntimeError as err:
        raise CheckpointError(f"{path} does not fit the model: {err}") from err
    if optimizer is not None and checkpoint.get("optimizer"):
        optimizer.load_state_dict(checkpoint["optimizer"])
    if scheduler is not None and checkpoint.get("scheduler"):
        scheduler.load_state_dict(checkpoint["scheduler"])
    epoch = int(checkpoint.get("epoch", 0))
    print(f"Resumed from {path} (next epoch {epoch + 1})")
    return epoch
