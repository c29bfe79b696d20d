"""Progress bars for long work (training epochs, feature extraction, synthetic rendering, benchmarks).

Bars are drawn with tqdm on stderr, and only when both stdout and stderr are terminals: a run
whose output goes to a file, a pipe or a CI log shows no bar, and ``log.txt`` (a copy of stdout)
never holds one. ``AITL_REID_PROGRESS=1`` or ``0`` forces them on or off.
"""
from __future__ import annotations

import os
import sys
from typing import Callable, Iterable, Iterator, Optional, Sized, TypeVar

from tqdm import tqdm

T = TypeVar("T")
PROGRESS_ENV = "AITL_REID_PROGRESS"


def progress_enabled() -> bool:
    """Whether bars are drawn now: ``AITL_REID_PROGRESS`` if set, else stdout and stderr both terminals."""
    forced = os.environ.get(PROGRESS_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    return all(getattr(stream, "isatty", lambda: False)() for stream in (sys.stdout, sys.stderr))


def progress(iterable: Iterable[T], desc: str, total: Optional[int] = None, unit: str = "it") -> Iterator[T]:
    """``iterable`` with a bar that disappears when done; a plain pass-through when bars are off."""
    if not progress_enabled():
        return iter(iterable)
    return iter(tqdm(iterable, desc=desc, total=total, unit=unit, leave=False, file=sys.stderr, dynamic_ncols=True))


class ProgressLoader:
    """A data loader view that shows a bar while it is iterated; ``len`` and batches are the loader's.

    torchreid's ``Engine.train`` owns the epoch loop and iterates ``self.train_loader``, so wrapping
    the loader puts a bar on every epoch without changing that loop. ``describe`` gives the bar's
    label when an epoch starts (e.g. the epoch number).
    """

    def __init__(self, loader: Sized, describe: Callable[[], str], unit: str = "batch") -> None:
        self.loader = loader
        self.describe = describe
        self.unit = unit

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        return progress(self.loader, self.describe(), total=len(self.loader), unit=self.unit)
