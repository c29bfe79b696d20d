"""Checkpoints that survive a kill mid-write, load under ``torch.load(weights_only=True)`` and resume exactly.

torchreid writes checkpoints with a plain ``torch.save`` under the final name and stores numpy
scalars; here the file is written to a temporary name and renamed, and only tensors and plain
Python numbers are stored. A checkpoint holds everything the next epoch depends on (weights,
optimizer, scheduler, gradient scaler, random generator states, the ``metrics.csv`` rows so far),
so a run resumed from it repeats the run that was not interrupted. The files are
``<save_dir>/model/model.pth.tar-<epoch>`` (torchreid's naming); ``model.resume auto`` takes the
newest one that reads back completely. Weights-only loading of a model alone
(``model.load_weights``) is ``aitl_reid.models.load_weights``.
"""
from __future__ import annotations

import glob
import io
import os
import re
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

import torch
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from ..serialization import UntrustedFileError, atomic_write, safe_torch_load
from .rng_state import restore_rng_state

CHECKPOINT_DIR = "model"
_EPOCH = re.compile(r"^model\.pth\.tar-(\d+)$")


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable or does not fit the model."""


def atomic_torch_save(obj: Any, path: str) -> None:
    """Write ``obj`` to ``path`` so that ``path`` is either the old file or the complete new one.

    The bytes are built in memory first, so a failing disk shows as the ``OSError`` of a plain write
    (a ``WriteError`` naming the file) rather than as an error inside torch's zip writer.
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_write(path, "wb") as handle:
        handle.write(buffer.getbuffer())


def checkpoint_path(save_dir: str, epoch: int) -> str:
    """Where the checkpoint of ``epoch`` (1-based, completed epochs) of a run goes."""
    return os.path.join(save_dir, CHECKPOINT_DIR, f"model.pth.tar-{epoch}")


def run_dir_of(path: str) -> str:
    """The run folder (``data.save_dir``) a checkpoint file lies in: ``<run>/model/<file>``."""
    return os.path.dirname(os.path.dirname(os.path.abspath(path)))


def save_checkpoint(state: Dict[str, Any], save_dir: str, epoch: int) -> str:
    """Save ``state`` as ``<save_dir>/model/model.pth.tar-<epoch>`` atomically."""
    path = checkpoint_path(save_dir, epoch)
    atomic_torch_save(state, path)
    return path


def list_checkpoints(save_dir: str) -> Dict[int, str]:
    """``{epoch: path}`` of the checkpoints of a run; temporary files of an interrupted write are not listed."""
    found = {}
    for path in glob.glob(os.path.join(save_dir, CHECKPOINT_DIR, "model.pth.tar-*")):
        match = _EPOCH.match(os.path.basename(path))
        if match:
            found[int(match.group(1))] = path
    return found


def best_epoch(rows: Mapping[int, Mapping[str, float]], available: Iterable[int]) -> Optional[int]:
    """Among ``available`` epochs, the one with the highest ``mAP`` in the epoch log rows (the later on a tie)."""
    scored = [(rows[epoch]["mAP"], epoch) for epoch in available if "mAP" in rows.get(epoch, {})]
    return max(scored)[1] if scored else None


def prune_checkpoints(save_dir: str, keep: int, rows: Mapping[int, Mapping[str, float]]) -> None:
    """Delete all but the ``keep`` newest checkpoints; the best (by mAP) and the last are never deleted.

    ``keep`` 0 keeps every checkpoint.
    """
    available = list_checkpoints(save_dir)
    if keep <= 0 or len(available) <= keep:
        return
    newest = sorted(available, reverse=True)[:keep]
    protected = set(newest) | {max(available), best_epoch(rows, available)}
    for epoch, path in available.items():
        if epoch not in protected:
            os.remove(path)


def load_checkpoint(path: str) -> Dict[str, Any]:
    """A training checkpoint (``state_dict``, ``epoch``, ``optimizer``, ``scheduler``, ...) read safely."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        checkpoint = safe_torch_load(path)
    except ValueError as err:
        raise CheckpointError(str(err)) from err
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} holds no 'state_dict'; expected a checkpoint written by aitl-reid or torchreid")
    return checkpoint


def latest_complete_checkpoint(save_dir: str) -> Optional[Tuple[str, Dict[str, Any]]]:
    """The newest checkpoint of ``save_dir`` that reads back completely, with its content; None if there is none.

    Writes are atomic, so a newer unreadable file means damage after the write (a full disk, a copy
    cut short): it is reported and the next older one is tried. A file holding objects that could run
    code is not damage but something to look at: that stops the search.
    """
    for epoch, path in sorted(list_checkpoints(save_dir).items(), reverse=True):
        try:
            return path, load_checkpoint(path)
        except CheckpointError as err:
            if isinstance(err.__cause__, UntrustedFileError):
                raise
            print(f"warning: skipping checkpoint of epoch {epoch}: {err}")
    return None


def resume(source: str, model: torch.nn.Module, optimizer: Optional[torch.optim.Optimizer] = None,
           scheduler: Optional[Any] = None, checkpoint: Optional[Dict[str, Any]] = None) -> int:
    """Restore model, optimizer, scheduler and random generators from ``source``; return the epoch to start from.

    ``checkpoint`` is the file's content when the caller has read it already (``model.resume auto``).
    """
    checkpoint = load_checkpoint(source) if checkpoint is None else checkpoint
    state = dict(checkpoint["state_dict"])
    consume_prefix_in_state_dict_if_present(state, "module.")  # saved from nn.DataParallel
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{source} does not fit the model: {err}") from err
    try:
        if optimizer is not None and checkpoint.get("optimizer"):
            optimizer.load_state_dict(checkpoint["optimizer"])
        if scheduler is not None and checkpoint.get("scheduler"):
            scheduler.load_state_dict(checkpoint["scheduler"])
    except (KeyError, ValueError, TypeError) as err:
        raise CheckpointError(
            f"{source}: its optimizer or lr schedule state does not fit this run's ({type(err).__name__}: {err}); "
            "resume with the train.optim and train.lr_scheduler it was trained with, or start from its weights "
            "alone with model.load_weights"
        ) from err
    if checkpoint.get("rng"):
        restore_rng_state(checkpoint["rng"])
    epoch = int(checkpoint.get("epoch", 0))
    print(f"Resumed from {source} (next epoch {epoch + 1})")
    return epoch
