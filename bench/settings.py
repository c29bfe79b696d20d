"""What every benchmark receives: mode, repetitions, loader workers and a scratch folder."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Settings:
    """``quick`` shrinks every problem so the whole run fits CI; ``runs`` timed pairs per row; ``before_rev`` the git
    revision the training-step row compares this tree with ("": its default, ``bench.step_syncs.BEFORE_REV``)."""

    quick: bool
    runs: int
    workers: int
    workdir: str
    log: Callable[[str], None] = print
    before_rev: str = ""
