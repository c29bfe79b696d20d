"""The AITL engine (a torchreid ``Engine``), its builders, checkpoints and the per-epoch CSV log."""
from .aitl_engine import CHECKPOINT_SAVED, AITLEngine, IterationCap, NonFiniteLossError, TrackletFeatures
from .build import build_engine, engine_run_kwargs, init_attribute_bias
from .checkpoint import (
    CheckpointError, atomic_torch_save, latest_complete_checkpoint, list_checkpoints, load_checkpoint, resume,
    run_dir_of, save_checkpoint,
)
from .epoch_log import EpochLog
from .optim import build_optimizer, build_scheduler, optimizer_kwargs

__all__ = [
    "CHECKPOINT_SAVED", "AITLEngine", "IterationCap", "NonFiniteLossError", "TrackletFeatures", "build_engine", "engine_run_kwargs", "init_attribute_bias",
    "CheckpointError", "atomic_torch_save", "latest_complete_checkpoint", "list_checkpoints", "load_checkpoint", "run_dir_of", "resume", "save_checkpoint",
    "EpochLog", "build_optimizer", "build_scheduler", "optimizer_kwargs",
]
