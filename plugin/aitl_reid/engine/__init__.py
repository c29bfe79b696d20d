"""The AITL engine (a torchreid ``Engine``), its builders, checkpoints and the per-epoch CSV log."""
from .aitl_engine import AITLEngine, IterationCap, NonFiniteLossError, TrackletFeatures
from .build import build_engine, engine_run_kwargs
from .checkpoint import CheckpointError, atomic_torch_save, load_checkpoint, resume, save_checkpoint
from .epoch_log import EpochLog
from .optim import build_optimizer, build_scheduler, lr_factor_fn, optimizer_kwargs

__all__ = [
    "AITLEngine", "IterationCap", "NonFiniteLossError", "TrackletFeatures", "build_engine", "engine_run_kwargs",
    "CheckpointError", "atomic_torch_save", "load_checkpoint", "resume", "save_checkpoint",
    "EpochLog", "build_optimizer", "build_scheduler", "lr_factor_fn", "optimizer_kwargs",
]
