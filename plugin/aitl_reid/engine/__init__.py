"""The AITL engine (a torchreid ``Engine``), its builders, checkpoints and the per-epoch CSV log.

Checkpoint listing and loading live in :mod:`aitl_reid.run_folder` and evaluation's features in
:mod:`aitl_reid.evaluation` (both shared with inference and the figure tools); they are offered here too.
"""
from ..evaluation import TrackletFeatures
from ..run_folder import CheckpointError, latest_complete_checkpoint, list_checkpoints, load_checkpoint, run_dir_of
from .aitl_engine import CHECKPOINT_SAVED, AITLEngine, IterationCap, NonFiniteLossError, checkpoint_saved_line
from .build import build_engine, engine_run_kwargs, init_attribute_bias
from .checkpoint import atomic_torch_save, resume, save_checkpoint
from .epoch_log import EpochLog
from .optim import build_optimizer, build_scheduler, optimizer_kwargs

__all__ = [
    "CHECKPOINT_SAVED", "AITLEngine", "IterationCap", "NonFiniteLossError", "checkpoint_saved_line", "TrackletFeatures",
    "build_engine", "engine_run_kwargs", "init_attribute_bias",
    "CheckpointError", "atomic_torch_save", "latest_complete_checkpoint", "list_checkpoints", "load_checkpoint",
    "run_dir_of", "resume", "save_checkpoint", "EpochLog", "build_optimizer", "build_scheduler", "optimizer_kwargs",
]
