"""What every benchmark receives: mode, repetitions, loader workers and a scratch folder."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Settings:
    """``quick`` shrinks every problem so the whole run fits CI; ``runs`` timed pairs per row."""

    quick: bool
    runs: int
    workers: int
    workdir: str
    log: Callable[[str], None] = print
