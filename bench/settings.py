"""What every benchmark receives: mode, repetitions, loader workers and a scratch folder."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Settings:
    """``quick`` shrinks every problem so the whole run fits CI; ``runs`` timed pairs per row; ``before_rev`` the git
    revision the training-step row compares this tree with ("": its default, ``bench.step_syncs.BEFORE_REV``);
    ``footage_run`` / ``footage_video`` the trained run and real video of the footage rows."""

    quick: bool
    runs: int
    workers: int
    workdir: str
    log: Callable[[str], None] = print
    before_rev: str = ""
    footage_run: str = ""  # a trained run for the footage rows (skipped without)
    footage_video: str = ""  # a real video for a second footage row

    @property
    def warmup(self) -> int:
        """Untimed rounds before the timed ones: none in quick mode, whose figures only prove the rows well formed
        (tracing a graph or filling a cache then falls in the one timed round)."""
        return 0 if self.quick else 1
