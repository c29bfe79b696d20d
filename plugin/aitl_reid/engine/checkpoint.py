"""Checkpoints that survive a kill mid-write, load under ``torch.load(weights_only=True)`` and resume exactly.

torchreid writes checkpoints with a plain ``torch.save`` under the final name and stores numpy
scalars; here the file is written to a temporary name and renamed, and only tensors and plain
Python numbers are stored. A checkpoint holds everything the next epoch depends on (weights,
optimizer, scheduler, gradient scaler, random generator states); ``metrics.csv`` keeps its own rows,
which a resumed run cuts after the checkpoint's epoch. :class:`RunCheckpoints` is a training run's
policy (how often, how many kept); where checkpoints lie, which one is the latest or the best, and
how pruning chooses is :mod:`aitl_reid.run_folder`. Weights-only
loading of a model alone (``model.load_weights``) is ``aitl_reid.models.load_weights``.
"""
from __future__ import annotations

import io
from typing import Any, Dict, Optional, Set

import torch

from ..run_folder import (CheckpointError, Rows, checkpoint_path, list_checkpoints, load_checkpoint, load_weights_into,
                          model_weights, prune_checkpoints, run_dir_of, same_path)
from ..serialization import atomic_write
from .rng_state import restore_rng_state


def atomic_torch_save(obj: Any, path: str) -> None:
    """Write ``obj`` to ``path`` so that ``path`` is either the old file or the complete new one.

    The bytes are built in memory first, so a failing disk shows as the ``OSError`` of a plain write
    (a ``WriteError`` naming the file) rather than as an error inside torch's zip writer.
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_write(path, "wb") as handle:
        handle.write(buffer.getbuffer())


def save_checkpoint(state: Dict[str, Any], save_dir: str, epoch: int) -> str:
    """Save ``state`` as ``<save_dir>/model/model.pth.tar-<epoch>`` atomically."""
    path = checkpoint_path(save_dir, epoch)
    atomic_torch_save(state, path)
    return path


class RunCheckpoints:
    """The checkpoint policy of one training run: a checkpoint every ``freq`` epochs, and after each the run's
    checkpoints beyond the ``keep`` newest deleted (0 keeps all), never its best (by mAP) or its last.

    Only checkpoints of this run are ever deleted: those it wrote, and, when it continues the run of its
    folder, those that run wrote up to the epoch it resumed from; another run's files (a folder holds one,
    ``run_folder.prepare_run_dir``) and later ones left by a run it replaced stay as they are.
    """

    def __init__(self, save_dir: str, freq: int = 1, keep: int = 0) -> None:
        if freq < 1:
            raise ValueError(f"train.checkpoint_freq must be at least 1 (epochs between checkpoints), got {freq}")
        if keep < 0:
            raise ValueError(f"train.keep_checkpoints must be 0 (keep all) or more, got {keep}")
        self.save_dir, self.freq, self.keep = save_dir, int(freq), int(keep)
        self.owned: Set[int] = set()

    def due(self, epoch: int) -> bool:
        """Whether completed epoch ``epoch`` gets a checkpoint by the frequency (evaluated epochs always do)."""
        return epoch % self.freq == 0

    def continue_from(self, source: str, epoch: int) -> None:
        """The run resumes from checkpoint ``source`` of ``epoch``: of its own folder, the checkpoints so far are its."""
        if same_path(run_dir_of(source), self.save_dir):
            self.owned = {e for e in list_checkpoints(self.save_dir) if e <= epoch}

    def save(self, state: Dict[str, Any], epoch: int, rows: Rows) -> str:
        """Write ``state`` as the checkpoint of ``epoch``, then prune by the epoch rows' mAP; returns its path."""
        path = save_checkpoint(state, self.save_dir, epoch)
        self.owned.add(epoch)
        self.owned.difference_update(prune_checkpoints(self.save_dir, self.keep, rows, self.owned))
        return path


def resume(source: str, model: torch.nn.Module, optimizer: Optional[torch.optim.Optimizer] = None,
           scheduler: Optional[Any] = None, checkpoint: Optional[Dict[str, Any]] = None) -> int:
    """Restore model, optimizer, scheduler and random generators from ``source``; return the epoch to start from.

    ``checkpoint`` is the file's content when the caller has read it already (``model.resume auto``).
    """
    checkpoint = load_checkpoint(source) if checkpoint is None else checkpoint
    load_weights_into(model, model_weights(checkpoint), source)
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
