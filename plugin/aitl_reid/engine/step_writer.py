"""Tensorboard scalars on one step axis: the optimizer steps taken, whatever step the caller passes.

torchreid logs ``Train/*`` at ``epoch * len(loader) + batch`` and ``Test/*`` at the epoch number,
two axes on which the steps of a killed run and of its resumed continuation cannot be told apart
(and the first is not even increasing when the epochs' lengths differ). On the optimizer-step
axis, a resumed run opens its writer with ``purge_step`` just after the checkpoint's step, and
tensorboard's reader drops everything the killed run wrote after the checkpoint.
"""
from __future__ import annotations

from typing import Any, Callable, Optional


class StepWriter:
    """Forwards ``add_scalar`` to a ``SummaryWriter`` at ``step()``; ``writer`` None writes nothing (ranks > 0)."""

    def __init__(self, writer: Optional[Any], step: Callable[[], int]) -> None:
        self.writer = writer
        self.step = step

    def add_scalar(self, tag: str, value: float, global_step: Optional[int] = None) -> None:
        if self.writer is not None:
            self.writer.add_scalar(tag, value, self.step())

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
